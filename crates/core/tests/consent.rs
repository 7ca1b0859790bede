//! Consent, opt-out, break glass, training and purpose (framework 6.2, 6.5).
//!
//! One record with entries across every segment is decided for viewers
//! under different directives, in the compact form and as FHIR R4 Consent
//! resources.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};
use tiergate_core::{
    BreakGlass, BreakGlassError, CompiledConsent, ConsentError, ConsentSet, Decisions,
    EntryDecision, Limits, Policy, Reason, RedactError, Request, Training, Verdict, Viewer,
    DEFAULT_POLICY_JSON,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
/// Southport and Ormskirk Hospital NHS Trust (Joe's AED).
const ORG: &str = "RVY";
const OTHER_ORG: &str = "REM";
const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const HINT: &str = "https://fhir.tiergate.example/CodeSystem/content-hint";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const READ_V2: &str = "http://read.info/readv2";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const PROFILE_SYSTEM: &str = "https://fhir.tiergate.example/CodeSystem/profile";
const PLACEMENT: &str = "https://fhir.tiergate.example/CodeSystem/placement";
const CATEGORY: &str = "https://fhir.tiergate.example/CodeSystem/exclusion-category";
const CONTENT: &str = "https://fhir.tiergate.example/CodeSystem/content";

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::default_policy().unwrap())
}

// ---------------------------------------------------------------------------
// The record.

