//! Replays the `core` and `engine` cases of `tests/hostile/catalogue.json`:
//! each hostile input gets its expected clear error or fail-closed result,
//! never a panic. (The `engine` cases are replayed through the wasm builds
//! too, in tests/node, tests/browser and tests/workerd.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use serde_json::{json, Value};
use tiergate_core::{ConsentSet, Limits, Outcome, Policy, Request, Viewer};
use time::macros::datetime;

fn input(case: &Value) -> Vec<u8> {
    if let Some(s) = case["input"].as_str() {
        return s.as_bytes().to_vec();
    }
    if let Some(hex) = case["input_hex"].as_str() {
        return (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
    }
    let g = &case["generate"];
    let (prefix, repeat, suffix) = (
        g["prefix"].as_str().unwrap(),
        g["repeat"].as_str().unwrap(),
        g["suffix"].as_str().unwrap(),
    );
    let times = usize::try_from(g["times"].as_u64().unwrap()).unwrap();
    let mut out = Vec::with_capacity(prefix.len() + repeat.len() * times + suffix.len());
    out.extend_from_slice(prefix.as_bytes());
    for _ in 0..times {
        out.extend_from_slice(repeat.as_bytes());
    }
    out.extend_from_slice(suffix.as_bytes());
    out
}

#[test]
fn every_core_case_fails_closed_as_catalogued() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/hostile/catalogue.json");
    let catalogue: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let policy = Policy::default_policy().unwrap();
    let viewer = Viewer::from_json(br#"{"user_id":"u","organisation":"RVY","profile":"2a","purpose":"direct-care","training":{"expires":"2027-01-01"}}"#).unwrap();
    let consent = ConsentSet::from_json(br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#, &policy)
        .unwrap()
        .compile(&policy)
        .unwrap();
    let now = datetime!(2026-11-25 12:00 UTC);
    let mut ran = 0;
    for case in catalogue["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["layer"] == "core" || c["layer"] == "engine")
    {
        let name = case["name"].as_str().unwrap();
        let expect = &case["expect"];
        let result: Result<(Outcome, Vec<u8>), String> = match case["kind"].as_str().unwrap() {
            "record" => {
                let request = Request {
                    viewer: &viewer,
                    consent: &consent,
                    now,
                    default_setting: None,
                    holding_organisation: None,
                };
                policy
                    .redact(&input(case), &request, Limits::default())
                    .map(|r| (r.outcome, r.body))
                    .map_err(|e| e.to_string())
            }
            "viewer" => {
                let v = Viewer::from_json(&input(case)).unwrap();
                let c = ConsentSet::default().compile(&policy).unwrap();
                let request = Request {
                    viewer: &v,
                    consent: &c,
                    now,
                    default_setting: None,
                    holding_organisation: None,
                };
                policy
                    .redact(
                        br#"{"resourceType":"Bundle","type":"collection"}"#,
                        &request,
                        Limits::default(),
                    )
                    .map(|r| (r.outcome, r.body))
                    .map_err(|e| e.to_string())
            }
            "consent" => ConsentSet::from_json(&input(case), &policy)
                .map(|_| (Outcome::Document, Vec::new()))
                .map_err(|e| e.to_string()),
            "policy_patch" => {
                let mut doc: Value =
                    serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
                *doc.pointer_mut(case["patch"]["pointer"].as_str().unwrap())
                    .unwrap() = case["patch"]["value"].clone();
                Policy::from_value(doc)
                    .map(|_| (Outcome::Document, Vec::new()))
                    .map_err(|e| {
                        e.problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
            }
            other => panic!("{name}: unknown kind {other}"),
        };
        match result {
            Ok((outcome, body)) => {
                let want = expect["outcome"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: expected an error, got {outcome:?}"));
                assert_eq!(json!(outcome), json!(want), "{name}");
                let text = String::from_utf8_lossy(&body);
                for absent in expect["absent"].as_array().into_iter().flatten() {
                    assert!(
                        !text.contains(absent.as_str().unwrap()),
                        "{name}: {absent} in output"
                    );
                }
                for present in expect["present"].as_array().into_iter().flatten() {
                    assert!(
                        text.contains(present.as_str().unwrap()),
                        "{name}: {present} missing"
                    );
                }
            }
            Err(message) => {
                if let Some(e) = expect["error"].as_str() {
                    assert_eq!(message, e, "{name}");
                } else if let Some(e) = expect["error_starts"].as_str() {
                    assert!(message.starts_with(e), "{name}: {message}");
                } else if let Some(p) = expect["problem"].as_str() {
                    assert!(
                        message.lines().any(|l| l.starts_with(p)),
                        "{name}: {message}"
                    );
                } else {
                    panic!("{name}: unexpected error {message}");
                }
            }
        }
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} core cases ran");
}
