//! Property test: an excluded code or term hidden anywhere in an entry never
//! reaches a viewer that no lift covers, and nothing else in the document
//! points at or repeats it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use tiergate_core::{CompiledConsent, ConsentSet, Limits, Policy, Request, Viewer};
use time::macros::datetime;

const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const READ: &str = "http://read.info/readv2";
const LAB: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const PROFILES: [&str; 11] = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
const D3: [&str; 4] = ["1a", "1b", "1c", "6"];
/// Exact codes, `%` codes and children of `%` codes, in every category.
const CODES: [&str; 14] = [
    "43W7.", "43W7", "A788.", "A7880", "43C1.", "A981.", "L0512", "ZV26.", "7E0A1", "9U1..",
    "13HN", "SN571", "1K4", "9F5..",
];
const TERMS: [&str; 9] = [
    "HIV viral load",
    "chlamydia screen",
    "termination of pregnancy",
    "IVF cycle",
    "formal complaint",
    "criminal record",
    "child abuse concern",
    "gender reassignment",
    "freed for adoption",
];

/// Where the sensitive item is hidden.
const PLACES: [&str; 17] = [
    "code",
    "category",
    "component",
    "valueCodeableConcept",
    "reasonCode",
    "extension",
    "extension-valueCode",
    "nested-extension",
    "note",
    "code-text",
    "display",
    "narrative",
    "contained",
    "attachment",
    "security-label",
    "second-coding",
    "identifier-type",
];

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

fn consent() -> CompiledConsent {
    ConsentSet::from_json(
        br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#,
        policy(),
    )
    .unwrap()
    .compile(policy())
    .unwrap()
}

fn coding(code: &str) -> Value {
    json!({"system": READ, "code": code})
}

fn base64(text: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = text.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | u32::from(*x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The entry carrying the hidden item: a primary-care diagnosis, or a lab
/// result (which Diagnostics tier 3 may lift).
fn hidden_entry(place: &str, code: &str, term: &str, diagnostic: bool) -> Value {
    let mut r = if diagnostic {
        json!({"resourceType": "Observation", "id": "hidden", "status": "final",
               "meta": {"tag": [{"system": SETTING, "code": "diagnostics"}]},
               "category": [{"coding": [{"system": LAB, "code": "laboratory"}]}],
               "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]}})
    } else {
        json!({"resourceType": "Condition", "id": "hidden",
               "meta": {"tag": [{"system": SETTING, "code": "primary_care"}]},
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}]}})
    };
    match place {
        "code" => r["code"] = json!({"coding": [coding(code)]}),
        "second-coding" => r["code"]["coding"]
            .as_array_mut()
            .unwrap()
            .push(coding(code)),
        "category" => {
            let cats = r.get("category").cloned().unwrap_or(json!([]));
            let mut cats = cats.as_array().cloned().unwrap();
            cats.push(json!({"coding": [coding(code)]}));
            r["category"] = Value::Array(cats);
        }
        "component" => {
            r["component"] = json!([{"code": {"coding": [coding(code)]}, "valueString": "x"}])
        }
        "valueCodeableConcept" => r["valueCodeableConcept"] = json!({"coding": [coding(code)]}),
        "reasonCode" => r["reasonCode"] = json!([{"coding": [coding(code)]}]),
        "extension" => {
            r["extension"] = json!([{"url": "http://e.example/x", "valueCodeableConcept": {"coding": [coding(code)]}}])
        }
        "extension-valueCode" => {
            r["extension"] = json!([{"url": "http://e.example/x", "valueCode": code}])
        }
        "nested-extension" => {
            r["extension"] = json!([{"url": "http://e.example/x", "extension": [{"url": "inner", "valueCoding": coding(code)}]}])
        }
        "identifier-type" => {
            r["identifier"] = json!([{"type": {"coding": [{"code": code}]}, "value": "1"}])
        }
        "note" => r["note"] = json!([{"text": format!("Discussed {term} today")}]),
        "code-text" => r["code"]["text"] = json!(term),
        "display" => r["code"]["coding"][0]["display"] = json!(term),
        "narrative" => {
            r["text"] = json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>{term}</p></div>")})
        }
        "contained" => {
            r["contained"] = json!([{"resourceType": "Observation", "id": "c1", "status": "final", "code": {"coding": [coding(code)]}}]);
            r["evidence"] = json!([{"detail": [{"reference": "#c1"}]}]);
        }
        "attachment" => {
            r["extension"] = json!([{"url": "http://e.example/doc", "valueAttachment": {"contentType": "text/plain", "data": base64(&format!("Letter: {term}."))}}])
        }
        "security-label" => {
            r["meta"]["security"] = json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}]);
        }
        _ => unreachable!(),
    }
    r
}

