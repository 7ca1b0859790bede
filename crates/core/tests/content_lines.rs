//! Content lines where tables 1-4 of the framework put them: radiology is a
//! routine test (table 3 tier 1), alerts and flags are "TBC" (table 1: not
//! shared until scoped, one policy switch per flag category), mental-health
//! admissions are ADT (table 4 tier 1, "Inc. mental health").

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use tiergate_core::{
    CompiledConsent, ConsentSet, Decisions, EntryDecision, Policy, Request, Verdict, Viewer,
    DEFAULT_POLICY_JSON,
};
use time::macros::datetime;

const ORG: &str = "RVY";
const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const FLAG_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/flag-category";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

fn viewer(profile: &str) -> Viewer {
    tiergate_testkit::professional(profile, ORG)
}

fn own(patient: &str, scopes: Option<&[&str]>) -> Viewer {
    let mut v = viewer("patient");
    v.training = None;
    v.patient = Some(patient.into());
    if let Some(s) = scopes {
        v.proxy_scopes = Some(s.iter().map(|x| (*x).to_owned()).collect());
        v.proxy_agreed = Some("2026-01-01T00:00:00Z".into());
    }
    v
}

/// Consent to everything for the viewer's organisation.
fn everything(policy: &Policy) -> CompiledConsent {
    ConsentSet::from_value(
        &json!({"directives": [{"id": "all", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
            "actors": {"organisations": [ORG]}}]}),
        policy,
    )
    .unwrap()
    .compile(policy)
    .unwrap()
}