fn cc(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

fn tagged(setting: &str) -> Value {
    json!({"tag": [{"system": SETTING, "code": setting}]})
}

/// Entry ids and where the policy places them (for reading the tests):
///
/// | id | placement |
/// | --- | --- |
/// | pat | S1 |
/// | allergy, med | S2 and C2 |
/// | careplan | S3 |
/// | sig-event | C1 |
/// | community-obs | C2 |
/// | community-doc | C3 |
/// | fbc | D1 |
/// | lab | D2 |
/// | hiv-test | D2, HIV and AIDS exclusion |
/// | genome | D3 |
/// | admission | H1 |
/// | letter | H2 |
/// | epma | H3 |
fn record() -> Value {
    let resources = vec![
        json!({"resourceType": "Patient", "id": "pat"}),
        json!({"resourceType": "AllergyIntolerance", "id": "allergy", "meta": tagged("primary_care"),
               "code": cc(SNOMED, "91936005")}),
        json!({"resourceType": "MedicationStatement", "id": "med", "meta": tagged("primary_care"),
               "status": "active", "medicationCodeableConcept": cc(SNOMED, "322236009")}),
        json!({"resourceType": "CarePlan", "id": "careplan", "meta": tagged("community"),
               "status": "active", "intent": "plan"}),
        json!({"resourceType": "Condition", "id": "sig-event",
               "meta": {"tag": [{"system": HINT, "code": "significant-event"}]},
               "code": cc(SNOMED, "22298006")}),
        json!({"resourceType": "Observation", "id": "community-obs", "meta": tagged("community"),
               "status": "final", "code": cc(SNOMED, "271649006")}),
        json!({"resourceType": "DocumentReference", "id": "community-doc", "meta": tagged("community"),
               "status": "current"}),
        json!({"resourceType": "Observation", "id": "fbc", "status": "final",
               "category": [cc(OBS_CATEGORY, "laboratory")], "code": cc(LOINC, "58410-2")}),
        json!({"resourceType": "Observation", "id": "lab", "status": "final",
               "category": [cc(OBS_CATEGORY, "laboratory")], "code": cc(LOINC, "5196-1")}),
        json!({"resourceType": "Observation", "id": "hiv-test", "status": "final",
               "category": [cc(OBS_CATEGORY, "laboratory")], "code": cc(READ_V2, "43W7.")}),
        json!({"resourceType": "MolecularSequence", "id": "genome", "coordinateSystem": 0}),
        json!({"resourceType": "Encounter", "id": "admission", "meta": tagged("hospital"),
               "status": "in-progress"}),
        json!({"resourceType": "DocumentReference", "id": "letter", "meta": tagged("hospital"),
               "status": "current", "type": cc(LOINC, "18842-5")}),
        json!({"resourceType": "MedicationAdministration", "id": "epma", "meta": tagged("hospital"),
               "status": "completed"}),
    ];
    let entries: Vec<Value> = resources
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let url = format!("urn:uuid:7d3c2a90-5b1e-4c6f-9a2d-{i:012}");
            json!({"fullUrl": url, "resource": r})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

const ALL: [&str; 14] = [
    "pat",
    "allergy",
    "med",
    "careplan",
    "sig-event",
    "community-obs",
    "community-doc",
    "fbc",
    "lab",
    "hiv-test",
    "genome",
    "admission",
    "letter",
    "epma",
];

// ---------------------------------------------------------------------------
// Viewers, consent, decisions.

/// A professional; where the profile reaches Community tier 3, with the
/// approval for this patient that tier needs (7.2), so that consent alone
/// decides.
fn viewer(profile: &str, org: &str) -> Viewer {
    tiergate_testkit::with_community_approval(professional(profile, org), "pat")
}

fn professional(profile: &str, org: &str) -> Viewer {
    Viewer {
        user_id: format!("user-{profile}-{org}"),
        name: None,
        organisation: org.into(),
        profile: profile.into(),
        purpose: "direct-care".into(),
        training: Some(Training {
            completed: Some("2026-02-01".into()),
            expires: "2027-02-01".into(),
        }),
        break_glass: None,
        patient: None,
        proxy_scopes: None,
        proxy_categories: None,
        proxy_agreed: None,
        approvals: Vec::new(),
    }
}

fn break_glass(mut v: Viewer, reason: Option<&str>, started: OffsetDateTime) -> Viewer {
    v.break_glass = Some(BreakGlass {
        reason: reason.map(str::to_owned),
        detail: Some("unresponsive on arrival".into()),
        started: tiergate_core::fhirtime::format(started),
    });
    v
}

fn urgent(v: Viewer) -> Viewer {
    break_glass(v, Some("unconscious"), NOW - Duration::minutes(10))
}

fn compact(directives: Value) -> CompiledConsent {
    let p = policy();
    ConsentSet::from_value(&json!({ "directives": directives }), p)
        .unwrap()
        .compile(p)
        .unwrap()
}

fn fhir(value: Value) -> CompiledConsent {
    let p = policy();
    ConsentSet::from_value(&value, p)
        .unwrap()
        .compile(p)
        .unwrap()
}

fn none() -> CompiledConsent {
    compact(json!([]))
}

fn permit_all() -> Value {
    json!({"id": "permit-all", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
           "actors": {"organisations": [ORG]}})
}

fn try_decide(v: &Viewer, consent: &CompiledConsent) -> Result<Decisions, RedactError> {
    let request = Request {
        viewer: v,
        consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    policy().decide(&record(), &request)
}

fn decide(v: &Viewer, consent: &CompiledConsent) -> Decisions {
    try_decide(v, consent).unwrap()
}

fn entry<'a>(d: &'a Decisions, id: &str) -> &'a EntryDecision {
    d.entries
        .iter()
        .find(|e| e.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

fn allowed(d: &Decisions, id: &str) -> bool {
    entry(d, id).decision == Verdict::Allow
}

fn reasons(d: &Decisions, id: &str) -> Vec<String> {
    entry(d, id).reasons.iter().map(Reason::code).collect()
}

#[track_caller]
fn assert_allowed(d: &Decisions, ids: &[&str]) {
    for id in ids {
        let e = entry(d, id);
        assert_eq!(
            e.decision,
            Verdict::Allow,
            "{id} should be allowed: {:?}",
            e.reasons
        );
        assert!(e.reasons.is_empty(), "{id}");
    }
}

#[track_caller]
fn assert_withheld(d: &Decisions, ids: &[&str], reason: &str) {
    for id in ids {
        let e = entry(d, id);
        assert_eq!(e.decision, Verdict::Withhold, "{id} should be withheld");
        assert_eq!(reasons(d, id), vec![reason.to_owned()], "{id}");
    }
}

/// Ids allowed, in record order.
fn allowed_ids(d: &Decisions) -> Vec<&str> {
    d.entries
        .iter()
        .filter(|e| e.decision == Verdict::Allow)
        .filter_map(|e| e.id.as_deref())
        .collect()
}

// ---------------------------------------------------------------------------
// No consent and break glass.

#[test]
fn without_consent_nothing_is_shared() {
    // 1b: S3, C3, D3, H2.
    let d = decide(&viewer("1b", ORG), &none());
    assert_eq!(d.summary.allowed, 0);
    assert!(d.summary.break_glass.is_none());
    assert!(!d.summary.investigate);
    assert_withheld(
        &d,
        &[
            "pat",
            "allergy",
            "med",
            "careplan",
            "sig-event",
            "community-obs",
            "community-doc",
            "fbc",
            "lab",
            "genome",
            "admission",
            "letter",
        ],
        "no_consent",
    );
    assert_withheld(&d, &["hiv-test"], "excluded_category:hiv_aids");
    assert_withheld(&d, &["epma"], "tier_not_granted");

    // Consent for another organisation is no consent for this one.
    let theirs = compact(
        json!([{"id": "c", "kind": "permit", "recorded": "2026-11-01",
                                  "actors": {"organisations": [OTHER_ORG]}}]),
    );
    let d = decide(&viewer("1b", ORG), &theirs);
    assert_eq!(d.summary.allowed, 0);
    assert_withheld(&d, &["pat", "lab"], "no_consent");
}

#[test]
fn break_glass_stands_in_for_missing_consent_and_is_flagged() {
    let v = urgent(viewer("1a", ORG)); // S3, C2, D3, H3
    let d = decide(&v, &none());
    let shared = [
        "pat",
        "allergy",
        "med",
        "careplan",
        "sig-event",
        "community-obs",
        "fbc",
        "lab",
        "genome",
        "admission",
        "letter",
        "epma",
    ];
    assert_allowed(&d, &shared);
    for id in shared {
        let e = entry(&d, id);
        assert!(e.break_glass, "{id}");
        assert!(e.consent.is_none(), "{id}");
        assert!(e.allowed_by.is_some(), "{id}");
    }
    assert_eq!(
        entry(&d, "allergy").allowed_by.as_deref(),
        Some("summary-2")
    );
    assert_eq!(entry(&d, "epma").allowed_by.as_deref(), Some("hospitals-3"));
    assert_withheld(&d, &["community-doc"], "tier_not_granted");
    assert_withheld(&d, &["hiv-test"], "excluded_category:hiv_aids");
    assert!(!entry(&d, "hiv-test").break_glass);

    let s = &d.summary;
    assert!(s.investigate);
    assert_eq!(s.allowed, shared.len());
    assert_eq!(s.allowed_by_break_glass, shared.len());
    let bg = s.break_glass.as_ref().unwrap();
    assert_eq!(bg.reason.as_deref(), Some("unconscious"));
    assert_eq!(bg.started, "2026-11-25T11:50:00Z");
    assert_eq!(bg.expires, "2026-11-25T15:50:00Z");

    // With consent for part of the record, only the rest is down to break glass.
    let summary = compact(
        json!([{"id": "s", "kind": "permit", "recorded": "2026-11-01",
                                   "actors": {"organisations": [ORG]},
                                   "scope": {"segments": [{"segment": "summary"}]}}]),
    );
    let d = decide(&v, &summary);
    assert!(!entry(&d, "pat").break_glass);
    assert_eq!(entry(&d, "pat").consent.as_deref(), Some("s"));
    assert!(entry(&d, "lab").break_glass);
    assert_eq!(d.summary.allowed_by_break_glass, shared.len() - 4);
    assert!(d.summary.investigate);
}

#[test]
fn invalid_break_glass_is_refused_and_nothing_is_released() {
    let consent = compact(json!([permit_all()]));
    let recent = NOW - Duration::minutes(5);
    let cases: Vec<(Viewer, BreakGlassError)> = vec![
        (
            break_glass(viewer("6", ORG), None, recent),
            BreakGlassError::ReasonRequired,
        ),
        (
            break_glass(viewer("6", ORG), Some("   "), recent),
            BreakGlassError::ReasonRequired,
        ),
        (
            break_glass(viewer("6", ORG), Some("curiosity"), recent),
            BreakGlassError::UnknownReason {
                code: "curiosity".into(),
            },
        ),
        (
            break_glass(viewer("6", ORG), Some("Unconscious"), recent),
            BreakGlassError::UnknownReason {
                code: "Unconscious".into(),
            },
        ),
        (
            break_glass(
                viewer("6", ORG),
                Some("life-threatening"),
                NOW - Duration::minutes(241),
            ),
            BreakGlassError::Expired,
        ),
        (
            break_glass(
                viewer("6", ORG),
                Some("life-threatening"),
                NOW - Duration::minutes(240),
            ),
            BreakGlassError::Expired,
        ),
        (
            break_glass(
                viewer("6", ORG),
                Some("life-threatening"),
                NOW - Duration::days(3),
            ),
            BreakGlassError::Expired,
        ),
        (
            break_glass(
                viewer("6", ORG),
                Some("safeguarding"),
                NOW + Duration::minutes(30),
            ),
            BreakGlassError::NotStarted,
        ),
    ];
    let bytes = serde_json::to_vec(&record()).unwrap();
    for (v, want) in cases {
        let got = try_decide(&v, &consent).map(|_| ());
        assert_eq!(
            got,
            Err(RedactError::BreakGlass(want.clone())),
            "{:?}",
            v.break_glass
        );
        let request = Request {
            viewer: &v,
            consent: &consent,
            now: NOW,
            default_setting: None,
            holding_organisation: None,
        };
        let redacted = policy().redact(&bytes, &request, Limits::default());
        assert!(
            matches!(&redacted, Err(RedactError::BreakGlass(e)) if *e == want),
            "{:?}",
            v.break_glass
        );
    }
    // Just inside the window is fine.
    let v = break_glass(
        viewer("6", ORG),
        Some("prevent-serious-harm"),
        NOW - Duration::minutes(239),
    );
    assert!(try_decide(&v, &consent).is_ok());
}

// ---------------------------------------------------------------------------
// Opt-outs at every granularity.

fn opt_out(scope: Value) -> CompiledConsent {
    compact(json!([
        permit_all(),
        {"id": "opt-out", "kind": "deny", "recorded": "2026-11-10T09:00:00Z", "scope": scope}
    ]))
}

#[test]
fn opting_out_of_the_whole_record() {
    let d = decide(&viewer("1b", ORG), &opt_out(json!({})));
    assert_eq!(d.summary.allowed, 0);
    assert_withheld(
        &d,
        &[
            "pat",
            "allergy",
            "careplan",
            "sig-event",
            "community-doc",
            "fbc",
            "genome",
            "letter",
        ],
        "opted_out",
    );
    assert_eq!(d.summary.withheld_by_reason.get("opted_out"), Some(&12));
}

#[test]
fn opting_out_of_a_segment() {
    let d = decide(
        &viewer("1b", ORG),
        &opt_out(json!({"segments": [{"segment": "community"}]})),
    );
    assert_withheld(
        &d,
        &["sig-event", "community-obs", "community-doc"],
        "opted_out",
    );
    // Allergies are in the summary too, and the summary is still consented.
    assert_allowed(
        &d,
        &[
            "pat",
            "allergy",
            "med",
            "careplan",
            "fbc",
            "lab",
            "genome",
            "admission",
            "letter",
        ],
    );
    assert_eq!(
        entry(&d, "allergy").allowed_by.as_deref(),
        Some("summary-2")
    );
}

#[test]
fn opting_out_of_a_tier_covers_the_tiers_above() {
    let d = decide(
        &viewer("1b", ORG),
        &opt_out(json!({"segments": [{"segment": "community", "tier": 2}]})),
    );
    assert_allowed(&d, &["sig-event"]);
    assert_withheld(&d, &["community-obs", "community-doc"], "opted_out");
    assert_allowed(&d, &["pat", "allergy", "careplan", "lab", "admission"]);

    let d = decide(
        &viewer("1b", ORG),
        &opt_out(json!({"segments": [{"segment": "community", "tier": 3}]})),
    );
    assert_allowed(&d, &["sig-event", "community-obs"]);
    assert_withheld(&d, &["community-doc"], "opted_out");
}

#[test]
fn opting_out_of_an_exclusion_category_defeats_the_diagnostics_tier_3_lift() {
    let v = viewer("1a", ORG); // D3
    let before = decide(&v, &compact(json!([permit_all()])));
    assert_allowed(&before, &["hiv-test", "lab"]);

    let d = decide(&v, &opt_out(json!({"categories": ["hiv_aids"]})));
    assert_eq!(entry(&d, "hiv-test").decision, Verdict::Withhold);
    assert!(!reasons(&d, "hiv-test").is_empty());
    assert_allowed(&d, &["lab", "fbc", "genome", "pat"]);
    // Break glass does not bring it back.
    let d = decide(&urgent(v), &opt_out(json!({"categories": ["hiv_aids"]})));
    assert_eq!(entry(&d, "hiv-test").decision, Verdict::Withhold);
}

#[test]
fn opting_out_of_a_content_line() {
    let d = decide(
        &viewer("1b", ORG),
        &opt_out(json!({"content": ["allergies"]})),
    );
    // The allergy is withheld in every placement (summary and community).
    assert_withheld(&d, &["allergy"], "opted_out");
    assert_allowed(&d, &["med", "pat", "community-obs"]);
}

#[test]
fn opting_out_of_one_entry() {
    let d = decide(
        &viewer("1b", ORG),
        &opt_out(json!({"entries": ["Observation/lab"]})),
    );
    assert_withheld(&d, &["lab"], "opted_out");
    assert_allowed(&d, &["fbc", "community-obs", "pat"]);

    // By full URL.
    let rec = record();
    let url = rec["entry"][8]["fullUrl"].as_str().unwrap().to_owned();
    assert_eq!(rec["entry"][8]["resource"]["id"], "lab");
    let d = decide(&viewer("1b", ORG), &opt_out(json!({"entries": [url]})));
    assert_withheld(&d, &["lab"], "opted_out");
    assert_allowed(&d, &["fbc"]);
}

// ---------------------------------------------------------------------------
// Permits scoped by actor and placement.

#[test]
fn joe_aed_staff_see_summary_tier_2_and_nothing_else() {
    // Scenario 1: Joe consents to AED staff at Southport and Ormskirk seeing
    // summary tier 2 (medication, allergies, diagnoses).
    let joe = compact(json!([{
        "id": "joe", "kind": "permit", "recorded": "2026-11-24T22:10:00Z",
        "actors": {"organisations": [ORG], "profiles": ["6"]},
        "scope": {"segments": [{"segment": "summary", "tier": 2}]}
    }]));
    let d = decide(&viewer("6", ORG), &joe); // S3, C1, D3, H3
    assert_eq!(allowed_ids(&d), vec!["pat", "allergy", "med"]);
    assert_eq!(entry(&d, "allergy").consent.as_deref(), Some("joe"));
    assert_withheld(
        &d,
        &[
            "careplan",
            "sig-event",
            "fbc",
            "lab",
            "genome",
            "admission",
            "letter",
            "epma",
        ],
        "no_consent",
    );
    assert_withheld(&d, &["community-obs", "community-doc"], "tier_not_granted");

    // Another organisation sees nothing.
    let d = decide(&viewer("6", OTHER_ORG), &joe);
    assert_eq!(d.summary.allowed, 0);
    assert_withheld(&d, &["pat", "careplan", "lab"], "no_consent");
    // The allergy is also in community tier 2, which profile 6 does not reach.
    assert_eq!(
        reasons(&d, "allergy"),
        vec!["tier_not_granted", "no_consent"]
    );

    // Another profile at the same organisation sees nothing.
    let d = decide(&viewer("1a", ORG), &joe);
    assert_eq!(d.summary.allowed, 0);

    // Scoped by organisation only: any profile there, still only summary 1-2.
    let org_only = compact(json!([{
        "id": "org", "kind": "permit", "recorded": "2026-11-24",
        "actors": {"organisations": [ORG]},
        "scope": {"segments": [{"segment": "summary", "tier": 2}]}
    }]));
    let d = decide(&viewer("1a", ORG), &org_only);
    assert_eq!(allowed_ids(&d), vec!["pat", "allergy", "med"]);
    // Profile 5 reaches only summary tier 1.
    let d = decide(&viewer("5", ORG), &org_only);
    assert_eq!(allowed_ids(&d), vec!["pat"]);
    assert_withheld(&d, &["allergy", "med", "careplan"], "tier_not_granted");

    // Scoped by profile only: every organisation, that profile.
    let by_profile = compact(json!([{
        "id": "p", "kind": "permit", "recorded": "2026-11-24",
        "actors": {"profiles": ["6"]}
    }]));
    let d = decide(&viewer("6", OTHER_ORG), &by_profile);
    assert!(allowed(&d, "careplan") && allowed(&d, "lab") && allowed(&d, "epma"));
    let d = decide(&viewer("1a", OTHER_ORG), &by_profile);
    assert_eq!(d.summary.allowed, 0);

    // Scoped by user.
    let by_user = compact(json!([{
        "id": "u", "kind": "permit", "recorded": "2026-11-24",
        "actors": {"users": ["user-1a-RVY"]}
    }]));
    assert!(allowed(&decide(&viewer("1a", ORG), &by_user), "pat"));
    assert!(!allowed(&decide(&viewer("1a", OTHER_ORG), &by_user), "pat"));
}

#[test]
fn a_permit_for_a_tier_covers_the_tiers_below_only() {
    let c = compact(json!([{
        "id": "d2", "kind": "permit", "recorded": "2026-11-24",
        "actors": {"organisations": [ORG]},
        "scope": {"segments": [{"segment": "diagnostics", "tier": 2}]}
    }]));
    let d = decide(&viewer("1a", ORG), &c);
    assert_eq!(allowed_ids(&d), vec!["fbc", "lab"]);
    assert_withheld(&d, &["genome"], "no_consent");
    // The HIV test sits in D2, which this permit covers, but only tier 3
    // lifts exclusions, and the patient did not consent to tier 3.
    assert_withheld(&d, &["hiv-test"], "excluded_category:hiv_aids");
}

// ---------------------------------------------------------------------------
// Time.

#[test]
fn directives_outside_their_period_are_not_in_force() {
    let expired = compact(json!([{
        "id": "old", "kind": "permit", "recorded": "2026-01-01",
        "period": {"start": "2026-01-01", "end": "2026-11-20"},
        "actors": {"organisations": [ORG]}
    }]));
    let d = decide(&viewer("1a", ORG), &expired);
    assert_eq!(d.summary.allowed, 0);
    assert_withheld(&d, &["pat", "lab"], "no_consent");

    let future = compact(json!([{
        "id": "future", "kind": "permit", "recorded": "2026-11-24",
        "period": {"start": "2026-12-01"},
        "actors": {"organisations": [ORG]}
    }]));
    assert_eq!(decide(&viewer("1a", ORG), &future).summary.allowed, 0);

    // A date-only end includes the whole of that day.
    let today = compact(json!([{
        "id": "today", "kind": "permit", "recorded": "2026-11-01",
        "period": {"end": "2026-11-25"},
        "actors": {"organisations": [ORG]}
    }]));
    assert!(allowed(&decide(&viewer("1a", ORG), &today), "pat"));

    // An expired opt-out no longer withholds.
    let c = compact(json!([
        permit_all(),
        {"id": "pause", "kind": "deny", "recorded": "2026-11-02",
         "period": {"start": "2026-11-02", "end": "2026-11-09"}}
    ]));
    assert!(allowed(&decide(&viewer("1a", ORG), &c), "pat"));
}

/// Framework 6.2: the person "holds the right to opt out"; their opt-out
/// stands until they withdraw it by name, and no permit, earlier or later,
/// widens what it withholds (docs/consent.md, precedence).
#[test]
fn an_opt_out_stands_until_withdrawn() {
    let permit = |recorded: &str| {
        json!({"id": format!("permit@{recorded}"), "kind": "permit", "recorded": recorded,
               "actors": {"organisations": [ORG]}})
    };
    let deny = |recorded: &str| json!({"id": format!("deny@{recorded}"), "kind": "deny", "recorded": recorded});
    let withdraw = |recorded: &str, of: &str| json!({"id": format!("withdraw@{recorded}"), "kind": "withdraw", "recorded": recorded, "withdraws": of});

    // Permit, then deny: withheld.
    let c = compact(json!([
        permit("2026-11-01T09:00:00Z"),
        deny("2026-11-02T09:00:00Z")
    ]));
    let d = decide(&viewer("1a", ORG), &c);
    assert_eq!(d.summary.allowed, 0);
    assert_withheld(&d, &["pat", "lab"], "opted_out");

    // Deny, then a later permit: still withheld.
    let c = compact(json!([
        deny("2026-11-01T09:00:00Z"),
        permit("2026-11-02T09:00:00Z")
    ]));
    assert_withheld(
        &decide(&viewer("1a", ORG), &c),
        &["pat", "lab", "careplan"],
        "opted_out",
    );

    // Deny, its withdrawal, then a permit: shared by the permit.
    let c = compact(json!([
        deny("2026-11-01T09:00:00Z"),
        withdraw("2026-11-02T09:00:00Z", "deny@2026-11-01T09:00:00Z"),
        permit("2026-11-03T09:00:00Z")
    ]));
    let d = decide(&viewer("1a", ORG), &c);
    assert_allowed(&d, &["pat", "lab", "careplan"]);
    assert_eq!(
        entry(&d, "pat").consent.as_deref(),
        Some("permit@2026-11-03T09:00:00Z")
    );

    // A withdrawal recorded before the opt-out, or naming another, withdraws nothing.
    for w in [
        withdraw("2026-10-01T09:00:00Z", "deny@2026-11-01T09:00:00Z"),
        withdraw("2026-11-02T09:00:00Z", "no-such-opt-out"),
    ] {
        let c = compact(json!([
            deny("2026-11-01T09:00:00Z"),
            w,
            permit("2026-11-03T09:00:00Z")
        ]));
        assert_withheld(&decide(&viewer("1a", ORG), &c), &["pat"], "opted_out");
    }

    // A later, narrower permit does not re-open part of an opted-out record.
    let c = compact(json!([
        deny("2026-11-01T09:00:00Z"),
        {"id": "summary", "kind": "permit", "recorded": "2026-11-03",
         "actors": {"organisations": [ORG]},
         "scope": {"segments": [{"segment": "summary", "tier": 2}]}}
    ]));
    let d = decide(&viewer("1a", ORG), &c);
    assert_eq!(allowed_ids(&d), Vec::<String>::new());
    assert_withheld(&d, &["pat", "careplan", "lab"], "opted_out");

    // A narrower opt-out withholds only what it covers; a permit shares the rest.
    let c = compact(json!([
        {"id": "no-community", "kind": "deny", "recorded": "2026-11-01",
         "scope": {"segments": [{"segment": "community"}]}},
        permit("2026-11-03T09:00:00Z")
    ]));
    let d = decide(&viewer("1a", ORG), &c);
    assert!(allowed(&d, "pat") && allowed(&d, "lab"));
    assert_withheld(&d, &["sig-event"], "opted_out");

    // A withdrawal is not a permit, and names what it withdraws.
    let c = compact(json!([
        deny("2026-11-01T09:00:00Z"),
        withdraw("2026-11-02T09:00:00Z", "deny@2026-11-01T09:00:00Z")
    ]));
    assert_withheld(&decide(&viewer("1a", ORG), &c), &["pat"], "no_consent");
    let bad = ConsentSet::from_value(
        &json!({"directives": [{"id": "w", "kind": "withdraw", "recorded": "2026-11-02"}]}),
        policy(),
    );
    assert_eq!(bad.unwrap_err().path, "/directives/0/withdraws");
}

#[test]
fn break_glass_does_not_override_an_opt_out() {
    let c = opt_out(json!({}));
    let d = decide(&urgent(viewer("1a", ORG)), &c);
    assert_eq!(d.summary.allowed, 0);
    assert_eq!(d.summary.allowed_by_break_glass, 0);
    assert_withheld(&d, &["pat", "allergy", "lab", "admission"], "opted_out");
    assert!(d.entries.iter().all(|e| !e.break_glass));
    // The access is still investigated.
    assert!(d.summary.investigate);

    // A partial opt-out: break glass covers the silent rest, not the opt-out.
    let c = compact(
        json!([{"id": "no-community", "kind": "deny", "recorded": "2026-11-01",
                            "scope": {"segments": [{"segment": "community"}]}}]),
    );
    let d = decide(&urgent(viewer("1a", ORG)), &c);
    assert_withheld(&d, &["sig-event", "community-obs"], "opted_out");
    assert!(allowed(&d, "pat") && entry(&d, "pat").break_glass);

    // Unless the policy says otherwise.
    let mut doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    doc["break_glass"]["overrides_opt_out"] = json!(true);
    let overriding = Policy::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let v = urgent(viewer("1a", ORG));
    let consent = ConsentSet::from_value(
        &json!({"directives": [permit_all(),
        {"id": "opt-out", "kind": "deny", "recorded": "2026-11-10"}]}),
        &overriding,
    )
    .unwrap()
    .compile(&overriding)
    .unwrap();
    let request = Request {
        viewer: &v,
        consent: &consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    let d = overriding.decide(&record(), &request).unwrap();
    assert!(allowed(&d, "pat") && entry(&d, "pat").break_glass);
    assert_withheld(&d, &["hiv-test"], "excluded_category:hiv_aids");
}

// ---------------------------------------------------------------------------
// Training and purpose.

#[test]
fn training_and_purpose_gate_everything() {
    let consent = compact(json!([permit_all()]));
    let check = |v: &Viewer, reason: &str| {
        let d = decide(v, &consent);
        assert_eq!(d.summary.allowed, 0, "{reason}");
        assert_withheld(&d, &ALL, reason);
        assert_eq!(
            d.summary.withheld_by_reason,
            BTreeMap::from([(reason.to_owned(), ALL.len())])
        );
    };

    let mut v = viewer("1a", ORG);
    v.training = Some(Training {
        completed: Some("2025-11-01".into()),
        expires: "2026-11-24".into(),
    });
    check(&v, "training_expired");
    v.training = Some(Training {
        completed: None,
        expires: "2026-11-25T11:59:59Z".into(),
    });
    check(&v, "training_expired");
    // Break glass does not stand in for training.
    check(&urgent(v.clone()), "training_expired");

    v.training = None;
    check(&v, "training_missing");

    let mut v = viewer("1a", ORG);
    for purpose in ["research", "secondary-use", "Direct-Care", ""] {
        v.purpose = purpose.into();
        check(&v, "purpose_not_permitted");
    }

    // A date-only expiry includes the whole day.
    let mut v = viewer("1a", ORG);
    v.training = Some(Training {
        completed: None,
        expires: "2026-11-25".into(),
    });
    assert!(allowed(&decide(&v, &consent), "pat"));

    // `training: null` must be stated; a viewer without the field is malformed.
    let parsed = Viewer::from_json(
        br#"{"user_id": "u", "organisation": "RVY", "profile": "1a",
             "purpose": "direct-care", "training": null}"#,
    )
    .unwrap();
    assert!(parsed.training.is_none());
    assert!(Viewer::from_json(
        br#"{"user_id": "u", "organisation": "RVY", "profile": "1a", "purpose": "direct-care"}"#
    )
    .is_err());
}

// ---------------------------------------------------------------------------
// FHIR R4 Consent.

fn org_actor(code: &str) -> Value {
    json!({"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
           "reference": {"identifier": {"system": ODS, "value": code}}})
}

fn profile_actor(code: &str) -> Value {
    json!({"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
           "reference": {"identifier": {"system": PROFILE_SYSTEM, "value": code}}})
}

fn code(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

fn consent_resource(id: &str, status: &str, date_time: &str, provision: Value) -> Value {
    json!({
        "resourceType": "Consent",
        "id": id,
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/pat"},
        "dateTime": date_time,
        "provision": provision
    })
}

/// Pairs of (FHIR Consent input, equivalent compact directives).
fn equivalent_pairs() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "joe: AED staff at RVY, summary tier 2",
            consent_resource(
                "joe",
                "active",
                "2026-11-24T22:10:00Z",
                json!({"type": "permit",
                       "actor": [org_actor(ORG), profile_actor("6")],
                       "code": [code(PLACEMENT, "summary-2")]}),
            ),
            json!({"directives": [{"id": "joe", "kind": "permit", "recorded": "2026-11-24T22:10:00Z",
                    "actors": {"organisations": [ORG], "profiles": ["6"]},
                    "scope": {"segments": [{"segment": "summary", "tier": 2}]}}]}),
        ),
        (
            "permit all for RVY with exceptions: an entry, a category, a content line",
            consent_resource(
                "c1",
                "active",
                "2026-11-01T09:00:00Z",
                json!({"type": "permit",
                "actor": [org_actor(ORG)],
                "provision": [
                    {"type": "deny", "actor": [org_actor(ORG)],
                     "data": [{"meaning": "instance", "reference": {"reference": "Observation/lab"}}]},
                    {"type": "deny", "actor": [org_actor(ORG)],
                     "code": [code(CATEGORY, "hiv_aids")]},
                    {"type": "deny", "actor": [org_actor(ORG)],
                     "code": [code(CONTENT, "allergies")]}
                ]}),
            ),
            json!({"directives": [
                {"id": "c1", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
                 "actors": {"organisations": [ORG]}},
                {"id": "c1.0", "kind": "deny", "recorded": "2026-11-01T09:00:00Z",
                 "actors": {"organisations": [ORG]}, "scope": {"entries": ["Observation/lab"]}},
                {"id": "c1.1", "kind": "deny", "recorded": "2026-11-01T09:00:00Z",
                 "actors": {"organisations": [ORG]}, "scope": {"categories": ["hiv_aids"]}},
                {"id": "c1.2", "kind": "deny", "recorded": "2026-11-01T09:00:00Z",
                 "actors": {"organisations": [ORG]}, "scope": {"content": ["allergies"]}}
            ]}),
        ),
        (
            "a bundle: permit everything, later opt out of community tier 2 and up",
            json!({"resourceType": "Bundle", "type": "collection", "entry": [
                {"resource": consent_resource("late", "active", "2026-11-10T09:00:00Z",
                    json!({"type": "deny", "code": [code(PLACEMENT, "community-2")]}))},
                {"resource": consent_resource("early", "active", "2026-11-01T09:00:00Z",
                    json!({"type": "permit", "actor": [org_actor(ORG), org_actor(OTHER_ORG)]}))}
            ]}),
            json!({"directives": [
                {"id": "late", "kind": "deny", "recorded": "2026-11-10T09:00:00Z",
                 "scope": {"segments": [{"segment": "community", "tier": 2}]}},
                {"id": "early", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
                 "actors": {"organisations": [ORG, OTHER_ORG]}}
            ]}),
        ),
        (
            "an array: profile 6 anywhere, whole diagnostics segment; an expired permit",
            json!([
                consent_resource(
                    "urgent-care",
                    "active",
                    "2026-11-01",
                    json!({"type": "permit", "actor": [profile_actor("6")],
                           "code": [code(PLACEMENT, "diagnostics")]})
                ),
                consent_resource(
                    "expired",
                    "active",
                    "2026-01-01",
                    json!({"type": "permit", "period": {"start": "2026-01-01", "end": "2026-11-20"},
                           "actor": [org_actor(ORG)]})
                )
            ]),
            json!({"directives": [
                {"id": "urgent-care", "kind": "permit", "recorded": "2026-11-01",
                 "actors": {"profiles": ["6"]},
                 "scope": {"segments": [{"segment": "diagnostics"}]}},
                {"id": "expired", "kind": "permit", "recorded": "2026-01-01",
                 "period": {"start": "2026-01-01", "end": "2026-11-20"},
                 "actors": {"organisations": [ORG]}}
            ]}),
        ),
        (
            "deny everyone everything, except RVY in summary 1-2 and hospitals 1",
            consent_resource(
                "mostly-no",
                "active",
                "2026-11-05T10:00:00Z",
                json!({"type": "deny",
                       "period": {"end": "2027-11-05"},
                       "provision": [{"type": "permit", "actor": [org_actor(ORG)],
                                      "code": [code(PLACEMENT, "summary-2"), code(PLACEMENT, "hospitals-1")]}]}),
            ),
            json!({"directives": [
                {"id": "mostly-no", "kind": "deny", "recorded": "2026-11-05T10:00:00Z",
                 "period": {"end": "2027-11-05"}},
                {"id": "mostly-no.0", "kind": "permit", "recorded": "2026-11-05T10:00:00Z",
                 "period": {"end": "2027-11-05"},
                 "actors": {"organisations": [ORG]},
                 "scope": {"segments": [{"segment": "summary", "tier": 2}, {"segment": "hospitals", "tier": 1}]}}
            ]}),
        ),
    ]
}

fn viewers() -> Vec<Viewer> {
    vec![
        viewer("1a", ORG),
        viewer("1b", ORG),
        viewer("6", ORG),
        viewer("6", OTHER_ORG),
        viewer("5", ORG),
        viewer("7", "Y00001"),
        urgent(viewer("6", OTHER_ORG)),
        urgent(viewer("1b", ORG)),
    ]
}

#[test]
fn fhir_consent_decides_like_the_compact_form() {
    for (what, fhir_input, compact_input) in equivalent_pairs() {
        let from_fhir = fhir(fhir_input);
        let from_compact = fhir(compact_input);
        let mut some_allowed = false;
        let mut some_withheld = false;
        for v in viewers() {
            let a = decide(&v, &from_fhir);
            let b = decide(&v, &from_compact);
            assert_eq!(
                a.entries, b.entries,
                "{what}: viewer {} at {}",
                v.profile, v.organisation
            );
            assert_eq!(a.summary, b.summary, "{what}");
            some_allowed |= a.summary.allowed > 0;
            some_withheld |= a.summary.withheld > 0;
        }
        assert!(
            some_allowed && some_withheld,
            "{what}: not a discriminating case"
        );
    }
}

#[test]
fn fhir_consent_spot_checks() {
    let pairs = equivalent_pairs();
    // Joe, as FHIR.
    let joe = fhir(pairs[0].1.clone());
    assert_eq!(
        allowed_ids(&decide(&viewer("6", ORG), &joe)),
        vec!["pat", "allergy", "med"]
    );
    assert_eq!(decide(&viewer("6", OTHER_ORG), &joe).summary.allowed, 0);
    // Nested exceptions win over their parent.
    let c1 = fhir(pairs[1].1.clone());
    let d = decide(&viewer("1a", ORG), &c1);
    assert_withheld(&d, &["lab", "allergy"], "opted_out");
    assert_eq!(entry(&d, "hiv-test").decision, Verdict::Withhold);
    assert_allowed(&d, &["pat", "med", "fbc", "genome"]);
    assert_eq!(entry(&d, "pat").consent.as_deref(), Some("c1"));
    // Deny with a permitted exception.
    let no = fhir(pairs[4].1.clone());
    let d = decide(&viewer("1a", ORG), &no);
    assert_eq!(allowed_ids(&d), vec!["pat", "allergy", "med", "admission"]);
    assert_withheld(&d, &["careplan", "lab", "letter"], "opted_out");
    let d = decide(&viewer("1a", OTHER_ORG), &no);
    assert_eq!(d.summary.allowed, 0);
}

#[test]
fn inactive_fhir_consents_are_ignored() {
    let permit = |status: &str| {
        consent_resource(
            &format!("c-{status}"),
            status,
            "2026-11-01",
            json!({"type": "permit", "actor": [org_actor(ORG)]}),
        )
    };
    for status in [
        "draft",
        "proposed",
        "rejected",
        "inactive",
        "entered-in-error",
    ] {
        let c = fhir(permit(status));
        assert!(c.is_empty(), "{status}");
        let d = decide(&viewer("1a", ORG), &c);
        assert_eq!(d.summary.allowed, 0, "{status}");
        assert_withheld(&d, &["pat"], "no_consent");
    }
    // A withdrawn opt-out no longer withholds.
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": permit("active")},
        {"resource": consent_resource("withdrawn", "inactive", "2026-11-10",
            json!({"type": "deny"}))}
    ]});
    let d = decide(&viewer("1a", ORG), &fhir(bundle));
    assert_allowed(&d, &["pat", "lab"]);
}

