//! Every corpus document through the redactor for every profile, under full
//! consent, no consent and break glass, with the invariants users rely on:
//! no excluded code or term leaves unless a granted placement lifts it, no
//! reference points at a withheld entry, totals match what is returned,
//! output is deterministic and redacting it again changes nothing. A few
//! outputs are golden files reviewed by hand (`tests/corpus/golden`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tiergate_core::hl7v2::Message;
use tiergate_core::{
    CompiledConsent, ConsentSet, Decisions, Limits, Outcome, Policy, RedactError, Request, Verdict,
    Viewer,
};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
const PROFILES: [&str; 11] = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
const D3: [&str; 4] = ["1a", "1b", "1c", "6"];
const ORG: &str = "RVY";

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", root.display());
    files
}

#[derive(Clone, Copy, Debug)]
enum Access {
    Consented,
    NoConsent,
    BreakGlass,
}

fn viewer(profile: &str, access: Access) -> Viewer {
    let mut v = json!({
        "user_id": "u1", "organisation": ORG, "profile": profile,
        "purpose": "direct-care", "training": {"expires": "2027-06-30"}
    });
    if let Access::BreakGlass = access {
        v["break_glass"] = json!({"reason": "unconscious", "started": "2026-11-25T11:30:00Z"});
    }
    Viewer::from_json(v.to_string().as_bytes()).unwrap()
}

fn consent(access: Access) -> CompiledConsent {
    let set = match access {
        Access::Consented => ConsentSet::from_json(
            json!({"directives": [{"id": "c1", "kind": "permit", "recorded": "2026-01-01", "actors": {"organisations": [ORG]}}]})
                .to_string()
                .as_bytes(),
            policy(),
        )
        .unwrap(),
        _ => ConsentSet::default(),
    };
    set.compile(policy()).unwrap()
}

fn request<'a>(v: &'a Viewer, c: &'a CompiledConsent, setting: &'a str) -> Request<'a> {
    Request {
        viewer: v,
        consent: c,
        now: NOW,
        default_setting: Some(setting),
        holding_organisation: None,
    }
}

