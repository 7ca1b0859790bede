//! Redaction: the document a viewer may see.
//!
//! Withheld means absent. A Bundle keeps only the entries the viewer may
//! see; `total` counts only what is returned and paging `link`s are
//! dropped (they echo search parameters and reveal how much there was). A
//! single resource that is withheld reads exactly like one that does not
//! exist.

use serde::Serialize;

use crate::json::{self, Map, Value};

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

fn parse_error(e: json::ParseError) -> RedactError {
    match e {
        json::ParseError::TooDeep => RedactError::TooDeep,
        json::ParseError::Syntax(e) => RedactError::MalformedJson {
            line: e.line(),
            column: e.column(),
        },
    }
}

pub(crate) fn not_an_object() -> RedactError {
    RedactError::Structure {
        path: "".into(),
        message: "expected a FHIR resource object".into(),
    }
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
        let tree = parse_tree(record)?;
        self.redact_parsed(&tree, request)
    }

    /// As [`Policy::redact`], for a record already parsed by [`parse_tree`]
    /// (the edge reads the patient and audit facts from the same tree).
    pub fn redact_parsed(
        &self,
        record: &Value<'_>,
        request: &Request<'_>,
    ) -> Result<Redacted, RedactError> {
        let doc = record.as_object().ok_or_else(not_an_object)?;
        self.redact_tree(doc, request)
    }

    /// As [`Policy::redact`], for an already parsed FHIR record.
    pub fn redact_value(
        &self,
        value: &serde_json::Value,
        request: &Request<'_>,
    ) -> Result<Redacted, RedactError> {
        let doc = value.as_object().ok_or_else(not_an_object)?;
        self.redact_tree(&Map::from_serde(doc), request)
    }

    fn redact_tree(&self, doc: &Map<'_>, request: &Request<'_>) -> Result<Redacted, RedactError> {
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
            let mut body = Vec::new();
            match self.sanitise(res, d, &index, &decisions) {
                Some(clean) => clean.write(&mut body),
                None => res.write(&mut body),
            }
            return Ok(Redacted {
                outcome: Outcome::Document,
                body,
                decisions,
            });
        }
        // A document is its Composition: if that is withheld, so is the document.
        if doc.get("type").and_then(Value::as_str) == Some("document") && !decisions.allowed(0) {
            return Ok(not_found(decisions));
        }
        let items = doc
            .get("entry")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Each kept entry, with its resource as sanitised if anything changed.
        let mut kept = Vec::new();
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
            kept.push((entry, self.sanitise(res, d, &index, &decisions)));
        }
        let matches = kept
            .iter()
            .filter(|(e, _)| {
                e.get("search")
                    .and_then(|s| s.get("mode"))
                    .and_then(Value::as_str)
                    != Some("include")
            })
            .count();
        let mut body = Vec::new();
        body.push(b'{');
        let mut first = true;
        let mut member = |body: &mut Vec<u8>, key: &str| {
            if !std::mem::take(&mut first) {
                body.push(b',');
            }
            json::write_str(key, body);
            body.push(b':');
        };
        for (key, v) in doc.iter() {
            match key {
                // Paging links echo search parameters and say how much there was.
                "entry" | "link" => {}
                "total" => {
                    member(&mut body, key);
                    body.extend_from_slice(matches.to_string().as_bytes());
                }
                "resourceType" | "id" | "type" | "timestamp" => {
                    member(&mut body, key);
                    v.write(&mut body);
                }
                // The Bundle's own metadata, unless it names an excluded
                // category; any other member is not understood, so it goes.
                "meta" | "identifier" | "signature" | "implicitRules" | "language"
                    if !self.names_an_exclusion(key, v) =>
                {
                    member(&mut body, key);
                    v.write(&mut body);
                }
                _ => {}
            }
        }
        if !kept.is_empty() {
            member(&mut body, "entry");
            body.push(b'[');
            for (n, (entry, clean)) in kept.iter().enumerate() {
                if n > 0 {
                    body.push(b',');
                }
                // The entry's `fullUrl`, its search mode and score, and the
                // resource (as sanitised if anything changed). A transaction's
                // `request` or `response` (which may hold an OperationOutcome)
                // and anything else on the entry do not go.
                body.push(b'{');
                let mut first_member = true;
                for (k, v) in entry.iter() {
                    let kept_search;
                    let value = match (k, v) {
                        ("fullUrl", Value::String(_)) => v,
                        ("resource", _) => v,
                        ("search", Value::Object(search)) => {
                            let members = search
                                .iter()
                                .filter(|(sk, sv)| {
                                    matches!(
                                        (*sk, sv),
                                        ("mode", Value::String(_)) | ("score", Value::Number(_))
                                    )
                                })
                                .map(|(sk, sv)| (std::borrow::Cow::Borrowed(sk), sv.clone()))
                                .collect();
                            kept_search = Value::Object(Map::from_members(members));
                            &kept_search
                        }
                        _ => continue,
                    };
                    if !std::mem::take(&mut first_member) {
                        body.push(b',');
                    }
                    json::write_str(k, &mut body);
                    body.push(b':');
                    match (k, clean) {
                        ("resource", Some(clean)) => clean.write(&mut body),
                        _ => value.write(&mut body),
                    }
                }
                body.push(b'}');
            }
            body.push(b']');
        }
        body.push(b'}');
        Ok(Redacted {
            outcome: Outcome::Document,
            body,
            decisions,
        })
    }

    /// Whether a member of a Bundle outside its entries names an exclusion
    /// category (a code, a term, a security label).
    fn names_an_exclusion(&self, key: &str, v: &Value<'_>) -> bool {
        let member = Map::from_members(vec![(std::borrow::Cow::Borrowed(key), v.clone())]);
        let s = self.sensitivity(&member);
        !s.codes.is_empty() || !s.text.is_empty() || !s.labels.is_empty() || s.withhold_label
    }

    /// An allowed resource as the viewer sees it, or `None` if it is seen
    /// as it is: withheld contained resources and references to withheld
    /// entries removed, `display` of references to anything not returned
    /// dropped (unless it names a person or place), masked free text
    /// removed, and narrative dropped wherever anything was removed, since
    /// it may repeat what was.
    fn sanitise<'a>(
        &self,
        res: &Map<'a>,
        d: &EntryDecision,
        index: &Index<'_>,
        decisions: &Decisions,
    ) -> Option<Map<'a>> {
        let pruner = Pruner {
            policy: self,
            index,
            decisions,
            mask: &d.mask,
        };
        let masked = !d.mask.is_empty() && res.get("text").is_some_and(|t| pruner.masked_text(t));
        let untouched = d.withheld_contained.is_empty()
            && !masked
            && !res
                .iter()
                .filter(|(k, _)| *k != "contained" && *k != "text")
                .any(|(k, v)| pruner.changes(v, k, 0));
        if untouched {
            return None;
        }
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
        out.retain(|key, v| {
            if key == "contained" || key == "text" {
                return true;
            }
            let (action, changed) = pruner.prune(v, false, key, 0);
            modified |= changed || action == Action::Remove;
            action == Action::Keep
        });
        if modified || masked {
            out.shift_remove("text");
        }
        if self.document.redaction.signal_withheld && list_len(&out) < list_items_before {
            let sig = &self.document.redaction.signal;
            let text = |s: &str| Value::String(s.to_owned().into());
            let coding = Map::from_members(vec![
                ("system".into(), text(&sig.system)),
                ("code".into(), text(&sig.code)),
                ("display".into(), text(&sig.display)),
            ]);
            let ext = Value::Object(Map::from_members(vec![
                ("url".into(), text(&sig.url)),
                (
                    "valueCodeableConcept".into(),
                    Value::Object(Map::from_members(vec![(
                        "coding".into(),
                        Value::Array(vec![Value::Object(coding)]),
                    )])),
                ),
            ]));
            match out.get_mut("extension") {
                Some(Value::Array(exts)) => exts.push(ext),
                _ => {
                    out.insert("extension", Value::Array(vec![ext]));
                }
            }
        }
        Some(out)
    }
}

