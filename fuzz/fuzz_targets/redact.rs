//! The record parser and redactor, with invariants: output is valid JSON,
//! nothing excluded reaches a viewer no lift covers, and redacting the
//! output again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tiergate_core::{Limits, Outcome, Request};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, record)) = data.split_first() else { return };
    let profile = common::PROFILES[usize::from(pick) % common::PROFILES.len()];
    let viewer = common::viewer(profile);
    let consent = common::full_consent();
    let now = time::macros::datetime!(2026-11-25 12:00 UTC);
    let setting = ["primary_care", "hospital", "diagnostics"][usize::from(pick >> 4) % 3];
    let request = Request { viewer: &viewer, consent: &consent, now, default_setting: Some(setting), holding_organisation: None };
    let limits = Limits { max_bytes: 1 << 20 };
    let Ok(out) = common::policy().redact(record, &request, limits) else { return };
    if tiergate_core::hl7v2::Message::sniff(record) {
        if out.outcome == Outcome::Document {
            tiergate_core::hl7v2::Message::parse(&out.body).expect("redacted HL7 v2 parses");
            if !common::D3.contains(&profile) {
                let found = common::sensitive_hl7v2(&out.body);
                assert!(found.is_empty(), "{profile}: {found:?}");
            }
        }
        return;
    }
    let body: Value = serde_json::from_slice(&out.body).expect("redacted output is JSON");
    if !common::D3.contains(&profile) {
        let found = common::sensitive(&body);
        assert!(found.is_empty(), "{profile}: {found:?}");
    }
    let again = common::policy().redact(&out.body, &request, limits).expect("output redacts again");
    assert_eq!(again.body, out.body, "redacting the output changed it");
});