/// What in a resource names an exclusion category (codes and terms): the
/// shared oracle, [`tiergate_testkit::leaks`].
fn leaks(res: &Value) -> Vec<String> {
    tiergate_testkit::leaks(res)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn key_of(res: &Value) -> Option<String> {
    Some(format!(
        "{}/{}",
        res["resourceType"].as_str()?,
        res["id"].as_str()?
    ))
}

fn check_invariants(
    name: &str,
    input: &Value,
    profile: &str,
    access: Access,
    body: &[u8],
    decisions: &Decisions,
) {
    let what = format!("{name} profile {profile} {access:?}");
    let out: Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: output is not JSON: {e}"));
    assert_eq!(out["resourceType"], input["resourceType"], "{what}");
    let in_entries = input["entry"].as_array().cloned().unwrap_or_default();
    // Input identity -> allowed?
    let mut allowed: HashMap<String, bool> = HashMap::new();
    for (i, e) in in_entries.iter().enumerate() {
        let ok = decisions.entries[i].decision == Verdict::Allow;
        if let Some(k) = key_of(&e["resource"]) {
            allowed.entry(k).and_modify(|a| *a &= ok).or_insert(ok);
        }
        if let Some(u) = e["fullUrl"].as_str() {
            allowed.insert(u.to_owned(), ok);
        }
    }
    let out_entries = out["entry"].as_array().cloned().unwrap_or_default();
    if input.get("total").is_some() {
        let matches = out_entries
            .iter()
            .filter(|e| e["search"]["mode"] != "include")
            .count();
        assert_eq!(out["total"], json!(matches), "{what}: total");
    }
    assert!(out.get("link").is_none(), "{what}: paging links");
    let lift = D3.contains(&profile) && matches!(access, Access::Consented);
    for e in &out_entries {
        let res = &e["resource"];
        let found = leaks(res);
        if found.is_empty() {
            continue;
        }
        let decision = decisions.entries.iter().find(|d| {
            d.decision == Verdict::Allow
                && key_of(res).as_deref()
                    == d.resource_type
                        .as_ref()
                        .zip(d.id.as_ref())
                        .map(|(t, i)| format!("{t}/{i}"))
                        .as_deref()
        });
        let diagnostic =
            decision.is_some_and(|d| d.placements.iter().any(|p| p.segment == "diagnostics"));
        assert!(
            lift && diagnostic,
            "{what}: {:?} leaked {found:?}",
            key_of(res)
        );
    }
    // No reference to a withheld entry.
    let mut refs = Vec::new();
    let mut stack = vec![&out];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("reference").and_then(Value::as_str) {
                    refs.push(r.to_owned());
                }
                stack.extend(m.values());
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    for r in refs {
        let key = r
            .rsplit('/')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("/");
        let target = allowed.get(&r).or_else(|| allowed.get(&key));
        assert_ne!(target, Some(&false), "{what}: reference to withheld {r}");
    }
}

fn redact(
    bytes: &[u8],
    profile: &str,
    access: Access,
    setting: &str,
) -> Result<tiergate_core::Redacted, RedactError> {
    let v = viewer(profile, access);
    let c = consent(access);
    policy().redact(bytes, &request(&v, &c, setting), Limits::default())
}

fn fhir_corpus(dir: &str, setting: &str) {
    for path in corpus(dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let input: Value = serde_json::from_slice(&bytes).unwrap();
        for profile in PROFILES {
            for access in [Access::Consented, Access::NoConsent, Access::BreakGlass] {
                let out = redact(&bytes, profile, access, setting)
                    .unwrap_or_else(|e| panic!("{name} {profile}: {e}"));
                assert_eq!(out.outcome, Outcome::Document, "{name}");
                check_invariants(&name, &input, profile, access, &out.body, &out.decisions);
                if let Access::NoConsent = access {
                    assert_eq!(
                        out.decisions.summary.allowed, 0,
                        "{name} {profile}: shared without consent"
                    );
                }
                // Deterministic, and a fixed point.
                if profile == "1b" {
                    let again = redact(&bytes, profile, access, setting).unwrap();
                    assert_eq!(again.body, out.body, "{name} {profile}: not deterministic");
                }
                let twice = redact(&out.body, profile, access, setting).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&twice.body),
                    String::from_utf8_lossy(&out.body),
                    "{name} {profile} {access:?}: redacting the output again changed it"
                );
            }
        }
    }
}

#[test]
fn gp_connect_bundles_keep_the_invariants() {
    fhir_corpus("gpconnect", "primary_care");
}

#[test]
fn synthea_bundles_keep_the_invariants() {
    fhir_corpus("synthea", "primary_care");
}

#[test]
fn synthea_hiv_observations_named_only_in_text_are_withheld() {
    // The Synthea HIV module codes its observations with made-up codes; only
    // the display text ("HIV viral load") says what they are.
    let path = corpus("synthea")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("Curt84_Legros616"))
        .unwrap();
    let bytes = std::fs::read(path).unwrap();
    let out = redact(&bytes, "2a", Access::Consented, "primary_care").unwrap();
    let text = String::from_utf8_lossy(&out.body).to_lowercase();
    assert!(
        !text.contains("hiv"),
        "HIV named in the output for a D2 viewer"
    );
    assert!(!text.contains("antiretroviral"));
    assert!(out
        .decisions
        .summary
        .withheld_by_reason
        .contains_key("excluded_category:hiv_aids"));
    assert!(
        out.decisions.summary.allowed > 100,
        "the rest of the record still flows"
    );
}

