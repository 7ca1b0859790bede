//! The person-centred plan in the demo records: it parses, it is classified
//! into Summary tier 3 care plans, and professionals see it exactly when
//! they reach that tier with consent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use serde_json::Value;
use tiergate_core::plan::{is_plan, plan_from_careplan, plan_to_careplan};
use tiergate_core::{ConsentSet, Limits, Policy, Request, Verdict, Viewer};
use time::macros::datetime;

fn demo(rel: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data", rel]
        .iter()
        .collect();
    std::fs::read(&path).unwrap()
}

fn plan_in(record: &Value) -> &Value {
    record["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| is_plan(r))
        .expect("a person-centred plan")
}

#[test]
fn demo_plans_parse_and_round_trip() {
    for (file, patient, name) in [
        ("joe.json", "joe-patient", "Joe"),
        ("susan.json", "susan-patient", "Sue"),
    ] {
        let record: Value = serde_json::from_slice(&demo(file)).unwrap();
        let cp = plan_in(&record);
        let fields = plan_from_careplan(cp).unwrap();
        assert_eq!(fields.preferred_name.as_deref(), Some(name));
        assert!(!fields.goals.is_empty());
        let again = plan_to_careplan(patient, &fields, cp["created"].as_str().unwrap()).unwrap();
        assert_eq!(
            &again, cp,
            "{file}: the demo plan is what the engine writes"
        );
    }
    let record: Value = serde_json::from_slice(&demo("susan.json")).unwrap();
    let fields = plan_from_careplan(plan_in(&record)).unwrap();
    assert!(fields.preferences.iter().any(|p| p == "A female doctor"));
}

#[test]
fn the_plan_is_summary_tier_3_care_plans() {
    let policy = Policy::default_policy().unwrap();
    let record: Value = serde_json::from_slice(&demo("joe.json")).unwrap();
    let classes = policy.classify_document(&record, None).unwrap();
    let c = classes
        .iter()
        .find(|c| c.id.as_deref() == Some("pcp-joe-patient"))
        .unwrap();
    assert_eq!(c.rule.as_deref(), Some("care-plan.person-centred"));
    assert_eq!(c.placements.len(), 1);
    assert_eq!(c.placements[0].content, "care_plans");
    assert_eq!(c.placements[0].tier, 3);

    // A professional with consent to the whole summary sees it; Summary
    // tier 2 does not reach it.
    for (tier, seen) in [(3, true), (2, false)] {
        let consent = ConsentSet::from_json(
            format!(
                r#"{{"directives": [{{"id": "c", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
                "actors": {{"profiles": ["7"]}}, "scope": {{"segments": [{{"segment": "summary", "tier": {tier}}}]}}}}]}}"#
            )
            .as_bytes(),
            &policy,
        )
        .unwrap()
        .compile(&policy)
        .unwrap();
        let viewer = Viewer::from_json(&demo("viewers/district-nurse-7.json")).unwrap();
        let request = Request {
            viewer: &viewer,
            consent: &consent,
            now: datetime!(2026-11-25 12:00 UTC),
            default_setting: None,
            holding_organisation: None,
        };
        let r = policy
            .redact(&demo("joe.json"), &request, Limits::default())
            .unwrap();
        let d = r
            .decisions
            .entries
            .iter()
            .find(|d| d.id.as_deref() == Some("pcp-joe-patient"))
            .unwrap();
        assert_eq!(d.decision == Verdict::Allow, seen, "summary tier {tier}");
        let body = String::from_utf8(r.body).unwrap();
        assert_eq!(body.contains("end of the pier"), seen);
    }
}