fn bundle(hidden: Value) -> Value {
    let target = format!("{}/hidden", hidden["resourceType"].as_str().unwrap());
    let tag = json!({"tag": [{"system": SETTING, "code": "primary_care"}]});
    json!({"resourceType": "Bundle", "type": "searchset", "total": 5, "entry": [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p", "meta": tag}},
        {"fullUrl": "urn:uuid:hidden", "resource": hidden},
        {"resource": {"resourceType": "AllergyIntolerance", "id": "a", "meta": tag,
                      "code": {"text": "Penicillin"}, "patient": {"reference": "Patient/p"}}},
        {"resource": {"resourceType": "Encounter", "id": "e", "meta": tag, "status": "finished",
                      "diagnosis": [{"condition": {"reference": target}, "rank": 1}],
                      "reasonReference": [{"reference": target, "display": "see result"}]}},
        {"resource": {"resourceType": "List", "id": "l", "status": "current", "mode": "snapshot", "entry": [
            {"item": {"reference": target}}, {"item": {"reference": "AllergyIntolerance/a"}}]}},
        {"resource": {"resourceType": "Provenance", "id": "pv", "target": [{"reference": "urn:uuid:hidden"}],
                      "recorded": "2026-01-01T00:00:00Z"}}
    ]})
}

/// Appendix 1 codes and terms anywhere in the output (the shared oracle,
/// [`tiergate_testkit::leaks`]), and the two hidden items it does not look
/// for: any attachment at all, and the `HIV` security label.
fn sensitive_items(v: &Value) -> Vec<String> {
    let mut found: Vec<String> = tiergate_testkit::leaks(v)
        .iter()
        .map(ToString::to_string)
        .collect();
    for t in tiergate_testkit::strings(v) {
        match (t.element, t.text) {
            ("data", s) => found.push(format!("attachment ({} chars)", s.len())),
            ("code", "HIV") => found.push("security label".into()),
            _ => {}
        }
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    #[test]
    fn nothing_excluded_survives(
        place in prop::sample::select(PLACES.to_vec()),
        code in prop::sample::select(CODES.to_vec()),
        term in prop::sample::select(TERMS.to_vec()),
        profile in prop::sample::select(PROFILES.to_vec()),
        diagnostic in any::<bool>(),
        break_glass in any::<bool>(),
    ) {
        let record = bundle(hidden_entry(place, code, term, diagnostic));
        let mut v = json!({"user_id": "u", "organisation": "RVY", "profile": profile,
                           "purpose": "direct-care", "training": {"expires": "2027-01-01"}});
        if break_glass {
            v["break_glass"] = json!({"reason": "unconscious", "started": "2026-11-25T11:00:00Z"});
        }
        let viewer = Viewer::from_json(v.to_string().as_bytes()).unwrap();
        let consent = if break_glass { ConsentSet::default().compile(policy()).unwrap() } else { consent() };
        let request = Request { viewer: &viewer, consent: &consent, now: datetime!(2026-11-25 12:00 UTC), default_setting: None, holding_organisation: None };
        let out = policy().redact(record.to_string().as_bytes(), &request, Limits::default()).unwrap();
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        let lifted = diagnostic && D3.contains(&profile) && !break_glass;
        if !lifted {
            let found = sensitive_items(&body);
            prop_assert!(found.is_empty(), "{place} {code} {term} {profile}: {found:?}");
            let text = body.to_string();
            prop_assert!(!text.contains("hidden"), "{place}: something still points at the hidden entry");
        }
        let entries = body["entry"].as_array().map_or(0, Vec::len);
        let includes = body["entry"].as_array().into_iter().flatten().filter(|e| e["search"]["mode"] == "include").count();
        prop_assert_eq!(&body["total"], &json!(entries - includes));
    }
}
