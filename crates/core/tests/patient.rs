//! The own-record profile and proxy scopes (issue 7): what the person
//! themself and a carer acting for them may see, and how the engine fails
//! closed around them. The conformance vectors `joe-patient-own-record`,
//! `joe-record-wrong-patient-sees-nothing` and `joe-carer-appointments-scope`
//! pin the full decisions over Joe's demo record; these tests cover the
//! edges.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};
use tiergate_core::{
    ConsentSet, Limits, Policy, RedactError, Redacted, Request, Verdict, Viewer, ViewerError,
    DEFAULT_POLICY_JSON,
};
use time::macros::datetime;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::default_policy().unwrap())
}

fn demo(rel: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data", rel]
        .iter()
        .collect();
    std::fs::read(&path).unwrap()
}

fn patient_viewer(patient: Option<&str>, scopes: Option<&[&str]>) -> Viewer {
    let mut v = json!({
        "user_id": "joe.whitfield", "organisation": "PATIENT", "profile": "patient",
        "purpose": "direct-care", "training": null
    });
    if let Some(p) = patient {
        v["patient"] = json!(p);
    }
    if let Some(s) = scopes {
        v["proxy_scopes"] = json!(s);
    }
    Viewer::from_json(v.to_string().as_bytes()).unwrap()
}

fn try_redact(record: &[u8], viewer: &Viewer) -> Result<Redacted, RedactError> {
    // No consent at all: the own-record view does not need it.
    let consent = ConsentSet::default().compile(policy()).unwrap();
    let request = Request {
        viewer,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
    };
    policy().redact(record, &request, Limits::default())
}

fn seen(r: &Redacted) -> Vec<String> {
    r.decisions
        .entries
        .iter()
        .filter(|d| d.decision == Verdict::Allow)
        .filter_map(|d| d.id.clone())
        .collect()
}

fn reason_of(r: &Redacted, id: &str) -> Vec<String> {
    r.decisions
        .entries
        .iter()
        .find(|d| d.id.as_deref() == Some(id))
        .map(|d| d.reasons.iter().map(|x| x.code()).collect())
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

#[test]
fn the_person_sees_their_own_excluded_entries_without_consent() {
    let r = try_redact(
        &demo("joe.json"),
        &patient_viewer(Some("joe-patient"), None),
    )
    .unwrap();
    let ids = seen(&r);
    // Complaints (9U...) are Appendix 1: withheld from every professional,
    // but it is Joe's own record.
    assert!(ids.contains(&"joe-complaint".to_owned()));
    assert!(ids.contains(&"joe-hospital-notes".to_owned()));
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("\"joe-complaint\""));
}

#[test]
fn not_online_entries_are_withheld_from_the_patient_only() {
    let r = try_redact(
        &demo("joe.json"),
        &patient_viewer(Some("joe-patient"), None),
    )
    .unwrap();
    assert_eq!(reason_of(&r, "joe-cxr"), vec!["not_for_online"]);
    let body = String::from_utf8(r.body).unwrap();
    assert!(!body.contains("joe-cxr"));
    assert!(!body.contains("Right upper lobe"));

    // A professional with consent to Diagnostics tier 2 is not affected by
    // the label: it is about online viewing by the person.
    let gp = Viewer::from_json(&demo("viewers/district-nurse-7.json")).unwrap();
    let consent = ConsentSet::from_json(
        br#"{"directives": [{"id": "all", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
            "actors": {"profiles": ["7"]}, "scope": {"segments": [{"segment": "diagnostics", "tier": 2}]}}]}"#,
        policy(),
    )
    .unwrap()
    .compile(policy())
    .unwrap();
    let request = Request {
        viewer: &gp,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
    };
    let r = policy()
        .redact(&demo("joe.json"), &request, Limits::default())
        .unwrap();
    assert!(seen(&r).contains(&"joe-cxr".to_owned()));
}

#[test]
fn another_persons_record_or_no_patient_gives_nothing() {
    for viewer in [
        patient_viewer(Some("susan-patient"), None),
        patient_viewer(None, None),
        patient_viewer(Some(""), None),
    ] {
        let r = try_redact(&demo("joe.json"), &viewer).unwrap();
        assert_eq!(r.decisions.summary.allowed, 0, "{:?}", viewer.patient);
        assert_eq!(
            r.decisions.summary.withheld_by_reason.get("not_own_record"),
            Some(&r.decisions.summary.entries)
        );
        let body = String::from_utf8(r.body).unwrap();
        assert!(!body.contains("Whitfield"));
    }
}

#[test]
fn a_record_that_mixes_two_patients_is_nobodys_own_record() {
    let mut record: Value = serde_json::from_slice(&demo("joe.json")).unwrap();
    record["entry"][1]["resource"]["subject"] = json!({"reference": "Patient/susan-patient"});
    let bytes = serde_json::to_vec(&record).unwrap();
    let r = try_redact(&bytes, &patient_viewer(Some("joe-patient"), None)).unwrap();
    assert_eq!(r.decisions.summary.allowed, 0);

    // A single resource with no patient at all: fail closed too.
    let r = try_redact(
        br#"{"resourceType": "Practitioner", "id": "p1"}"#,
        &patient_viewer(Some("joe-patient"), None),
    )
    .unwrap();
    assert_eq!(r.decisions.summary.allowed, 0);
}