fn list_len(res: &Map) -> usize {
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

/// What becomes of an object that has a `reference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReferenceAction {
    Keep,
    /// It points at a withheld entry.
    Remove,
    /// It points at nothing returned, and its `display` names no person or place.
    DropDisplay,
}

impl Pruner<'_> {
    fn reference_action(&self, map: &Map<'_>) -> ReferenceAction {
        let Some(target) = map.get("reference").and_then(Value::as_str) else {
            return ReferenceAction::Keep;
        };
        if let Some(i) = self.index.position(target) {
            if !self.decisions.allowed(i) {
                return ReferenceAction::Remove;
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
                return ReferenceAction::DropDisplay;
            }
        }
        ReferenceAction::Keep
    }

    fn masked_string(&self, key: &str, text: &str) -> bool {
        if self.mask.is_empty() || self.policy.skip_text.contains(key) {
            return false;
        }
        let mut hits = Vec::new();
        self.policy.terms.find_into(text, &mut hits);
        hits.iter().any(|h| self.mask.contains(h))
    }

    /// Whether [`Pruner::prune`] would change anything in `v`.
    fn changes(&self, v: &Value<'_>, key: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return true;
        }
        match v {
            Value::Object(map) => {
                self.reference_action(map) != ReferenceAction::Keep
                    || map.iter().any(|(k, child)| {
                        !(k == "text" && child.get("div").is_some())
                            && self.changes(child, k, depth + 1)
                    })
                    || (!self.mask.is_empty()
                        && map.get("text").is_some_and(|t| self.masked_text(t)))
            }
            Value::Array(items) => items.iter().any(|i| self.changes(i, key, depth + 1)),
            Value::String(text) => self.masked_string(key, text),
            _ => false,
        }
    }

    /// Prunes `v` in place. Returns whether `v` itself must go (a reference
    /// to a withheld entry, or a backbone element in an array that held
    /// one), and whether anything inside changed.
    fn prune(&self, v: &mut Value<'_>, in_array: bool, key: &str, depth: usize) -> (Action, bool) {
        if depth > MAX_DEPTH {
            return (Action::Remove, true);
        }
        match v {
            Value::Object(map) => {
                let mut changed = false;
                match self.reference_action(map) {
                    ReferenceAction::Remove => return (Action::Remove, true),
                    ReferenceAction::DropDisplay => {
                        map.shift_remove("display");
                        changed = true;
                    }
                    ReferenceAction::Keep => {}
                }
                let mut removed_reference_child = false;
                map.retain(|k, child| {
                    if k == "text" && child.get("div").is_some() {
                        return true;
                    }
                    let was_reference = child.get("reference").is_some();
                    let (action, c) = self.prune(child, false, k, depth + 1);
                    changed |= c;
                    if action == Action::Remove {
                        changed = true;
                        removed_reference_child |= was_reference;
                    }
                    action == Action::Keep
                });
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
            Value::String(text) if self.masked_string(key, text) => (Action::Remove, true),
            _ => (Action::Keep, false),
        }
    }

    fn masked_text(&self, text: &Value<'_>) -> bool {
        let div = text.get("div").and_then(Value::as_str).unwrap_or_default();
        let mut hits = Vec::new();
        self.policy.terms.find_into(div, &mut hits);
        hits.iter().any(|h| self.mask.contains(h))
    }
}