#[test]
fn a_nested_exception_stays_within_its_parents_actors() {
    // "Deny REM everything, except its demographics": the exception is about
    // REM. It must not give anyone else anything.
    let c = fhir(consent_resource(
        "not-rem",
        "active",
        "2026-11-01",
        json!({"type": "deny", "actor": [org_actor(OTHER_ORG)],
               "provision": [{"type": "permit", "code": [code(PLACEMENT, "summary-1")]}]}),
    ));
    let d = decide(&viewer("1a", OTHER_ORG), &c);
    assert_eq!(allowed_ids(&d), vec!["pat"]);
    let d = decide(&viewer("1a", ORG), &c);
    assert_eq!(
        allowed_ids(&d),
        Vec::<&str>::new(),
        "an exception to a deny for REM shared with RVY"
    );
}

#[test]
fn a_nested_exception_stays_within_its_parents_scope() {
    // "No community record, except for RVY": the exception is about the
    // community segment. It must not share the rest of the record.
    let c = fhir(consent_resource(
        "community",
        "active",
        "2026-11-01",
        json!({"type": "deny", "code": [code(PLACEMENT, "community")],
               "provision": [{"type": "permit", "actor": [org_actor(ORG)]}]}),
    ));
    let d = decide(&viewer("1b", ORG), &c);
    assert_eq!(
        allowed_ids(&d),
        vec![
            "allergy",
            "med",
            "sig-event",
            "community-obs",
            "community-doc"
        ],
        "an exception to a community opt-out shared more than the community segment"
    );
}