#[test]
fn hl7v2_messages_keep_the_invariants() {
    for path in corpus("hl7v2") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        for profile in PROFILES {
            for access in [Access::Consented, Access::NoConsent] {
                let out = redact(&bytes, profile, access, "hospital")
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                if out.outcome == Outcome::NotFound {
                    continue;
                }
                let msg =
                    Message::parse(&out.body).unwrap_or_else(|e| panic!("{name} {profile}: {e}"));
                assert_eq!(msg.segments[0].name, "MSH");
                assert!(
                    out.body.ends_with(b"\r") && !out.body.contains(&b'\n'),
                    "{name}: segment ends"
                );
                assert!(
                    matches!(access, Access::Consented),
                    "{name} {profile}: released without consent"
                );
                let text = String::from_utf8_lossy(&out.body);
                for seg in text.split('\r') {
                    let terms = policy().term_categories_of(seg);
                    assert!(
                        terms.is_empty() || D3.contains(&profile),
                        "{name} {profile}: {terms:?} in a segment"
                    );
                }
                let twice = redact(&out.body, profile, access, "hospital").unwrap();
                assert_eq!(twice.body, out.body, "{name} {profile}: not a fixed point");
            }
        }
    }
}

#[test]
fn fhir_xml_is_refused() {
    for path in corpus("uk-core") {
        let bytes = std::fs::read(&path).unwrap();
        let err = redact(&bytes, "1b", Access::Consented, "primary_care").unwrap_err();
        assert_eq!(err, RedactError::NotJson);
        assert_eq!(err.to_string(), "record: expected FHIR JSON");
    }
}

#[test]
fn every_code_of_the_opensafely_ctv3_hiv_codelist_is_excluded_by_the_default_policy() {
    // Read from the published file, not from the policy that copies it.
    let path = corpus("codelists")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("hiv"))
        .unwrap();
    let csv = std::fs::read_to_string(path).unwrap();
    let codes: Vec<String> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|c| c.trim_matches('"').to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    assert!(codes.len() > 80);
    for c in &codes {
        assert_eq!(
            policy().exclusion_categories_of(Some("http://read.info/ctv3"), c),
            vec!["hiv_aids"],
            "{c}"
        );
    }
}

/// Golden outputs, reviewed by hand. `TIERGATE_BLESS=1` rewrites them.
#[test]
fn golden_outputs() {
    let cases = [
        ("gpconnect/allergies_response1.json", "1b", "primary_care"),
        ("gpconnect/allergies_response1.json", "5", "primary_care"),
        (
            "gpconnect/consultations_response2.json",
            "6",
            "primary_care",
        ),
        (
            "synthea/Russel238_Konopelski743_0cd9f8d6-ae86-3b42-7350-da4d678961ac.json",
            "2b",
            "primary_care",
        ),
        ("hl7v2/ADT-A01-02.hl7", "3a", "hospital"),
        ("hl7v2/ORU-R01-01.hl7", "1b", "hospital"),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus");
    let bless = std::env::var("TIERGATE_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for (file, profile, setting) in cases {
        let bytes = std::fs::read(root.join(file)).unwrap();
        let out = redact(&bytes, profile, Access::Consented, setting).unwrap();
        let body = if file.ends_with(".hl7") {
            Value::Array(
                String::from_utf8(out.body.clone())
                    .unwrap()
                    .split('\r')
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )
        } else {
            serde_json::from_slice(&out.body).unwrap()
        };
        let golden = json!({"input": file, "profile": profile, "setting": setting, "decisions": out.decisions, "body": body});
        let stem = file
            .replace('/', "__")
            .replace(".json", "")
            .replace(".hl7", "");
        let path = root.join("golden").join(format!("{stem}__{profile}.json"));
        let text = serde_json::to_string_pretty(&golden).unwrap() + "\n";
        if bless {
            std::fs::write(&path, &text).unwrap();
        } else {
            let expected = std::fs::read_to_string(&path).unwrap_or_default();
            if expected != text {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden outputs differ (review, then TIERGATE_BLESS=1): {failures:?}"
    );
}
