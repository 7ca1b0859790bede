//! Redaction: the document a viewer may see.
//!
//! Withheld means absent. A Bundle keeps only the entries the viewer may
//! see; `total` counts only what is returned and paging `link`s are
//! dropped (they echo search parameters and reveal how much there was). A
//! single resource that is withheld reads exactly like one that does not
//! exist.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::classify::Index;
use crate::decide::{entries_of, Decisions, EntryDecision, Request, Verdict};
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
    /// Parses a FHIR JSON record (or an HL7 v2 message), decides every
    /// entry and returns what the viewer may see. Every error means nothing
    /// is released.
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
        if crate::hl7v2::Message::sniff(record) {
            return self.redact_hl7v2(record, request);
        }
        let value = parse_record(record)?;
        self.redact_value(&value, request)
    }

    /// As [`Policy::redact`], for an already parsed FHIR record.
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
        let index = Index::new(&entries);
        let not_found = |decisions| Redacted {
            outcome: Outcome::NotFound,
            body: not_found_body(),
            decisions,
        };
        if !is_bundle {
            let (Some(res), Some(d)) = (
                doc.get("resourceType").map(|_| doc),
                decisions.entries.first(),
            ) else {
                return Ok(not_found(decisions));
            };
            if d.decision != Verdict::Allow {
                return Ok(not_found(decisions));
            }
            let clean = self.sanitise(res, d, &index, &decisions);
            return Ok(Redacted {
                outcome: Outcome::Document,
                body: to_json(&Value::Object(clean))?,
                decisions,
            });
        }
        // A document is its Composition: if that is withheld, so is the document.
        if doc.get("type").and_then(Value::as_str) == Some("document") && !decisions.allowed(0) {
            return Ok(not_found(decisions));
        }
        let mut kept = Vec::new();
        if let Some(Value::Array(items)) = doc.get("entry") {
            for (i, item) in items.iter().enumerate() {
                let (Some(d), Some(entry), Some(res)) = (
                    decisions
                        .entries
                        .get(i)
                        .filter(|d| d.decision == Verdict::Allow),
                    item.as_object(),
                    entries.get(i).and_then(|e| e.resource),
                ) else {
                    continue;
                };
                // Everything but the resource as it came; the resource as sanitised.
                let mut out_entry = Map::new();
                for (k, v) in entry {
                    if k == "resource" {
                        out_entry.insert(
                            k.clone(),
                            Value::Object(self.sanitise(res, d, &index, &decisions)),
                        );
                    } else {
                        out_entry.insert(k.clone(), v.clone());
                    }
                }
                kept.push(Value::Object(out_entry));
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
        let mut out = Map::new();
        for (key, v) in doc {
            match key.as_str() {
                // Paging links echo search parameters and say how much there was.
                "entry" | "link" => {}
                "total" => {
                    out.insert(key.clone(), Value::from(matches));
                }
                _ => {
                    out.insert(key.clone(), v.clone());
                }
            }
        }
        if !kept.is_empty() {
            out.insert("entry".into(), Value::Array(kept));
        }
        Ok(Redacted {
            outcome: Outcome::Document,
            body: to_json(&Value::Object(out))?,
            decisions,
        })
    }

    /// An allowed resource as the viewer sees it: withheld contained
    /// resources and references to withheld entries removed, `display` of
    /// references to anything not returned dropped (unless it names a
    /// person or place), masked free text removed, and narrative dropped
    /// wherever anything was removed, since it may repeat what was.
    fn sanitise(
        &self,
        res: &Map<String, Value>,
        d: &EntryDecision,
        index: &Index<'_>,
        decisions: &Decisions,
    ) -> Map<String, Value> {
        let mut out = res.clone();
        let mut modified = false;
        if !d.withheld_contained.is_empty() {
            if let Some(Value::Array(items)) = out.get_mut("contained") {
                items.retain(|c| {
                    let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
                    !d.withheld_contained.iter().any(|w| w == id)
                });
                if items.is_empty() {
                    out.shift_remove("contained");
                }
            }
            modified = true;
        }
        let list_items_before = list_len(&out);
        let pruner = Pruner {
            policy: self,
            index,
            decisions,
            mask: &d.mask,
        };
        for key in out.keys().cloned().collect::<Vec<_>>() {
            if key == "contained" || key == "text" {
                continue;
            }
            if let Some(v) = out.get_mut(&key) {
                let (action, changed) = pruner.prune(v, false, key.as_str(), 0);
                modified |= changed;
                if action == Action::Remove {
                    out.shift_remove(&key);
                    modified = true;
                }
            }
        }
        let masked = !d.mask.is_empty() && out.get("text").is_some_and(|t| pruner.masked_text(t));
        if modified || masked {
            out.shift_remove("text");
        }
        if self.document.redaction.signal_withheld && list_len(&out) < list_items_before {
            let sig = &self.document.redaction.signal;
            let ext = serde_json::json!({
                "url": sig.url,
                "valueCodeableConcept": {"coding": [{"system": sig.system, "code": sig.code, "display": sig.display}]}
            });
            match out.get_mut("extension") {
                Some(Value::Array(exts)) => exts.push(ext),
                _ => {
                    out.insert("extension".into(), Value::Array(vec![ext]));
                }
            }
        }
        out
    }
}

