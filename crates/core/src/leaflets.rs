//! Leaflets and videos matched to the person's conditions (issue 7).
//!
//! The catalogue (`crates/core/leaflets/catalogue.json`) is written for
//! this project: each entry has a title, a plain-English summary, who it is
//! for, the codes it applies to, signs to look out for and who to contact.
//! Codes are written as the policy writes Appendix 1 (Read v2 with or
//! without dot padding, SNOMED CT, a trailing `%` for a code and everything
//! below it) and compiled once into the same [`CodeMatcher`] the policy
//! uses for exclusions: one exact set and one map of `%` stems.
//!
//! [`Leaflets::matching`] reads codes only from the record it is given, so
//! the caller passes the record as the viewer received it (redacted): a
//! leaflet never hints at an entry the viewer was not shown.
//!
//! ```
//! use tiergate_core::leaflets::Leaflets;
//!
//! let leaflets = Leaflets::default_catalogue()?;
//! let record = serde_json::json!({"resourceType": "Condition", "id": "c1",
//!     "code": {"coding": [{"system": "http://read.info/readv2", "code": "C10F."}]}});
//! let ids: Vec<&str> = leaflets.matching(&record).iter().map(|l| l.id.as_str()).collect();
//! assert_eq!(ids, ["type-2-diabetes"]);
//! # Ok::<(), tiergate_core::leaflets::LeafletError>(())
//! ```

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codes::{parse_pattern, CodeMatcher};
use crate::error::Problem;

/// The catalogue the project ships.
pub const DEFAULT_CATALOGUE_JSON: &str = include_str!("../leaflets/catalogue.json");

/// Most leaflets a catalogue may hold (values are `u16`).
const MAX_LEAFLETS: usize = 4096;