#[test]
fn unreadable_consent_is_an_error() {
    let p = policy();
    let err = |v: Value| -> ConsentError { ConsentSet::from_value(&v, p).unwrap_err() };

    let e = err(consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "permit", "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}),
    ));
    assert_eq!(e.path, "/provision/securityLabel");
    for element in ["purpose", "class", "dataPeriod"] {
        let mut prov = json!({"type": "permit"});
        prov[element] = json!([]);
        let e = err(consent_resource("x", "active", "2026-11-01", prov));
        assert_eq!(e.path, format!("/provision/{element}"));
    }
    // In a nested provision, with its path.
    let e = err(consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "permit", "provision": [{"type": "deny"}, {"type": "deny", "purpose": []}]}),
    ));
    assert_eq!(e.path, "/provision/provision/1/purpose");

    // An unknown code system.
    let e = err(consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "permit", "code": [code(SNOMED, "73761001")]}),
    ));
    assert_eq!(e.path, "/provision/code/0/coding/0/system");
    // An unknown actor system, or an actor given by literal reference only.
    let e = err(consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "permit", "actor": [{"reference": {"identifier": {"system": "urn:x", "value": "1"}}}]}),
    ));
    assert_eq!(e.path, "/provision/actor/0/reference/identifier/system");
    let e = err(consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "permit", "actor": [{"reference": {"reference": "Organization/RVY"}}]}),
    ));
    assert_eq!(e.path, "/provision/actor/0/reference/identifier");
    // Missing or unknown type.
    assert_eq!(
        err(consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"actor": []})
        ))
        .path,
        "/provision/type"
    );
    assert_eq!(
        err(consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "maybe"})
        ))
        .path,
        "/provision/type"
    );
    // Codes the policy does not know.
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "deny", "code": [code(PLACEMENT, "radiology-2")]})
        ),
        p
    )
    .is_err());
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "deny", "code": [code(PLACEMENT, "summary-4")]})
        ),
        p
    )
    .is_err());
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "deny", "code": [code(CATEGORY, "hiv")]})
        ),
        p
    )
    .is_err());
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "deny", "code": [code(CONTENT, "alerts")]})
        ),
        p
    )
    .is_err());
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "permit", "actor": [profile_actor("8")]})
        ),
        p
    )
    .is_err());
    // A permit may not name an exclusion category: only the policy lifts exclusions.
    assert!(ConsentSet::from_value(
        &consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "permit", "code": [code(CATEGORY, "hiv_aids")]})
        ),
        p
    )
    .is_err());
    // Missing dateTime or id.
    let mut no_date = consent_resource("x", "active", "2026-11-01", json!({"type": "permit"}));
    no_date.as_object_mut().unwrap().remove("dateTime");
    assert_eq!(err(no_date).path, "/dateTime");

    // The compact form is as strict.
    let compact_err =
        |d: Value| ConsentSet::from_value(&json!({ "directives": [d] }), p).unwrap_err();
    let e =
        compact_err(json!({"id": "c", "kind": "permit", "recorded": "2026-11-01", "purpose": "x"}));
    assert!(e.path.starts_with("/directives/0"), "{}", e.path);
    let e = compact_err(
        json!({"id": "c", "kind": "permit", "recorded": "2026-11-01",
                               "scope": {"categories": ["hiv_aids"]}}),
    );
    assert_eq!(e.path, "/directives/0/scope/categories");
    let e = compact_err(json!({"id": "c", "kind": "deny", "recorded": "2026-11-01",
                               "scope": {"segments": [{"segment": "community", "tier": 0}]}}));
    assert_eq!(e.path, "/directives/0/scope/segments/0/tier");
    let e = compact_err(json!({"id": "c", "kind": "deny", "recorded": "yesterday"}));
    assert_eq!(e.path, "/directives/0/recorded");
    let e = compact_err(
        json!({"id": "c", "kind": "permit", "recorded": "2026-11-01",
                               "actors": {"profiles": ["9"]}}),
    );
    assert_eq!(e.path, "/directives/0/actors/profiles/0");
}