fn list_len(res: &Map<String, Value>) -> usize {
    if res.get("resourceType").and_then(Value::as_str) != Some("List") {
        return 0;
    }
    res.get("entry")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Keep,
    Remove,
}

/// The deepest a parsed record can be (serde_json's own limit) bounds this walk.
const MAX_DEPTH: usize = 256;

struct Pruner<'a> {
    policy: &'a Policy,
    index: &'a Index<'a>,
    decisions: &'a Decisions,
    mask: &'a [u16],
}

impl Pruner<'_> {
    /// Prunes `v` in place. Returns whether `v` itself must go (a reference
    /// to a withheld entry, or a backbone element in an array that held
    /// one), and whether anything inside changed.
    fn prune(&self, v: &mut Value, in_array: bool, key: &str, depth: usize) -> (Action, bool) {
        if depth > MAX_DEPTH {
            return (Action::Remove, true);
        }
        match v {
            Value::Object(map) => {
                let mut changed = false;
                if let Some(target) = map.get("reference").and_then(Value::as_str) {
                    if let Some(i) = self.index.position(target) {
                        if !self.decisions.allowed(i) {
                            return (Action::Remove, true);
                        }
                    } else if !target.starts_with('#') && map.contains_key("display") {
                        let directory = reference_type(target, map).is_some_and(|t| {
                            self.policy
                                .document
                                .redaction
                                .directory_types
                                .iter()
                                .any(|d| d == t)
                        });
                        if !directory {
                            map.shift_remove("display");
                            changed = true;
                        }
                    }
                }
                let mut removed_reference_child = false;
                for k in map.keys().cloned().collect::<Vec<_>>() {
                    if k == "text" && map.get(&k).is_some_and(|t| t.get("div").is_some()) {
                        continue;
                    }
                    let Some(child) = map.get_mut(&k) else {
                        continue;
                    };
                    let was_reference = child.get("reference").is_some();
                    let (action, c) = self.prune(child, false, &k, depth + 1);
                    changed |= c;
                    if action == Action::Remove {
                        map.shift_remove(&k);
                        changed = true;
                        removed_reference_child |= was_reference;
                    }
                }
                if changed && map.get("text").is_some_and(|t| t.get("div").is_some()) {
                    map.shift_remove("text");
                } else if !self.mask.is_empty()
                    && map.get("text").is_some_and(|t| self.masked_text(t))
                {
                    map.shift_remove("text");
                    changed = true;
                }
                if changed && map.is_empty() {
                    // An element left with nothing in it goes too.
                    return (Action::Remove, true);
                }
                if removed_reference_child && in_array {
                    // A backbone element (List.entry, Encounter.diagnosis, ...)
                    // whose reference went: the element goes with it.
                    return (Action::Remove, true);
                }
                (Action::Keep, changed)
            }
            Value::Array(items) => {
                let before = items.len();
                let mut changed = false;
                let mut keep = Vec::with_capacity(before);
                for mut item in std::mem::take(items) {
                    let (action, c) = self.prune(&mut item, true, key, depth + 1);
                    changed |= c;
                    if action == Action::Keep {
                        keep.push(item);
                    }
                }
                *items = keep;
                if items.is_empty() && before > 0 {
                    return (Action::Remove, true);
                }
                (Action::Keep, changed || items.len() != before)
            }
            Value::String(text)
                if !self.mask.is_empty() && !self.policy.skip_text.contains(key) =>
            {
                let mut hits = Vec::new();
                self.policy.terms.find_into(text, &mut hits);
                if hits.iter().any(|h| self.mask.contains(h)) {
                    (Action::Remove, true)
                } else {
                    (Action::Keep, false)
                }
            }
            _ => (Action::Keep, false),
        }
    }

    fn masked_text(&self, text: &Value) -> bool {
        let div = text.get("div").and_then(Value::as_str).unwrap_or_default();
        let mut hits = Vec::new();
        self.policy.terms.find_into(div, &mut hits);
        hits.iter().any(|h| self.mask.contains(h))
    }
}

/// The resource type a reference points at, if it can be told.
fn reference_type<'a>(target: &'a str, reference: &'a Map<String, Value>) -> Option<&'a str> {
    if let Some(t) = reference.get("type").and_then(Value::as_str) {
        return Some(t);
    }
    let path = target.split('?').next().unwrap_or_default();
    if target.contains('?') {
        return path.rsplit('/').next();
    }
    crate::classify::normalise_reference(target).and_then(|r| r.split('/').next())
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