/// The catalogue document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueDocument {
    pub catalogue: CatalogueMeta,
    /// Code systems whose codings are matched; others are ignored.
    pub systems: Vec<String>,
    pub leaflets: Vec<Leaflet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueMeta {
    pub id: String,
    pub version: String,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One leaflet or video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leaflet {
    pub id: String,
    pub title: String,
    /// `leaflet` or `video`.
    pub kind: String,
    pub summary: String,
    pub for_whom: String,
    /// Codes it applies to; `%` ends a stem.
    pub codes: Vec<String>,
    pub signs_to_look_out_for: Vec<String>,
    pub who_to_contact: Vec<String>,
}

/// A catalogue that does not validate: every problem with its JSON pointer
/// and the leaflet id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("leaflet catalogue is invalid: {} problem(s), first {}", .problems.len(), first(.problems))]
pub struct LeafletError {
    pub problems: Vec<Problem>,
}

fn first(problems: &[Problem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A compiled catalogue. Build it once per process or isolate.
#[derive(Debug, Clone)]
pub struct Leaflets {
    leaflets: Vec<Leaflet>,
    systems: HashSet<String>,
    matcher: CodeMatcher,
}

/// Elements of a resource whose codings say what it is about.
const CODE_ELEMENTS: [&str; 3] = ["code", "vaccineCode", "reasonCode"];

impl Leaflets {
    /// Compiles the catalogue the project ships.
    pub fn default_catalogue() -> Result<Self, LeafletError> {
        Self::from_json(DEFAULT_CATALOGUE_JSON.as_bytes())
    }

    /// Parses, validates and compiles a catalogue.
    pub fn from_json(bytes: &[u8]) -> Result<Self, LeafletError> {
        let doc: CatalogueDocument = crate::shape::from_slice(bytes).map_err(|e| LeafletError {
            problems: vec![Problem::new(e.path, e.message)],
        })?;
        Self::compile(doc)
    }

    fn compile(doc: CatalogueDocument) -> Result<Self, LeafletError> {
        let mut problems = Vec::new();
        if doc.systems.is_empty() {
            problems.push(Problem::new("/systems", "no code systems"));
        }
        if doc.leaflets.len() > MAX_LEAFLETS {
            problems.push(Problem::new("/leaflets", "more than 4096 leaflets"));
        }
        let mut ids = HashSet::new();
        let mut patterns = Vec::new();
        for (i, l) in doc.leaflets.iter().enumerate() {
            let base = format!("/leaflets/{i}");
            let mut problem = |path: String, message: String| {
                problems.push(Problem::new(path, message).in_rule(&l.id));
            };
            if l.id.trim().is_empty() {
                problem(format!("{base}/id"), "empty id".into());
            } else if !ids.insert(l.id.as_str()) {
                problem(format!("{base}/id"), format!("duplicate id `{}`", l.id));
            }
            for (key, text) in [
                ("title", &l.title),
                ("summary", &l.summary),
                ("for_whom", &l.for_whom),
            ] {
                if text.trim().is_empty() {
                    problem(format!("{base}/{key}"), "empty".into());
                }
            }
            if l.kind != "leaflet" && l.kind != "video" {
                problem(
                    format!("{base}/kind"),
                    "expected `leaflet` or `video`".into(),
                );
            }
            for (key, list) in [
                ("codes", &l.codes),
                ("signs_to_look_out_for", &l.signs_to_look_out_for),
                ("who_to_contact", &l.who_to_contact),
            ] {
                if list.is_empty() {
                    problem(format!("{base}/{key}"), "empty list".into());
                }
                for (j, item) in list.iter().enumerate() {
                    if item.trim().is_empty() {
                        problem(format!("{base}/{key}/{j}"), "empty".into());
                    }
                }
            }
            let Ok(value) = u16::try_from(i) else {
                continue;
            };
            let mut seen = HashSet::new();
            for (j, code) in l.codes.iter().enumerate() {
                match parse_pattern(code) {
                    Ok(p) => {
                        if !seen.insert(p.clone()) {
                            problem(
                                format!("{base}/codes/{j}"),
                                format!("duplicate code `{code}`"),
                            );
                        }
                        patterns.push((p, value));
                    }
                    Err(msg) => problem(format!("{base}/codes/{j}"), msg.into()),
                }
            }
        }
        let matcher = CodeMatcher::build(patterns);
        if matcher.is_broken() {
            problems.push(Problem::new(
                "/leaflets",
                "could not build the code automaton",
            ));
        }
        if !problems.is_empty() {
            return Err(LeafletError { problems });
        }
        Ok(Self {
            systems: doc.systems.into_iter().collect(),
            leaflets: doc.leaflets,
            matcher,
        })
    }

    /// Every leaflet, in catalogue order.
    pub fn all(&self) -> &[Leaflet] {
        &self.leaflets
    }

    /// The leaflets whose codes match a code in the record (a resource or a
    /// Bundle of them), in catalogue order. Only `code`, `vaccineCode` and
    /// `reasonCode` of each resource are read, only in the catalogue's code
    /// systems. Pass the record as the viewer received it.
    pub fn matching(&self, record: &Value) -> Vec<&Leaflet> {
        let mut hits: Vec<u16> = Vec::new();
        for res in crate::reminders::resources(record) {
            for key in CODE_ELEMENTS {
                let concepts: Vec<&Value> = match res.get(key) {
                    Some(Value::Array(items)) => items.iter().collect(),
                    Some(v @ Value::Object(_)) => vec![v],
                    _ => Vec::new(),
                };
                for coding in concepts
                    .into_iter()
                    .filter_map(|c| c.get("coding").and_then(Value::as_array))
                    .flatten()
                {
                    let system = coding.get("system").and_then(Value::as_str);
                    let code = coding.get("code").and_then(Value::as_str);
                    if let (Some(system), Some(code)) = (system, code) {
                        if self.systems.contains(system) {
                            self.matcher.matches_into(code, &mut hits);
                        }
                    }
                }
            }
        }
        hits.sort_unstable();
        hits.dedup();
        hits.iter()
            .filter_map(|i| self.leaflets.get(usize::from(*i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn ids(l: &[&Leaflet]) -> Vec<String> {
        l.iter().map(|l| l.id.clone()).collect()
    }

    fn condition(system: &str, code: &str) -> Value {
        json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Condition", "id": "c",
              "code": {"coding": [{"system": system, "code": code}]}}}]})
    }

    #[test]
    fn the_shipped_catalogue_validates() {
        let l = Leaflets::default_catalogue().unwrap();
        assert!(l.all().len() >= 12);
        assert!(l.all().iter().any(|x| x.kind == "video"));
    }

    #[test]
    fn matches_exact_codes_ignoring_dot_padding() {
        let l = Leaflets::default_catalogue().unwrap();
        let hits = l.matching(&condition("http://snomed.info/sct", "40930008"));
        assert_eq!(ids(&hits), ["underactive-thyroid"]);
        // `H3...` is written exactly: COPD itself, not asthma (H33..).
        let hits = l.matching(&condition("http://read.info/readv2", "H3..."));
        assert_eq!(ids(&hits), ["copd-rescue-pack"]);
    }

    #[test]
    fn matches_stems() {
        let l = Leaflets::default_catalogue().unwrap();
        // G58% covers G580. (congestive heart failure).
        let hits = l.matching(&condition("http://read.info/readv2", "G580."));
        assert_eq!(ids(&hits), ["heart-failure"]);
        let hits = l.matching(&condition("http://read.info/readv2", "H333."));
        assert_eq!(ids(&hits), ["asthma-children"]);
    }

    #[test]
    fn nothing_for_an_unrelated_record_or_another_system() {
        let l = Leaflets::default_catalogue().unwrap();
        assert!(l
            .matching(&condition("http://read.info/readv2", "J11.."))
            .is_empty());
        // A LOINC code that happens to spell a stem is not matched.
        assert!(l
            .matching(&condition("http://loinc.org", "G580"))
            .is_empty());
        assert!(l.matching(&json!({"resourceType": "Patient"})).is_empty());
    }

    #[test]
    fn validation_names_the_leaflet_and_path() {
        let mut doc: Value = serde_json::from_str(DEFAULT_CATALOGUE_JSON).unwrap();
        let first_id = doc["leaflets"][0]["id"].clone();
        doc["leaflets"][1]["id"] = first_id;
        doc["leaflets"][2]["summary"] = json!("  ");
        doc["leaflets"][3]["codes"] = json!(["G%5"]);
        doc["leaflets"][4]["kind"] = json!("podcast");
        doc["leaflets"][5]["who_to_contact"] = json!([]);
        let err = Leaflets::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/leaflets/1/id",
                "/leaflets/2/summary",
                "/leaflets/3/codes/0",
                "/leaflets/4/kind",
                "/leaflets/5/who_to_contact"
            ]
        );
        assert!(err.problems.iter().all(|p| p.rule.is_some()));
    }
}
