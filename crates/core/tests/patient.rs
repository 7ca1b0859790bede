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
        // Joe made the grant himself.
        v["proxy_agreed"] = json!("2026-10-01T09:00:00Z");
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
        holding_organisation: None,
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
        holding_organisation: None,
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

    // `record` is everything the person sees but Appendix 1 (see below),
    // still without not-online entries.
    let mut record = patient_viewer(Some("joe-patient"), Some(&["record", "booking"]));
    let own = patient_viewer(Some("joe-patient"), None);
    let a = try_redact(&demo("joe.json"), &record).unwrap();
    let b = try_redact(&demo("joe.json"), &own).unwrap();
    let mut own_ids = seen(&b);
    own_ids.retain(|id| id != "joe-complaint");
    assert_eq!(seen(&a), own_ids);
    record.proxy_categories = Some(vec!["complaints".into()]);
    let a = try_redact(&demo("joe.json"), &record).unwrap();
    assert_eq!(seen(&a), seen(&b));
    assert_eq!(a.body, b.body);
}

// Appendix 1 is about sharing a record: a proxy is not the person.

/// A primary-care record with an HIV diagnosis, an HIV test result (which
/// Diagnostics tier 3 lifts for professionals), a complaint and an entry
/// under a restricting security label, for a patient born on `birth`.
fn sensitive_record(birth: Option<&str>) -> Vec<u8> {
    let mut patient =
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Okafor"}]});
    if let Some(b) = birth {
        patient["birthDate"] = json!(b);
    }
    let coded = |id: &str, ty: &str, code: &str, text: &str| {
        let mut r = json!({"resource": {"resourceType": ty, "id": id, "subject": {"reference": "Patient/p1"},
            "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
            "code": {"coding": [{"system": "http://read.info/readv2", "code": code}], "text": text}}});
        if ty == "Condition" {
            r["resource"]["clinicalStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]});
            r["resource"]["category"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}]);
        }
        r
    };
    let mut result = coded("hiv-test", "Observation", "43d5.", "Blood test");
    result["resource"]["status"] = json!("final");
    result["resource"]["category"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]);
    let mut labelled = coded("asthma-labelled", "Condition", "H33..", "Asthma");
    labelled["resource"]["meta"]["security"] = json!([{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]);
    let record = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient},
        coded("hiv", "Condition", "A788.", "Acquired immune deficiency syndrome"),
        result,
        coded("asthma", "Condition", "H33..", "Asthma"),
        labelled,
    ]});
    serde_json::to_vec(&record).unwrap()
}

fn proxy(scopes: &[&str], agreed: Option<&str>, categories: Option<&[&str]>) -> Viewer {
    let mut v = json!({
        "user_id": "ada.okafor", "organisation": "PATIENT", "profile": "patient",
        "purpose": "direct-care", "training": null, "patient": "p1", "proxy_scopes": scopes
    });
    if let Some(a) = agreed {
        v["proxy_agreed"] = json!(a);
    }
    if let Some(c) = categories {
        v["proxy_categories"] = json!(c);
    }
    Viewer::from_json(v.to_string().as_bytes()).unwrap()
}