#[test]
fn a_proxy_sees_only_what_the_grant_covers() {
    let appointments = patient_viewer(Some("joe-patient"), Some(&["appointments"]));
    let r = try_redact(&demo("joe.json"), &appointments).unwrap();
    let ids = seen(&r);
    assert!(ids.contains(&"joe-appt".to_owned()));
    assert!(ids.contains(&"joe-careplan".to_owned()));
    assert!(!ids.contains(&"joe-cond-copd".to_owned()));
    assert!(!ids.contains(&"joe-patient".to_owned()));
    assert_eq!(reason_of(&r, "joe-med-metformin"), vec!["proxy_scope"]);

    // Booking alone shows nothing of the record.
    let booking = patient_viewer(Some("joe-patient"), Some(&["booking"]));
    let r = try_redact(&demo("joe.json"), &booking).unwrap();
    assert_eq!(r.decisions.summary.allowed, 0);

    // `record` is everything the person sees, still without not-online entries.
    let record = patient_viewer(Some("joe-patient"), Some(&["record", "booking"]));
    let own = patient_viewer(Some("joe-patient"), None);
    let a = try_redact(&demo("joe.json"), &record).unwrap();
    let b = try_redact(&demo("joe.json"), &own).unwrap();
    assert_eq!(seen(&a), seen(&b));
    assert_eq!(a.body, b.body);
}

#[test]
fn an_unknown_scope_refuses_the_request() {
    let v = patient_viewer(Some("joe-patient"), Some(&["appointments", "everything"]));
    match v.validate(policy()) {
        Err(ViewerError::UnknownProxyScope { scope }) => assert_eq!(scope, "everything"),
        other => panic!("{other:?}"),
    }
    let err = try_redact(&demo("joe.json"), &v).unwrap_err();
    assert!(err.to_string().contains("/proxy_scopes"), "{err}");
}

#[test]
fn break_glass_is_not_open_to_the_person() {
    let mut v = patient_viewer(Some("joe-patient"), None);
    v.break_glass = Some(tiergate_core::BreakGlass {
        reason: Some("unconscious".into()),
        detail: None,
        started: "2026-11-25T11:30:00Z".into(),
    });
    assert!(matches!(
        v.validate(policy()),
        Err(ViewerError::BreakGlassNotApplicable { .. })
    ));
    assert!(try_redact(&demo("joe.json"), &v).is_err());
}

#[test]
fn viewer_json_without_the_new_fields_still_parses() {
    let v = Viewer::from_json(&demo("viewers/gp-1b.json")).unwrap();
    assert_eq!(v.patient, None);
    assert_eq!(v.proxy_scopes, None);
    let out = serde_json::to_value(&v).unwrap();
    assert!(out.get("patient").is_none());
}

#[test]
fn scope_helpers_answer_from_the_policy() {
    let p = policy();
    let s = |ids: &[&str]| ids.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert!(p.scope_permits(&s(&["appointments", "booking"]), "book"));
    assert!(!p.scope_permits(&s(&["appointments", "record"]), "book"));
    assert!(!p.scope_permits(&s(&["no-such-scope"]), "book"));
    assert!(p.scope_permits(&s(&["sharing"]), "manage-sharing"));
    assert!(p.scope_permits(&s(&["access-log"]), "view-access-log"));
    let appts = p.proxy_scope("appointments").unwrap();
    assert_eq!(appts.content, vec!["appointments", "care_plans"]);
    assert!(appts.permits.is_empty());
    let ids: Vec<&str> = p.proxy_scopes().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["appointments", "record", "booking", "sharing", "access-log"]
    );
}

// ---------------------------------------------------------------------------
// The policy checker.

fn problems(doc: &Value) -> Vec<(String, String)> {
    match Policy::from_json(&serde_json::to_vec(doc).unwrap()) {
        Ok(_) => panic!("compiled"),
        Err(e) => e
            .problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect(),
    }
}

fn doc() -> Value {
    serde_json::from_str(DEFAULT_POLICY_JSON).unwrap()
}

#[test]
fn scopes_with_unknown_or_duplicate_content_are_problems() {
    let mut d = doc();
    d["proxy_scopes"][0]["content"] = json!(["appointments", "appointmnets", "appointments"]);
    let found = problems(&d);
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/proxy_scopes/0/content/1", "/proxy_scopes/0/content/2"]
    );
    assert!(found[0].1.contains("unknown content `appointmnets`"));
    assert!(found[1].1.contains("duplicate"));

    let mut d = doc();
    d["proxy_scopes"][1]["id"] = json!("appointments");
    assert_eq!(problems(&d)[0].0, "/proxy_scopes/1/id");

    let mut d = doc();
    d["proxy_scopes"][2]["permits"] = json!(["book", "book"]);
    assert_eq!(problems(&d)[0].0, "/proxy_scopes/2/permits/1");

    let mut d = doc();
    d["proxy_scopes"][2]["permits"] = json!([]);
    assert_eq!(problems(&d)[0].0, "/proxy_scopes/2");
}

#[test]
fn only_an_own_record_profile_may_relax_the_framework() {
    let mut d = doc();
    d["profiles"][0]["properties"] = json!({"consent_required": false, "exclusions_apply": false});
    let paths: Vec<String> = problems(&d).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/profiles/0/properties/consent_required",
            "/profiles/0/properties/exclusions_apply"
        ]
    );
}

#[test]
fn an_online_label_needs_one_action() {
    let mut d = doc();
    let labels = d["exclusions"]["security_labels"].as_array_mut().unwrap();
    let last = labels.len() - 1;
    labels[last]["withhold"] = json!(true);
    let found = problems(&d);
    assert_eq!(found[0].0, format!("/exclusions/security_labels/{last}"));
}
