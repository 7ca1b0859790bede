//! Section 5.1: information *held in* the viewer's organisation is outside
//! the framework. The holding organisation is the one whose system recorded
//! the entry (a holder tag or extension, `meta.source` mapped by the policy,
//! or the origin's own organisation), never a party named inside it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use tiergate_core::{ConsentSet, Decisions, Policy, Request, Verdict, Viewer, DEFAULT_POLICY_JSON};
use time::macros::datetime;

const HOLDER_TAG: &str = "https://fhir.tiergate.example/CodeSystem/holding-organisation";
const HOLDER_EXT: &str = "https://fhir.tiergate.example/StructureDefinition/holding-organisation";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";

fn hospital_viewer() -> Viewer {
    tiergate_testkit::professional("1a", "R9A")
}

/// A GP's entry for a test the hospital ran: the hospital is performer,
/// requester's organisation and named everywhere but in who holds it.
fn gp_entry(id: &str) -> Value {
    json!({"resourceType": "Condition", "id": id,
        "meta": {"tag": [{"system": SETTING, "code": "primary_care"}]},
        "code": {"text": "Asthma"},
        "recorder": {"identifier": {"system": ODS, "value": "R9A"}},
        "asserter": {"reference": "Organization/r9a"},
        "subject": {"reference": "Patient/p1"}})
}

fn decide(policy: &Policy, resources: Vec<Value>, origin: Option<&str>) -> Decisions {
    let mut entries = vec![
        json!({"resource": {"resourceType": "Patient", "id": "p1"}}),
        json!({"resource": {"resourceType": "Organization", "id": "r9a",
            "identifier": [{"system": ODS, "value": "R9A"}]}}),
    ];
    entries.extend(resources.into_iter().map(|r| json!({ "resource": r })));
    let record = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    let consent = ConsentSet::default().compile(policy).unwrap();
    let viewer = hospital_viewer();
    let request = Request {
        viewer: &viewer,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: origin,
    };
    policy.decide(&record, &request).unwrap()
}

fn outcome(d: &Decisions, id: &str) -> (Verdict, Option<String>, Vec<String>) {
    let e = d
        .entries
        .iter()
        .find(|e| e.id.as_deref() == Some(id))
        .unwrap();
    (
        e.decision,
        e.allowed_by.clone(),
        e.reasons.iter().map(|r| r.code()).collect(),
    )
}

#[test]
fn section_5_1_an_organisation_named_inside_an_entry_does_not_hold_it() {
    let policy = Policy::default_policy().unwrap();
    let d = decide(&policy, vec![gp_entry("named")], None);
    assert_eq!(
        outcome(&d, "named"),
        (Verdict::Withhold, None, vec!["no_consent".to_owned()])
    );
    // Nor does a GP origin make the hospital the holder.
    let d = decide(&policy, vec![gp_entry("named")], Some("N99005"));
    assert_eq!(outcome(&d, "named").0, Verdict::Withhold);
}

#[test]
fn section_5_1_the_holder_is_what_recorded_the_entry() {
    let policy = Policy::default_policy().unwrap();
    let mut tagged = gp_entry("tagged");
    tagged["meta"]["tag"]
        .as_array_mut()
        .unwrap()
        .push(json!({"system": HOLDER_TAG, "code": "R9A"}));
    let mut extension = gp_entry("extension");
    extension["extension"] =
        json!([{"url": HOLDER_EXT, "valueIdentifier": {"system": ODS, "value": "R9A"}}]);
    let mut elsewhere = gp_entry("elsewhere");
    elsewhere["meta"]["tag"]
        .as_array_mut()
        .unwrap()
        .push(json!({"system": HOLDER_TAG, "code": "N99005"}));
    let d = decide(&policy, vec![tagged, extension, elsewhere.clone()], None);
    for id in ["tagged", "extension"] {
        assert_eq!(
            outcome(&d, id),
            (Verdict::Allow, Some("own_organisation".to_owned()), vec![]),
            "{id}"
        );
    }
    assert_eq!(outcome(&d, "elsewhere").0, Verdict::Withhold);

    // The origin's organisation holds what says nothing, and not what
    // names another holder.
    let d = decide(&policy, vec![gp_entry("untagged"), elsewhere], Some("R9A"));
    assert_eq!(
        outcome(&d, "untagged").1.as_deref(),
        Some("own_organisation")
    );
    assert_eq!(outcome(&d, "elsewhere").0, Verdict::Withhold);

    // A source system the policy maps to its organisation.
    let mut doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    doc["own_organisation"]["sources"] =
        json!([{"prefix": "urn:tiergate:source:epr:r9a", "organisation": "R9A"}]);
    let mapped = Policy::from_value(doc).unwrap();
    let mut sourced = gp_entry("sourced");
    sourced["meta"]["source"] = json!("urn:tiergate:source:epr:r9a#ward-7");
    let d = decide(&mapped, vec![sourced], None);
    assert_eq!(
        outcome(&d, "sourced").1.as_deref(),
        Some("own_organisation")
    );
}
