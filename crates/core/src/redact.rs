//! Redaction: the document a viewer may see.
//!
//! Withheld means absent. A Bundle keeps only the entries the viewer may
//! see; `total` counts only what is returned and paging `link`s are
//! dropped (they echo search parameters and reveal how much there was). A
//! single resource that is withheld reads exactly like one that does not
//! exist.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::decide::{entries_of, Decisions, Request};
use crate::error::RedactError;
use crate::policy::Policy;

/// Limits on the work one request may cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record body accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// What redaction produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A document to return (possibly a Bundle with no entries).
    Document,
    /// The requested resource is withheld: answer as for one that does not exist.
    NotFound,
}

/// A redacted document and the decisions behind it.
#[derive(Debug, Clone)]
pub struct Redacted {
    pub outcome: Outcome,
    /// Compact JSON; for `NotFound`, a FHIR OperationOutcome.
    pub body: Vec<u8>,
    pub decisions: Decisions,
}

/// The OperationOutcome for a resource that is withheld or does not exist.
pub fn not_found_body() -> Vec<u8> {
    br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"Resource not found"}]}"#.to_vec()
}

impl Policy {
    /// Parses a FHIR JSON record, decides every entry and returns what the
    /// viewer may see. Every error means nothing is released.
    pub fn redact(
        &self,
        record: &[u8],
        request: &Request<'_>,
        limits: Limits,
    ) -> Result<Redacted, RedactError> {
        if record.len() > limits.max_bytes {
            return Err(RedactError::TooLarge {
                size: record.len(),
                limit: limits.max_bytes,
            });
        }
        let value = parse_record(record)?;
        self.redact_value(&value, request)
    }

    /// As [`Policy::redact`], for an already parsed record.
    pub fn redact_value(
        &self,
        value: &Value,
        request: &Request<'_>,
    ) -> Result<Redacted, RedactError> {
        let doc = value.as_object().ok_or_else(|| RedactError::Structure {
            path: "".into(),
            message: "expected a FHIR resource object".into(),
        })?;
        let (is_bundle, entries) = entries_of(doc)?;
        let decisions = self.decide_entries(&entries, request)?;
        if !is_bundle {
            return Ok(if decisions.allowed(0) {
                Redacted {
                    outcome: Outcome::Document,
                    body: to_json(value)?,
                    decisions,
                }
            } else {
                Redacted {
                    outcome: Outcome::NotFound,
                    body: not_found_body(),
                    decisions,
                }
            });
        }
        let mut out = Map::new();
        let mut kept = Vec::new();
        if let Some(Value::Array(items)) = doc.get("entry") {
            for (i, item) in items.iter().enumerate() {
                if decisions.allowed(i) {
                    kept.push(item.clone());
                }
            }
        }
        let matches = kept
            .iter()
            .filter(|e| {
                e.get("search")
                    .and_then(|s| s.get("mode"))
                    .and_then(Value::as_str)
                    != Some("include")
            })
            .count();
        for (key, v) in doc {
            match key.as_str() {
                "entry" | "link" => {}
                "total" => {
                    out.insert(key.clone(), Value::from(matches));
                }
                _ => {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
        if doc.contains_key("entry") || !kept.is_empty() {
            out.insert("entry".into(), Value::Array(kept));
        }
        Ok(Redacted {
            outcome: Outcome::Document,
            body: to_json(&Value::Object(out))?,
            decisions,
        })
    }
}

/// Parses record bytes as FHIR JSON, refusing XML and anything malformed.
pub fn parse_record(record: &[u8]) -> Result<Value, RedactError> {
    let body = record.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(record);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => {}
        Some(b'<') | None => return Err(RedactError::NotJson),
        Some(_) => return Err(RedactError::NotJson),
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.to_string().starts_with("recursion limit exceeded") {
            RedactError::TooDeep
        } else {
            RedactError::MalformedJson {
                line: e.line(),
                column: e.column(),
            }
        }
    })
}

fn to_json(v: &Value) -> Result<Vec<u8>, RedactError> {
    serde_json::to_vec(v).map_err(|_| RedactError::Structure {
        path: "".into(),
        message: "could not serialise".into(),
    })
}