/// The resource type a reference points at, if it can be told.
fn reference_type<'a>(target: &'a str, reference: &'a Map<'a>) -> Option<&'a str> {
    if let Some(t) = reference.get("type").and_then(Value::as_str) {
        return Some(t);
    }
    let path = target.split('?').next().unwrap_or_default();
    if target.contains('?') {
        return path.rsplit('/').next();
    }
    crate::classify::normalise_reference(target).and_then(|r| r.split('/').next())
}

/// Parses record bytes as FHIR JSON into the record tree redaction reads
/// (see [`crate::json`]), refusing XML and anything malformed. Strings are
/// borrowed from `record`.
pub fn parse_tree(record: &[u8]) -> Result<Value<'_>, RedactError> {
    let body = json_body(record)?;
    match std::str::from_utf8(body) {
        Ok(text) => json::parse(text).map_err(parse_error),
        // serde_json names the line and column of what is not UTF-8.
        Err(_) => Err(parse_record(record).err().unwrap_or(RedactError::NotJson)),
    }
}

/// Parses record bytes as FHIR JSON, refusing XML and anything malformed.
pub fn parse_record(record: &[u8]) -> Result<serde_json::Value, RedactError> {
    serde_json::from_slice(json_body(record)?).map_err(|e| {
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

/// The record without a byte order mark, if it can be JSON at all.
fn json_body(record: &[u8]) -> Result<&[u8], RedactError> {
    let body = record.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(record);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(body),
        _ => Err(RedactError::NotJson),
    }
}