fn decide(policy: &Policy, resources: &[Value], v: &Viewer) -> Decisions {
    let mut entries: Vec<Value> = vec![
        json!({"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}}),
    ];
    entries.extend(resources.iter().map(|r| json!({ "resource": r })));
    let record = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
    let consent = everything(policy);
    let request = Request {
        viewer: v,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    policy.decide(&record, &request).unwrap()
}

fn by_id<'a>(d: &'a Decisions, id: &str) -> &'a EntryDecision {
    d.entries
        .iter()
        .find(|e| e.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

fn reasons(d: &Decisions, id: &str) -> Vec<String> {
    by_id(d, id).reasons.iter().map(|r| r.code()).collect()
}

fn tagged(mut r: Value, setting: &str) -> Value {
    r["meta"] = json!({"tag": [{"system": SETTING, "code": setting}]});
    r["subject"] = json!({"reference": "Patient/p1"});
    r
}

#[test]
fn table_3_tier_1_radiology_is_a_routine_test() {
    let policy = Policy::default_policy().unwrap();
    let study = tagged(
        json!({"resourceType": "ImagingStudy", "id": "study", "status": "available",
            "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CR"}]}),
        "diagnostics",
    );
    let report = tagged(
        json!({"resourceType": "DiagnosticReport", "id": "report", "status": "final",
            "category": [{"coding": [{"system": V2_0074, "code": "RAD"}]}],
            "code": {"text": "Chest X-ray"}, "conclusion": "No acute changes."}),
        "diagnostics",
    );
    let lab = tagged(
        json!({"resourceType": "DiagnosticReport", "id": "lab", "status": "final",
            "category": [{"coding": [{"system": V2_0074, "code": "LAB"}]}],
            "code": {"text": "Vitamin D"}}),
        "diagnostics",
    );
    // 2b reaches Diagnostics tier 1 only.
    let d = decide(&policy, &[study, report, lab], &viewer("2b"));
    assert_eq!(
        by_id(&d, "study").decision,
        Verdict::Allow,
        "{:?}",
        reasons(&d, "study")
    );
    assert_eq!(
        by_id(&d, "report").decision,
        Verdict::Allow,
        "{:?}",
        reasons(&d, "report")
    );
    assert_eq!(reasons(&d, "lab"), ["tier_not_granted"]);
    assert_eq!(
        by_id(&d, "study").rule.as_deref(),
        Some("diagnostics.radiology-study")
    );
    // No Diagnostics at all (3a): still nothing.
    let d = decide(
        &policy,
        &[tagged(
            json!({"resourceType": "ImagingStudy", "id": "s", "status": "available"}),
            "diagnostics",
        )],
        &viewer("3a"),
    );
    assert_eq!(reasons(&d, "s"), ["tier_not_granted"]);
}

fn alert(id: &str, category: Option<&str>, setting: &str) -> Value {
    let mut r =
        json!({"resourceType": "Flag", "id": id, "status": "active", "code": {"text": "Alert"}});
    if let Some(c) = category {
        r["category"] = json!([{"coding": [{"system": FLAG_CATEGORY, "code": c}]}]);
    }
    tagged(r, setting)
}

#[test]
fn table_1_alerts_and_flags_are_withheld_until_scoped_with_a_switch_per_category() {
    let policy = Policy::default_policy().unwrap();
    let prompt = tagged(
        json!({"resourceType": "Flag", "id": "prompt", "status": "active", "code": {"text": "Flu vaccine due"},
            "category": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/content-hint", "code": "health-status-prompt"}]}]}),
        "primary_care",
    );
    let records = [
        alert("safety", Some("safety"), "primary_care"),
        alert("hospital-alert", Some("clinical"), "hospital"),
        alert("uncategorised", None, "social_care"),
        prompt,
    ];
    for profile in ["1a", "1b", "2a", "6", "7"] {
        let d = decide(&policy, &records, &viewer(profile));
        for id in ["safety", "hospital-alert", "uncategorised"] {
            assert_eq!(reasons(&d, id), ["not_shared"], "{profile} {id}");
        }
        assert_eq!(
            by_id(&d, "prompt").decision,
            Verdict::Allow,
            "{profile}: health status prompts are Summary tier 2"
        );
    }
    // The person sees their own alerts; someone acting for them does not.
    let d = decide(&policy, &records, &own("p1", None));
    assert_eq!(by_id(&d, "safety").decision, Verdict::Allow);
    let d = decide(&policy, &records, &own("p1", Some(&["record"])));
    assert_eq!(reasons(&d, "safety"), ["not_shared"]);

    // Scoping done for safety flags: one switch in the policy.
    let mut doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    let rule = doc["classification"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "flags.safety")
        .unwrap();
    rule.as_object_mut().unwrap().remove("enabled");
    let switched = Policy::from_value(doc).unwrap();
    let d = decide(&switched, &records, &viewer("1b"));
    assert_eq!(by_id(&d, "safety").decision, Verdict::Allow);
    assert_eq!(by_id(&d, "safety").rule.as_deref(), Some("flags.safety"));
    assert_eq!(
        reasons(&d, "hospital-alert"),
        ["not_shared"],
        "other categories stay off"
    );
}

#[test]
fn table_4_tier_1_mental_health_admissions_are_adt() {
    let policy = Policy::default_policy().unwrap();
    let admission = tagged(
        json!({"resourceType": "Encounter", "id": "admission", "status": "in-progress",
            "class": {"system": ACT_CODE, "code": "IMP"}}),
        "mental_health",
    );
    let clinic = tagged(
        json!({"resourceType": "Encounter", "id": "clinic", "status": "finished",
            "class": {"system": ACT_CODE, "code": "AMB"}}),
        "mental_health",
    );
    // 3b: Hospitals tier 1, Community tier 2.
    let d = decide(&policy, &[admission.clone(), clinic.clone()], &viewer("3b"));
    assert_eq!(
        by_id(&d, "admission").decision,
        Verdict::Allow,
        "{:?}",
        reasons(&d, "admission")
    );
    assert_eq!(
        by_id(&d, "admission").allowed_by.as_deref(),
        Some("hospitals-1")
    );
    assert_eq!(
        reasons(&d, "clinic"),
        ["tier_not_granted"],
        "an outpatient contact stays Community tier 3"
    );
    // 4 reaches no Hospitals tier: the admission stays withheld.
    let d = decide(&policy, &[admission], &viewer("4"));
    assert_eq!(reasons(&d, "admission"), ["tier_not_granted"]);
}

fn labelled(mut r: Value, system: &str, code: &str) -> Value {
    r["meta"]["security"] = json!([{"system": system, "code": code}]);
    r
}

#[test]
fn security_labels_r_and_v_withhold_others_do_not_override_the_framework() {
    const CONF: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
    const ACT: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    let policy = Policy::default_policy().unwrap();
    let condition = |id: &str, setting: &str, text: &str| {
        tagged(
            json!({"resourceType": "Condition", "id": id, "code": {"text": text},
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}),
            setting,
        )
    };
    let psychiatry = labelled(
        condition("psy", "mental_health", "Depressive episode"),
        ACT,
        "PSY",
    );
    let substance = labelled(
        condition("eth", "community", "Alcohol dependence"),
        ACT,
        "ETH",
    );
    let admission = labelled(
        tagged(
            json!({"resourceType": "Encounter", "id": "admission", "status": "in-progress",
                "class": {"system": ACT_CODE, "code": "IMP"}}),
            "mental_health",
        ),
        ACT,
        "PSY",
    );
    let genomic = labelled(
        tagged(
            json!({"resourceType": "Observation", "id": "genomic", "status": "final",
                "category": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/content-hint", "code": "genomics"}]}],
                "code": {"text": "HbS genotype"}}),
            "diagnostics",
        ),
        ACT,
        "SICKLE",
    );
    let restricted = labelled(condition("r", "community", "Asthma"), CONF, "R");
    let very = labelled(condition("v", "community", "Asthma"), CONF, "V");
    let all = [psychiatry, substance, admission, genomic, restricted, very];
    // 3b: Community tier 2, Hospitals tier 1.
    let d = decide(&policy, &all, &viewer("3b"));
    for id in ["psy", "eth", "admission"] {
        assert_eq!(
            by_id(&d, id).decision,
            Verdict::Allow,
            "{id}: {:?}",
            reasons(&d, id)
        );
    }
    // 1a: Diagnostics tier 3 shows genomic results, labelled or not.
    let d = decide(&policy, &all, &viewer("1a"));
    assert_eq!(
        by_id(&d, "genomic").decision,
        Verdict::Allow,
        "{:?}",
        reasons(&d, "genomic")
    );
    for profile in ["1a", "1b", "3b", "7"] {
        let d = decide(&policy, &all, &viewer(profile));
        assert_eq!(reasons(&d, "r"), ["security_label"], "{profile}");
        assert_eq!(reasons(&d, "v"), ["security_label"], "{profile}");
    }
    let notes = policy
        .document()
        .exclusions
        .security_labels
        .iter()
        .filter(|l| l.withhold)
        .all(|l| {
            l.note
                .as_deref()
                .is_some_and(|n| n.contains("beyond the framework"))
        });
    assert!(
        notes,
        "every withholding label is documented as a controller's restriction"
    );
}