#[test]
fn a_data_reference_the_engine_cannot_honour_is_an_error() {
    // `meaning` other than `instance` widens a reference to other resources
    // (everything the referenced practitioner authored, everything related
    // to or derived from it). Reading it as the one instance would make an
    // opt-out withhold less than the person asked for: refuse instead.
    let p = policy();
    for meaning in ["authoredby", "related", "dependents"] {
        let deny = consent_resource(
            "x",
            "active",
            "2026-11-01",
            json!({"type": "deny",
                   "data": [{"meaning": meaning, "reference": {"reference": "Practitioner/dr-x"}}]}),
        );
        assert!(
            ConsentSet::from_value(&deny, p).is_err(),
            "a deny with data.meaning `{meaning}` was read as a single-entry opt-out"
        );
    }
    // `instance` is exactly one entry.
    let deny = consent_resource(
        "x",
        "active",
        "2026-11-01",
        json!({"type": "deny",
               "data": [{"meaning": "instance", "reference": {"reference": "Observation/lab"}}]}),
    );
    assert!(ConsentSet::from_value(&deny, p).is_ok());
}

#[test]
fn audit_facts_segment_opt_outs_and_the_latest_permit_for_the_viewer() {
    let p = policy();
    let set = ConsentSet::from_json(
        br#"{"directives": [
          {"id": "p-old", "kind": "permit", "recorded": "2026-01-01", "actors": {"organisations": ["RVY"]}},
          {"id": "p-new", "kind": "permit", "recorded": "2026-06-01", "actors": {"organisations": ["RVY"]}},
          {"id": "p-other", "kind": "permit", "recorded": "2026-09-01", "actors": {"organisations": ["REM"]}},
          {"id": "d-diag", "kind": "deny", "recorded": "2026-02-01", "scope": {"segments": [{"segment": "diagnostics", "tier": 2}]}},
          {"id": "d-line", "kind": "deny", "recorded": "2026-02-01", "scope": {"content": ["appointments"]}},
          {"id": "d-ended", "kind": "deny", "recorded": "2026-02-01", "period": {"end": "2026-03-01"}},
          {"id": "d-rem", "kind": "deny", "recorded": "2026-02-01", "actors": {"organisations": ["REM"]}}
        ]}"#,
        p,
    )
    .unwrap()
    .compile(p)
    .unwrap();
    let v = viewer("6", ORG);
    assert_eq!(set.opted_out_segments(&v, NOW, p), ["diagnostics"]);
    assert_eq!(
        set.latest_permit(&v, NOW),
        Some(datetime!(2026-06-01 00:00 UTC))
    );
    // A whole-record opt-out for REM covers every segment for REM only.
    let other = viewer("6", OTHER_ORG);
    assert_eq!(set.opted_out_segments(&other, NOW, p).len(), 4);
    assert_eq!(
        set.latest_permit(&other, NOW),
        Some(datetime!(2026-09-01 00:00 UTC))
    );
    assert_eq!(set.latest_permit(&viewer("6", "X99"), NOW), None);
}

