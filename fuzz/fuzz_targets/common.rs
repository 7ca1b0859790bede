//! Shared by the fuzz targets: the policy, viewers and the leak check.
#![allow(dead_code)]

use std::sync::OnceLock;

use serde_json::Value;
use tiergate_core::{CompiledConsent, ConsentSet, Policy, Viewer};

pub const PROFILES: [&str; 11] = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
pub const D3: [&str; 4] = ["1a", "1b", "1c", "6"];

pub fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

pub fn viewer(profile: &str) -> Viewer {
    let text = format!(
        r#"{{"user_id":"fuzz","organisation":"RVY","profile":"{profile}","purpose":"direct-care","training":{{"expires":"2027-01-01"}}}}"#
    );
    Viewer::from_json(text.as_bytes()).unwrap()
}

pub fn full_consent() -> CompiledConsent {
    ConsentSet::from_json(
        br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#,
        policy(),
    )
    .unwrap()
    .compile(policy())
    .unwrap()
}

/// Every excluded code or term anywhere in a JSON value: the oracle shared
/// with core's tests, which shares no code with the engine
/// ([`tiergate_testkit::leaks`]).
pub fn sensitive(v: &Value) -> Vec<String> {
    tiergate_testkit::leaks(v)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Every excluded code or term in an HL7 v2 message (the same oracle).
pub fn sensitive_hl7v2(body: &[u8]) -> Vec<String> {
    tiergate_testkit::Oracle::default_policy()
        .leaks_hl7v2(&String::from_utf8_lossy(body))
        .iter()
        .map(ToString::to_string)
        .collect()
}