#[test]
fn appendix_1_entries_are_withheld_from_a_proxy_unless_the_person_grants_the_category_by_name() {
    let record = sensitive_record(Some("1970-01-01"));
    let own = try_redact(&record, &patient_viewer(Some("p1"), None)).unwrap();
    let mut own_ids = seen(&own);
    own_ids.sort();
    assert_eq!(own_ids, ["asthma", "hiv", "hiv-test", "p1"]);

    let carer = proxy(&["record"], Some("2026-10-01T09:00:00Z"), None);
    let r = try_redact(&record, &carer).unwrap();
    let mut ids = seen(&r);
    ids.sort();
    assert_eq!(ids, ["asthma", "p1"]);
    assert_eq!(reason_of(&r, "hiv"), vec!["excluded_category:hiv_aids"]);
    // Diagnostics tier 3 lifts exclusions for professionals with consent,
    // never for a proxy.
    assert_eq!(
        reason_of(&r, "hiv-test"),
        vec!["excluded_category:hiv_aids"]
    );
    assert_eq!(reason_of(&r, "asthma-labelled"), vec!["security_label"]);
    let body = String::from_utf8(r.body).unwrap();
    assert!(!body.to_lowercase().contains("immune"), "{body}");

    // Granted by name: that category, and no other.
    let trusted = proxy(
        &["record"],
        Some("2026-10-01T09:00:00Z"),
        Some(&["hiv_aids"]),
    );
    let mut ids = seen(&try_redact(&record, &trusted).unwrap());
    ids.sort();
    assert_eq!(ids, ["asthma", "hiv", "hiv-test", "p1"]);
    let other = proxy(
        &["record"],
        Some("2026-10-01T09:00:00Z"),
        Some(&["complaints"]),
    );
    let r = try_redact(&record, &other).unwrap();
    assert_eq!(reason_of(&r, "hiv"), vec!["excluded_category:hiv_aids"]);

    // A proxy policy without the rule shares the person's view, as data.
    let mut doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    doc["proxies"]["exclusions_apply"] = json!(false);
    let relaxed = Policy::from_json(doc.to_string().as_bytes()).unwrap();
    let consent = ConsentSet::default().compile(&relaxed).unwrap();
    let request = Request {
        viewer: &carer,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    let r = relaxed
        .redact(&record, &request, Limits::default())
        .unwrap();
    assert!(seen(&r).contains(&"hiv".to_owned()));
}

#[test]
fn a_category_that_is_not_the_policys_refuses_the_request() {
    let v = proxy(&["record"], None, Some(&["hiv"]));
    assert!(
        matches!(v.validate(policy()), Err(ViewerError::Shape { ref path, .. }) if path == "/proxy_categories")
    );
    let own = json!({"user_id": "u", "organisation": "PATIENT", "profile": "patient", "purpose": "direct-care",
        "training": null, "patient": "p1", "proxy_categories": ["hiv_aids"]});
    let own = Viewer::from_json(own.to_string().as_bytes()).unwrap();
    assert!(
        try_redact(&sensitive_record(None), &own).is_err(),
        "categories without a proxy grant"
    );
}

// Proxies and the patient's age (policy `proxies.ages`): under 11 a
// parent holds what the practice allows; 11 to 15, appointments and
// booking, and the record only with the young person's agreement; at 16,
// grants made by others lapse unless the young person renews them.

fn proxy_sees(birth: Option<&str>, scopes: &[&str], agreed: Option<&str>) -> Vec<String> {
    let mut record: Value = serde_json::from_slice(&sensitive_record(birth)).unwrap();
    record["entry"].as_array_mut().unwrap().push(
        json!({"resource": {"resourceType": "Appointment", "id": "appt", "status": "booked",
            "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:15:00Z",
            "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]}}),
    );
    let bytes = serde_json::to_vec(&record).unwrap();
    let mut ids = seen(&try_redact(&bytes, &proxy(scopes, agreed, None)).unwrap());
    ids.sort();
    ids
}

#[test]
fn a_parent_of_a_child_under_11_holds_the_grant_as_made() {
    assert_eq!(
        proxy_sees(Some("2019-06-14"), &["appointments", "record"], None),
        ["appt", "asthma", "p1"]
    );
}

#[test]
fn from_11_the_record_needs_the_young_persons_own_agreement() {
    let birth = Some("2013-03-02"); // 13
    let scopes = &["appointments", "booking", "record"];
    assert_eq!(proxy_sees(birth, scopes, None), ["appt"]);
    // Agreement counts only once they are 11.
    assert_eq!(
        proxy_sees(birth, scopes, Some("2024-03-01T10:00:00Z")),
        ["appt"]
    );
    assert_eq!(
        proxy_sees(birth, scopes, Some("2024-03-02T10:00:00Z")),
        ["appt", "asthma", "p1"]
    );
    // The day before the 11th birthday the grant is whole.
    let almost = Some("2015-11-26");
    assert_eq!(
        proxy_sees(almost, &["record"], None),
        ["appt", "asthma", "p1"]
    );
    assert_eq!(
        proxy_sees(Some("2015-11-25"), &["record"], None),
        Vec::<String>::new()
    );
}

#[test]
fn at_16_grants_made_by_others_lapse_unless_renewed() {
    let sixteen_today = Some("2010-11-25");
    let scopes = &["appointments", "record"];
    assert_eq!(
        proxy_sees(sixteen_today, scopes, None),
        Vec::<String>::new()
    );
    // Agreement at 15 was not a renewal at 16.
    assert_eq!(
        proxy_sees(sixteen_today, scopes, Some("2026-11-24T10:00:00Z")),
        Vec::<String>::new()
    );
    assert_eq!(
        proxy_sees(sixteen_today, scopes, Some("2026-11-25T08:00:00Z")),
        ["appt", "asthma", "p1"]
    );
    assert_eq!(
        proxy_sees(Some("2010-11-26"), &["appointments"], None),
        ["appt"],
        "still 15"
    );
}

#[test]
fn an_unknown_or_partial_birth_date_gives_what_every_possible_age_allows() {
    let scopes = &["appointments", "record"];
    // No birth date: a grant by others gives nothing (16 and over), an
    // agreed one what 11 to 15 allows with agreement.
    assert_eq!(proxy_sees(None, scopes, None), Vec::<String>::new());
    assert_eq!(
        proxy_sees(None, scopes, Some("2026-01-01T00:00:00Z")),
        ["appt", "asthma", "p1"]
    );
    // Born in 2010: 15 or 16 on the day; agreement made in January might
    // have been before the 16th birthday.
    assert_eq!(
        proxy_sees(Some("2010"), scopes, Some("2026-01-05T00:00:00Z")),
        Vec::<String>::new()
    );
    assert_eq!(
        proxy_sees(Some("2010"), scopes, Some("2026-11-20T00:00:00Z")),
        Vec::<String>::new()
    );
    assert_eq!(
        proxy_sees(Some("2010-06"), scopes, Some("2026-07-01T00:00:00Z")),
        ["appt", "asthma", "p1"]
    );
    // An unreadable birth date is no birth date.
    assert_eq!(
        proxy_sees(Some("not a date"), scopes, None),
        Vec::<String>::new()
    );
}

#[test]
fn proxy_scopes_at_is_what_the_edge_asks_for_permits() {
    let now = datetime!(2026-11-25 12:00 UTC);
    let granted: Vec<String> = ["booking", "record", "sharing"].map(String::from).to_vec();
    assert_eq!(
        policy().proxy_scopes_at(&granted, None, Some("2019-06-14"), now),
        granted
    );
    assert_eq!(
        policy().proxy_scopes_at(&granted, None, Some("2013-03-02"), now),
        ["booking"]
    );
    assert_eq!(
        policy().proxy_scopes_at(
            &granted,
            Some(datetime!(2025-01-01 0:00 UTC)),
            Some("2013-03-02"),
            now
        ),
        ["booking", "record"]
    );
    assert!(policy()
        .proxy_scopes_at(&granted, None, Some("1963-04-12"), now)
        .is_empty());
}

#[test]
fn age_bands_are_checked_when_the_policy_is_compiled() {
    let problems = |d: &Value| -> Vec<String> {
        match Policy::from_json(d.to_string().as_bytes()) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.path.clone()).collect(),
        }
    };
    let base: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    let mut d = base.clone();
    d["proxies"]["ages"][0]["from_age"] = json!(2);
    assert_eq!(problems(&d), ["/proxies/ages/0/from_age"]);
    let mut d = base.clone();
    d["proxies"]["ages"][2]["from_age"] = json!(11);
    assert_eq!(problems(&d), ["/proxies/ages/2/from_age"]);
    let mut d = base.clone();
    d["proxies"]["ages"][1]["with_agreement"] = json!(["records"]);
    assert_eq!(problems(&d), ["/proxies/ages/1/with_agreement/0"]);
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