mod precedence {
    //! The precedence of docs/consent.md against a reading of it written
    //! here: for random sequences of permits, opt-outs and withdrawals, an
    //! entry is withheld as opted out if an opt-out in force for the viewer
    //! covers it and was not withdrawn by name after it was made; otherwise
    //! shared if a permit for the viewer covers it; otherwise withheld for
    //! want of consent.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Permit {
            whole: bool,
            ours: bool,
        },
        Deny {
            whole: bool,
            ours: bool,
        },
        /// Withdraws the n-th directive of the sequence (whatever it is).
        Withdraw {
            of: usize,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (any::<bool>(), any::<bool>()).prop_map(|(whole, ours)| Step::Permit { whole, ours }),
            (any::<bool>(), any::<bool>()).prop_map(|(whole, ours)| Step::Deny { whole, ours }),
            (0usize..8).prop_map(|of| Step::Withdraw { of }),
        ]
    }

    /// The scope of a non-whole directive: community, which the Patient
    /// (Summary tier 1) is not in.
    fn directives(steps: &[(Step, u32)]) -> Value {
        let id = |i: usize| format!("d{i}");
        let when = |day: u32| format!("2026-10-{:02}T09:00:00Z", day + 1);
        let actors = |ours: bool| {
            if ours {
                json!({"organisations": [ORG]})
            } else {
                json!({})
            }
        };
        let scope = |whole: bool| {
            if whole {
                json!({})
            } else {
                json!({"segments": [{"segment": "community"}]})
            }
        };
        Value::Array(
            steps
                .iter()
                .enumerate()
                .map(|(i, (s, day))| match s {
                    Step::Permit { whole, ours } => {
                        json!({"id": id(i), "kind": "permit", "recorded": when(*day),
                        "actors": actors(*ours), "scope": scope(*whole)})
                    }
                    Step::Deny { whole, ours } => {
                        json!({"id": id(i), "kind": "deny", "recorded": when(*day),
                        "actors": actors(*ours), "scope": scope(*whole)})
                    }
                    Step::Withdraw { of } => {
                        json!({"id": id(i), "kind": "withdraw", "recorded": when(*day),
                        "withdraws": id(*of % steps.len())})
                    }
                })
                .collect(),
        )
    }

    /// What the person's choices say of the Patient entry, for a viewer at ORG.
    fn model(steps: &[(Step, u32)]) -> &'static str {
        let withdrawn = |i: usize, made: u32| {
            steps.iter().any(|(s, day)| {
                matches!(s, Step::Withdraw { of } if of % steps.len() == i) && *day >= made
            })
        };
        // Every generated directive applies to the viewer (everyone or ORG);
        // only a whole-record one covers the Patient.
        let opted_out = steps.iter().enumerate().any(|(i, (s, day))| {
            matches!(s, Step::Deny { whole: true, .. }) && !withdrawn(i, *day)
        });
        if opted_out {
            return "opted_out";
        }
        if steps
            .iter()
            .any(|(s, _)| matches!(s, Step::Permit { whole: true, .. }))
        {
            return "allowed";
        }
        "no_consent"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_engine_follows_the_written_precedence(steps in prop::collection::vec((step(), 0u32..20), 1..8)) {
            let c = compact(directives(&steps));
            let d = decide(&viewer("1a", ORG), &c);
            let pat = entry(&d, "pat");
            let got = if pat.decision == Verdict::Allow {
                "allowed".to_owned()
            } else {
                pat.reasons.iter().map(Reason::code).collect::<Vec<_>>().join(",")
            };
            prop_assert_eq!(got, model(&steps), "{}", directives(&steps));
        }
    }
}
