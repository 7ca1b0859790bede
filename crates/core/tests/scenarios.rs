//! The framework's seven scenarios (sections 7.1-7.6) as end-to-end cases
//! over the demo records in `crates/demo/data`.
//!
//! Every expected list below was worked out by hand from tables 1-6, the
//! patient's consent file and the policy's own-organisation rule, not copied
//! from engine output. Each list is in record order and names every entry the
//! viewer receives, including supporting resources (Practitioner,
//! Organization) that a shared entry refers to and Provenance about a shared
//! entry. The comments give the reasoning for anything that is not plain
//! "profile reaches the tier and consent covers it".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use tiergate_core::{ConsentSet, Limits, Policy, Redacted, Request, Verdict, Viewer};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::default_policy().expect("default policy compiles"))
}

fn demo(rel: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data", rel]
        .iter()
        .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn viewer(name: &str) -> Viewer {
    Viewer::from_json(&demo(&format!("viewers/{name}.json"))).expect("viewer parses")
}

fn consent(patient: &str) -> ConsentSet {
    ConsentSet::from_json(&demo(&format!("consents/{patient}.json")), policy())
        .expect("consent parses")
}

fn redact_with(patient: &str, consent: &ConsentSet, viewer: &Viewer) -> Redacted {
    let compiled = consent.compile(policy()).expect("consent compiles");
    let request = Request {
        viewer,
        consent: &compiled,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    policy()
        .redact(
            &demo(&format!("{patient}.json")),
            &request,
            Limits::default(),
        )
        .expect("redaction succeeds")
}

fn redact(patient: &str, viewer_name: &str) -> Redacted {
    redact_with(patient, &consent(patient), &viewer(viewer_name))
}

/// As [`redact`], the viewer holding the privacy officer's approval for
/// the patient's Community tier 3 (7.2), as the scenario's care needs.
fn redact_approved(patient: &str, viewer_name: &str, patient_id: &str) -> Redacted {
    let v = tiergate_testkit::with_community_approval(viewer(viewer_name), patient_id);
    redact_with(patient, &consent(patient), &v)
}

/// Ids of the allowed entries, in record order.
fn seen(r: &Redacted) -> Vec<String> {
    r.decisions
        .entries
        .iter()
        .filter(|d| d.decision == Verdict::Allow)
        .filter_map(|d| d.id.clone())
        .collect()
}

/// Ids in the redacted body, in order: the body agrees with the decisions.
fn body_ids(r: &Redacted) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("body is JSON");
    body.get("entry")
        .and_then(|e| e.as_array())
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.pointer("/resource/id").and_then(|v| v.as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn assert_sees(r: &Redacted, expected: &[&str]) {
    let got = seen(r);
    let want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    if got != want {
        let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
        let extra: Vec<&String> = got.iter().filter(|g| !want.contains(g)).collect();
        panic!(
            "viewer {} ({}): allowed entries differ\n  missing: {missing:?}\n  unexpected: {extra:?}\n  got: {got:?}",
            r.decisions.summary.user_id, r.decisions.summary.profile
        );
    }
    assert_eq!(
        body_ids(r),
        want,
        "redacted body must hold exactly the allowed entries"
    );
}

fn decision<'a>(r: &'a Redacted, id: &str) -> &'a tiergate_core::EntryDecision {
    r.decisions
        .entries
        .iter()
        .find(|d| d.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no entry {id}"))
}

fn reasons(r: &Redacted, id: &str) -> Vec<String> {
    decision(r, id).reasons.iter().map(|x| x.code()).collect()
}

fn allowed_by(r: &Redacted, id: &str) -> Option<String> {
    decision(r, id).allowed_by.clone()
}

// ---------------------------------------------------------------------------
// Scenario 1 (7.1): Joe consents for AED staff at Southport and Ormskirk to
// see Summary tier 2; later the hospital discharge team sees care plans and
// who else is involved.
// ---------------------------------------------------------------------------

/// Summary tiers 1-2 of Joe's record (table 1), all from primary care.
const JOE_SUMMARY_1_2: &[&str] = &[
    "joe-patient",
    "joe-allergy",
    "joe-med-metformin",
    "joe-med-inhaler",
    "joe-med-doxycycline",
    "joe-cond-diabetes",
    "joe-cond-copd",
    "joe-cond-chest-infection",
    "joe-prompt",
    "joe-careteam",
    "joe-wife",
    "joe-appt",
];

/// Entries written by Southport and Ormskirk (R9A) itself: the blood gas
/// taken in AED and the hospital segment of this and the March admission.
const JOE_R9A_OWN: &[&str] = &[
    "joe-abg",
    "joe-adt",
    "joe-edd",
    "joe-tci",
    "joe-hospital-careplan",
    "joe-discharge-plan",
];

fn joined(parts: &[&[&'static str]]) -> Vec<&'static str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn scenario_1_joe_aed_doctor_sees_summary_tier_2_only() {
    let r = redact("joe", "aed-doctor-6");
    // Summary 1-2 by consent `joe-aed`; the trust's own entries pass through
    // (framework 5.1); no care package, care plans, community or other
    // diagnostics: consent stops at summary tier 2. Supporting resources:
    // the GP and practice (from the Patient), R9A (encounters), R9D and
    // LA901 (care team). R9B and the pathology network are referred to only
    // by withheld entries.
    let expected = joined(&[
        JOE_SUMMARY_1_2,
        JOE_R9A_OWN,
        &["joe-gp", "org-n99001", "org-r9a", "org-r9d", "org-la901"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "joe-allergy").as_deref(), Some("summary-2"));
    assert_eq!(
        decision(&r, "joe-allergy").consent.as_deref(),
        Some("joe-aed")
    );
    assert_eq!(
        allowed_by(&r, "joe-abg").as_deref(),
        Some("own_organisation")
    );
    // Care plans (summary 3) need consent the AED team does not have.
    assert_eq!(reasons(&r, "joe-careplan"), ["no_consent"]);
    assert_eq!(reasons(&r, "joe-care-package"), ["no_consent"]);
    // Community: tier 1 is in the profile but not consented; tiers 2-3 are
    // beyond urgent care's C1. The oxygen event sits in both C1 and C2, so
    // it carries one reason for each placement.
    assert_eq!(
        reasons(&r, "joe-event-oxygen"),
        ["tier_not_granted", "no_consent"]
    );
    assert_eq!(reasons(&r, "joe-bp"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "joe-gp-note"), ["tier_not_granted"]);
    // The complaint is excluded for everyone (Appendix 1, 9U%).
    assert_eq!(
        reasons(&r, "joe-complaint"),
        ["excluded_category:complaints"]
    );
    // The Provenance is about the withheld care plan.
    assert_eq!(reasons(&r, "joe-careplan-provenance"), ["about_withheld"]);
}

#[test]
fn scenario_1_joe_discharge_team_sees_care_plans_and_who_is_involved() {
    // Ward matron (2a, S3 C2 D2 H2) at R9A: consent `joe-discharge-team`
    // covers the whole summary and hospitals up to tier 2.
    let r = redact("joe", "matron-2a");
    let expected = joined(&[
        JOE_SUMMARY_1_2,
        &["joe-care-package", "joe-careplan"],
        JOE_R9A_OWN,
        // R9B discharge summary: hospitals tier 2, consented.
        &["joe-discharge-summary"],
        // Provenance of the care plan update: its target is shared.
        &["joe-careplan-provenance"],
        &[
            "joe-gp",
            "org-n99001",
            "org-r9a",
            "org-r9b",
            "org-r9d",
            "org-la901",
        ],
        // The person-centred plan Joe keeps in the portal and his self-care
        // plan (weekly blood pressure): Summary tier 3 care plans.
        &["pcp-joe-patient", "joe-self-care"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "joe-careplan").as_deref(), Some("summary-3"));
    // R9B's scanned notes are hospitals tier 3: beyond 2a.
    assert_eq!(reasons(&r, "joe-hospital-notes"), ["tier_not_granted"]);
    // Community and diagnostics were not part of this consent.
    assert_eq!(reasons(&r, "joe-bp"), ["no_consent"]);
    assert_eq!(reasons(&r, "joe-hba1c"), ["no_consent"]);

    // Hospital social worker (3a, S3 C1 DX H2) employed by Sefton Council.
    let r = redact("joe", "hospital-social-worker-3a");
    let expected = joined(&[
        JOE_SUMMARY_1_2,
        &["joe-care-package", "joe-careplan"],
        // Hospitals tiers 1-2 by consent (not own organisation).
        &[
            "joe-adt",
            "joe-edd",
            "joe-tci",
            "joe-hospital-careplan",
            "joe-discharge-plan",
            "joe-discharge-summary",
        ],
        &["joe-careplan-provenance"],
        &[
            "joe-gp",
            "org-n99001",
            "org-r9a",
            "org-r9b",
            "org-r9d",
            "org-la901",
        ],
        &["pcp-joe-patient", "joe-self-care"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "joe-edd").as_deref(), Some("hospitals-1"));
    // No diagnostics for social care, not even R9A's blood gas.
    assert_eq!(reasons(&r, "joe-abg"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "joe-hba1c"), ["tier_not_granted"]);
}

#[test]
fn scenario_1_joe_ward_clerk_sees_demographics_and_own_trust_entries() {
    // Admin/clerical (S1 CX DX HX) is in the discharge team's consent, so
    // demographics are shared; the rest of what the clerk sees is R9A's own.
    let r = redact("joe", "admin-clerk-5");
    let expected = joined(&[
        &["joe-patient"],
        JOE_R9A_OWN,
        &["joe-gp", "org-n99001", "org-r9a"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(reasons(&r, "joe-allergy"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "joe-discharge-summary"), ["tier_not_granted"]);
}

#[test]
fn scenario_1_joe_another_organisation_sees_nothing() {
    // A GP at another practice: no consent names N99005.
    let r = redact("joe", "gp-1b");
    assert_sees(&r, &[]);
    assert_eq!(r.decisions.summary.allowed, 0);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["total"], 0, "total counts only what is returned");
    assert!(body.get("link").is_none(), "paging links are dropped");

    // The ED at the Royal and Aintree (R9B) has no consent either; only
    // R9B's own documents about Joe pass through.
    let r = redact("joe", "ed-doctor-phil-6");
    assert_sees(
        &r,
        &["joe-discharge-summary", "joe-hospital-notes", "org-r9b"],
    );
    assert_eq!(reasons(&r, "joe-patient"), ["no_consent"]);
}

// ---------------------------------------------------------------------------
// Scenario 2 (7.2): Joan shares across the extended primary care team; the
// health trainer's goals, appointments and key health status reach the wider
// multidisciplinary team through her shared care plan.
// ---------------------------------------------------------------------------

/// Joan's summary segment, less the excluded termination-of-pregnancy history.
const JOAN_SUMMARY: &[&str] = &[
    "joan-patient",
    "joan-allergy",
    "joan-med-furosemide",
    "joan-med-bisoprolol",
    "joan-cond-heart-failure",
    "joan-cond-diabetes",
    "joan-cond-ckd",
    "joan-cond-mi",
    "joan-prompt",
    "joan-careteam",
    "joan-appt",
    "joan-care-package",
    "joan-careplan",
    "joan-goal",
];

const JOAN_HOSPITALS_1_2: &[&str] = &[
    "joan-adt",
    "joan-edd",
    "joan-tci",
    "joan-hospital-careplan",
    "joan-discharge-plan",
    "joan-discharge-summary",
];

const JOAN_SUPPORTING: &[&str] = &[
    "joan-gp",
    "org-n99002",
    "org-r9b",
    "org-r9d",
    "org-r9p",
    "org-la902",
];

#[test]
fn scenario_2_joan_extended_primary_care_team() {
    // District nurse, profile 7 (S3 C3 D2 H2), community services (R9D):
    // consent `joan-virtual-ward` covers the whole record for R9D. The
    // MDT review is Community tier 3, which needs the privacy officer's
    // approval for Joan (7.2): without one it is withheld.
    let r = redact("joan", "district-nurse-7");
    assert_eq!(reasons(&r, "joan-mdt-review"), ["approval_required"]);
    assert!(r.decisions.summary.approvals.is_empty());
    let r = redact_approved("joan", "district-nurse-7", "joan-patient");
    assert_eq!(
        r.decisions.summary.approvals,
        ["approval-joan-patient"],
        "the read names the approval that opened tier 3"
    );
    // An approval for someone else opens nothing in Joan's record.
    let other = redact_approved("joan", "district-nurse-7", "ronald-patient");
    assert_eq!(reasons(&other, "joan-mdt-review"), ["approval_required"]);
    let expected = joined(&[
        JOAN_SUMMARY,
        // C2 telemonitoring weight, C3 MDT review, D1 creatinine, D2 NT-proBNP.
        &[
            "joan-weight",
            "joan-mdt-review",
            "joan-creatinine",
            "joan-ntprobnp",
        ],
        JOAN_HOSPITALS_1_2,
        JOAN_SUPPORTING,
    ]);
    assert_sees(&r, &expected);
    assert_eq!(
        reasons(&r, "joan-cond-top"),
        ["excluded_category:termination_of_pregnancy"]
    );
    assert_eq!(reasons(&r, "joan-genomic"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "joan-epma"), ["tier_not_granted"]);

    // Community matron, profile 2a (S3 C2 D2 H2): the same, less the
    // community tier 3 MDT review.
    let r = redact("joan", "community-matron-2a");
    let expected = joined(&[
        JOAN_SUMMARY,
        &["joan-weight", "joan-creatinine", "joan-ntprobnp"],
        JOAN_HOSPITALS_1_2,
        JOAN_SUPPORTING,
    ]);
    assert_sees(&r, &expected);
    assert_eq!(reasons(&r, "joan-mdt-review"), ["tier_not_granted"]);
}

#[test]
fn scenario_2_joan_health_trainer_sees_the_summary_only() {
    // Health trainer, profile 4 (S3 CX DX HX) at R9D. The weight reading is
    // R9D's own telemonitoring entry, so it passes through.
    let r = redact("joan", "health-trainer-4");
    let expected = joined(&[
        JOAN_SUMMARY,
        &["joan-weight"],
        &["joan-gp", "org-n99002", "org-r9d", "org-la902"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "joan-goal").as_deref(), Some("summary-3"));
    assert_eq!(
        allowed_by(&r, "joan-weight").as_deref(),
        Some("own_organisation")
    );
    assert_eq!(reasons(&r, "joan-creatinine"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "joan-adt"), ["tier_not_granted"]);
}

#[test]
fn scenario_2_joan_mdt_social_worker_sees_the_shared_care_plan_content() {
    // Consent `joan-mdt-social-care` names content lines, not tiers: the
    // care plan, goals, appointments, health status and who is involved.
    let r = redact("joan", "neighbourhood-social-worker-3b");
    assert_sees(
        &r,
        &[
            "joan-patient",
            "joan-prompt",
            "joan-careteam",
            "joan-appt",
            "joan-care-package",
            "joan-careplan",
            "joan-goal",
            "joan-gp",
            "org-n99002",
            "org-r9d",
            "org-la902",
        ],
    );
    for id in [
        "joan-allergy",
        "joan-med-furosemide",
        "joan-cond-heart-failure",
        "joan-cond-mi",
    ] {
        assert_eq!(reasons(&r, id), ["no_consent"], "{id}");
    }
    // Hospitals tier 1 is in 3b's profile but outside this consent.
    assert_eq!(reasons(&r, "joan-tci"), ["no_consent"]);
}

#[test]
fn scenario_2_joan_lapsed_training_sees_nothing() {
    // A practice nurse at Joan's own practice whose training has expired:
    // nothing is shared, not even the practice's own entries (6.5).
    let r = redact("joan", "expired-training-7");
    assert_sees(&r, &[]);
    assert!(r
        .decisions
        .entries
        .iter()
        .all(|d| d.reasons.iter().any(|x| x.code() == "training_expired")));
}

// ---------------------------------------------------------------------------
// Scenario 3 (7.3): Brenda's community mental health team sees the liver
// function test her GP arranged, through diagnostics tier 1.
// ---------------------------------------------------------------------------

const BRENDA_SUMMARY: &[&str] = &[
    "brenda-patient",
    "brenda-allergy",
    "brenda-med-olanzapine",
    "brenda-med-acamprosate",
    "brenda-cond-schizophrenia",
    "brenda-cond-alcohol",
    "brenda-prompt",
    "brenda-careteam",
    "brenda-mother",
    "brenda-appt",
    "brenda-care-package",
    "brenda-careplan",
];

const BRENDA_SUPPORTING: &[&str] = &[
    "brenda-gp",
    "org-n99003",
    "org-r9b",
    "org-r9c",
    "org-r9d",
    "org-r9p",
    "org-la902",
];

/// What the CMHT (R9C) sees under `brenda-cmht`: summary, community to
/// tier 2, diagnostics tier 1, hospitals tier 1; plus R9C's own entries.
fn brenda_cmht_view() -> Vec<&'static str> {
    joined(&[
        BRENDA_SUMMARY,
        &[
            "brenda-mha",
            "brenda-med-increase",
            "brenda-alcohol",
            "brenda-cmht-note",
            "brenda-lft",
            "brenda-fbc",
            "brenda-adt",
            "brenda-edd",
            "brenda-tci",
        ],
        BRENDA_SUPPORTING,
    ])
}

#[test]
fn scenario_3_brenda_mental_health_team_sees_the_gp_lft() {
    // Care coordinator, 2a (S3 C2 D2 H2).
    let r = redact("brenda", "cpn-2a");
    assert_sees(&r, &brenda_cmht_view());
    assert_eq!(
        allowed_by(&r, "brenda-lft").as_deref(),
        Some("diagnostics-1")
    );
    assert_eq!(
        decision(&r, "brenda-lft").consent.as_deref(),
        Some("brenda-cmht")
    );
    // Her hepatitis C result is blood-borne virus status: Diagnostics
    // tier 3 only (7.3), and the team has tier 2 (and her consent to 1).
    assert_eq!(
        reasons(&r, "brenda-hepc"),
        ["excluded_category:blood_borne_viruses"]
    );
    assert_eq!(
        reasons(&r, "brenda-hiv-test"),
        ["excluded_category:hiv_aids"]
    );
    assert_eq!(reasons(&r, "brenda-genomic"), ["tier_not_granted"]);
    // Hospital care plans are tier 2; consent stops at tier 1.
    assert_eq!(reasons(&r, "brenda-discharge-summary"), ["no_consent"]);
    // The history of abuse is excluded, even though R9C recorded it.
    assert_eq!(
        reasons(&r, "brenda-cond-abuse"),
        ["excluded_category:abuse"]
    );
    assert_eq!(reasons(&r, "brenda-hiv-provenance"), ["about_withheld"]);

    // Consultant psychiatrist, 1c (S3 C2 D3 H2): a wider profile changes
    // nothing, because the consent is what limits the team.
    let r = redact("brenda", "community-psychiatrist-1c");
    assert_sees(&r, &brenda_cmht_view());
    assert_eq!(reasons(&r, "brenda-genomic"), ["no_consent"]);
}

#[test]
fn scenario_3_brenda_hiv_opt_out_holds_against_diagnostics_tier_3() {
    // Urgent care (S3 C1 D3 H3) has Brenda's consent for the whole record;
    // D3 would lift the HIV exclusion, but her later opt-out of the HIV
    // category wins.
    let r = redact("brenda", "ed-doctor-phil-6");
    let expected = joined(&[
        BRENDA_SUMMARY,
        &[
            "brenda-mha",
            "brenda-lft",
            "brenda-fbc",
            "brenda-hepc",
            "brenda-genomic",
            "brenda-adt",
            "brenda-edd",
            "brenda-tci",
            "brenda-hospital-careplan",
            "brenda-discharge-plan",
            "brenda-discharge-summary",
            "brenda-ed-card",
        ],
        BRENDA_SUPPORTING,
    ]);
    assert_sees(&r, &expected);
    assert_eq!(
        reasons(&r, "brenda-hiv-test"),
        ["excluded_category:hiv_aids"]
    );
    assert_eq!(reasons(&r, "brenda-med-increase"), ["tier_not_granted"]);

    // Without the opt-out the same viewer sees the test (D3: no exclusions)
    // and the Provenance about it.
    let mut without = consent("brenda");
    without.directives.retain(|d| d.id != "brenda-hiv-opt-out");
    let r = redact_with("brenda", &without, &viewer("ed-doctor-phil-6"));
    assert_eq!(
        allowed_by(&r, "brenda-hiv-test").as_deref(),
        Some("diagnostics-2")
    );
    assert_eq!(
        allowed_by(&r, "brenda-hiv-provenance").as_deref(),
        Some("about")
    );
}

// ---------------------------------------------------------------------------
// Scenario 4 (7.4): David (MND, care package three times a day) is admitted
// with a pulmonary embolism. Hospital clinicians see summary tiers 1-3; his
// social worker is told of the admission through hospitals tier 1.
// ---------------------------------------------------------------------------

const DAVID_SUMMARY: &[&str] = &[
    "david-patient",
    "david-allergy",
    "david-med-riluzole",
    "david-med-baclofen",
    "david-cond-mnd",
    "david-cond-hypertension",
    "david-prompt",
    "david-careteam",
    "david-daughter",
    "david-appt",
    "david-care-package",
    "david-careplan",
];

#[test]
fn scenario_4_david_hospital_clinician_sees_summary_tiers_1_to_3() {
    // Hospital specialist 1a at R9B. Consent: summary up to tier 3. The
    // admission, its tests and the neurology letter are R9B's own.
    let r = redact("david", "hospital-specialist-1a");
    let expected = joined(&[
        DAVID_SUMMARY,
        &[
            "david-renal",
            "david-ddimer",
            "david-ctpa",
            "david-adt",
            "david-edd",
            "david-tci",
            "david-hospital-careplan",
            "david-discharge-plan",
            "david-opd-letter",
            "david-epma-apixaban",
        ],
        &["david-gp", "org-n99004", "org-r9b", "org-r9d", "org-la901"],
    ]);
    assert_sees(&r, &expected);
    // The pulmonary embolism Condition is hospitals tier 3 but names no
    // author organisation (an R4 Condition's recorder cannot be one), so it
    // is not recognisably R9B's own and consent stops at the summary.
    assert_eq!(reasons(&r, "david-cond-pe"), ["no_consent"]);
    assert_eq!(
        allowed_by(&r, "david-care-package").as_deref(),
        Some("summary-3")
    );
    assert_eq!(
        allowed_by(&r, "david-careplan").as_deref(),
        Some("summary-3")
    );
    assert_eq!(reasons(&r, "david-bmi"), ["no_consent"]);
    assert_eq!(reasons(&r, "david-nurse-visit"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "david-genomic"), ["no_consent"]);
}

#[test]
fn scenario_4_david_social_worker_is_told_of_the_admission() {
    // Community social worker 3b (S3 C2 DX H1) at Sefton Council.
    let r = redact("david", "community-social-worker-3b");
    let expected = joined(&[
        DAVID_SUMMARY,
        &["david-bmi", "david-adt", "david-edd", "david-tci"],
        &["david-gp", "org-n99004", "org-r9b", "org-r9d", "org-la901"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "david-edd").as_deref(), Some("hospitals-1"));
    for id in [
        "david-hospital-careplan",
        "david-discharge-plan",
        "david-opd-letter",
        "david-epma-apixaban",
        "david-cond-pe",
        "david-renal",
        "david-ctpa",
        "david-nurse-visit",
    ] {
        assert_eq!(reasons(&r, id), ["tier_not_granted"], "{id}");
    }
}

// ---------------------------------------------------------------------------
// Scenario 5 (7.5): Phil, an ED doctor at the Royal and Aintree, sees the
// key preferences: resuscitation, mental capacity and end of life wishes.
// ---------------------------------------------------------------------------

const MARGARET_SUMMARY: &[&str] = &[
    "margaret-patient",
    "margaret-allergy",
    "margaret-med-furosemide",
    "margaret-med-apixaban",
    "margaret-cond-copd",
    "margaret-cond-heart-failure",
    "margaret-cond-af",
    "margaret-cond-dementia",
    "margaret-prompt",
    "margaret-careteam",
    "margaret-daughter",
    "margaret-appt",
    "margaret-care-package",
    "margaret-respect",
    "margaret-capacity",
    "margaret-eol-hospital",
];

const MARGARET_HOSPITALS: &[&str] = &[
    "margaret-adt",
    "margaret-edd",
    "margaret-tci",
    "margaret-hospital-careplan",
    "margaret-discharge-plan",
    "margaret-discharge-summary",
    "margaret-hospital-notes",
];

const MARGARET_SUPPORTING: &[&str] = &[
    "margaret-gp",
    "org-n99006",
    "org-r9b",
    "org-r9d",
    "org-r9p",
    "org-la902",
];

#[test]
fn scenario_5_phil_sees_resuscitation_capacity_and_end_of_life_plans() {
    // Urgent care 6 (S3 C1 D3 H3) at R9B, consented for the whole record;
    // Margaret has opted out of the community segment for everyone.
    let r = redact("phil-ed-patient", "ed-doctor-phil-6");
    let expected = joined(&[
        MARGARET_SUMMARY,
        // Diagnostics: D3 lifts the HIV exclusion for a consented viewer.
        &[
            "margaret-fbc",
            "margaret-ntprobnp",
            "margaret-hiv-test",
            "margaret-genomic",
        ],
        MARGARET_HOSPITALS,
        &["margaret-respect-provenance"],
        MARGARET_SUPPORTING,
    ]);
    assert_sees(&r, &expected);
    for id in ["margaret-respect", "margaret-capacity"] {
        assert_eq!(allowed_by(&r, id).as_deref(), Some("summary-3"), "{id}");
    }
    // The hospital palliative care plan is R9B's own (and in summary 3 and
    // hospitals 2 besides).
    assert_eq!(
        allowed_by(&r, "margaret-eol-hospital").as_deref(),
        Some("own_organisation")
    );
    assert_eq!(
        allowed_by(&r, "margaret-hiv-test").as_deref(),
        Some("diagnostics-2")
    );
    // The fall is community tiers 1 and 2: opted out at C1, beyond 6 at C2.
    assert_eq!(
        reasons(&r, "margaret-event-fall"),
        ["tier_not_granted", "opted_out"]
    );
    assert_eq!(reasons(&r, "margaret-6cit"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "margaret-dn-notes"), ["tier_not_granted"]);
}

#[test]
fn scenario_5_break_glass_elsewhere_does_not_override_opt_out_or_exclusions() {
    // The AED at Southport (R9A) has no consent: nothing.
    let r = redact("phil-ed-patient", "aed-doctor-6");
    assert_sees(&r, &[]);

    // Breaking glass (unconscious, within 240 minutes) shares what the
    // profile reaches, but not the community opt-out, and it does not lift
    // the HIV exclusion (only consented D3 access does).
    let r = redact("phil-ed-patient", "aed-doctor-break-glass-6");
    let expected = joined(&[
        MARGARET_SUMMARY,
        &["margaret-fbc", "margaret-ntprobnp", "margaret-genomic"],
        MARGARET_HOSPITALS,
        &["margaret-respect-provenance"],
        MARGARET_SUPPORTING,
    ]);
    assert_sees(&r, &expected);
    assert!(decision(&r, "margaret-respect").break_glass);
    assert_eq!(
        reasons(&r, "margaret-event-fall"),
        ["tier_not_granted", "opted_out"]
    );
    assert_eq!(
        reasons(&r, "margaret-hiv-test"),
        ["excluded_category:hiv_aids"]
    );
    let s = &r.decisions.summary;
    assert!(
        s.investigate,
        "break glass must be flagged for investigation"
    );
    assert_eq!(
        s.allowed_by_break_glass,
        MARGARET_SUMMARY.len() + 3 + MARGARET_HOSPITALS.len()
    );
    assert_eq!(
        s.break_glass.as_ref().map(|b| b.expires.as_str()),
        Some("2026-11-25T15:30:00Z")
    );
}

// ---------------------------------------------------------------------------
// Scenario 6 (7.6.1): the neighbourhood team (Graham, social worker; Sarah,
// district nurse; David, GP) know of Ronald's planned admission (TCI).
// ---------------------------------------------------------------------------

const RONALD_SUMMARY: &[&str] = &[
    "ronald-patient",
    "ronald-allergy",
    "ronald-med-insulin",
    "ronald-med-metformin",
    "ronald-cond-diabetes",
    "ronald-cond-oa-hip",
    "ronald-cond-leg-ulcer",
    "ronald-prompt",
    "ronald-careteam",
    "ronald-appt",
    "ronald-care-package",
    "ronald-careplan",
];

#[test]
fn scenario_6_social_worker_sees_the_tci() {
    // Graham, 3b (S3 C2 DX H1).
    let r = redact("neighbourhood", "neighbourhood-social-worker-3b");
    let expected = joined(&[
        RONALD_SUMMARY,
        &[
            "ronald-event-fall",
            "ronald-foot-risk",
            "ronald-adt",
            "ronald-edd",
            "ronald-tci",
        ],
        &[
            "ronald-gp",
            "ronald-dn",
            "ronald-sw",
            "org-n99005",
            "org-r9b",
            "org-r9d",
            "org-la902",
        ],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(allowed_by(&r, "ronald-tci").as_deref(), Some("hospitals-1"));
    assert_eq!(reasons(&r, "ronald-discharge-plan"), ["tier_not_granted"]);
    assert_eq!(reasons(&r, "ronald-hba1c"), ["tier_not_granted"]);
}

#[test]
fn scenario_6_district_nurse_and_gp() {
    // Sarah, 7 (S3 C3 D2 H2): everything but D3, H3 and the one GP note
    // Ronald asked not to share (an entry-level opt-out). Sarah holds the
    // approval Community tier 3 needs (7.2).
    let r = redact_approved("neighbourhood", "district-nurse-7", "ronald-patient");
    let expected = joined(&[
        RONALD_SUMMARY,
        &[
            "ronald-event-fall",
            "ronald-foot-risk",
            "ronald-dn-record",
            "ronald-hba1c",
            "ronald-vitamin-d",
            "ronald-adt",
            "ronald-edd",
            "ronald-tci",
            "ronald-hospital-careplan",
            "ronald-discharge-plan",
            "ronald-discharge-summary",
        ],
        &[
            "ronald-gp",
            "ronald-dn",
            "ronald-sw",
            "org-n99005",
            "org-r9b",
            "org-r9d",
            "org-r9p",
            "org-la902",
        ],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(reasons(&r, "ronald-gp-note"), ["opted_out"]);
    assert_eq!(reasons(&r, "ronald-genomic"), ["tier_not_granted"]);

    // David, GP 1b (S3 C3 D3 H2) at Ronald's own practice: the note is the
    // practice's own entry, outside the framework.
    let r = redact_approved("neighbourhood", "gp-1b", "ronald-patient");
    let expected = joined(&[
        RONALD_SUMMARY,
        &[
            "ronald-event-fall",
            "ronald-foot-risk",
            "ronald-gp-note",
            "ronald-dn-record",
            "ronald-hba1c",
            "ronald-vitamin-d",
            "ronald-genomic",
            "ronald-adt",
            "ronald-edd",
            "ronald-tci",
            "ronald-hospital-careplan",
            "ronald-discharge-plan",
            "ronald-discharge-summary",
        ],
        &[
            "ronald-gp",
            "ronald-dn",
            "ronald-sw",
            "org-n99005",
            "org-r9b",
            "org-r9d",
            "org-r9p",
            "org-la902",
        ],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(
        allowed_by(&r, "ronald-gp-note").as_deref(),
        Some("own_organisation")
    );
    assert_eq!(reasons(&r, "ronald-preassessment"), ["tier_not_granted"]);
}

// ---------------------------------------------------------------------------
// Scenario 7: a Careline call about Susan; the social work team leader sees
// who else is involved and the shared care plans, then alerts the CPN and GP.
// ---------------------------------------------------------------------------

const SUSAN_SUMMARY: &[&str] = &[
    "susan-patient",
    "susan-allergy",
    "susan-med-lithium",
    "susan-med-quetiapine",
    "susan-cond-bipolar",
    "susan-cond-hypothyroid",
    "susan-prompt",
    "susan-careteam",
    "susan-sister",
    "susan-appt",
    "susan-care-package",
    "susan-careplan",
];

#[test]
fn scenario_7_team_leader_sees_who_is_involved_and_care_plans() {
    // Team leader 3b (S3 C2 DX H1) at Liverpool City Council.
    let r = redact("susan", "social-work-team-leader-3b");
    let expected = joined(&[
        SUSAN_SUMMARY,
        &[
            "susan-safeguarding-concern",
            "susan-mha",
            "susan-smoking",
            "susan-adt",
            "susan-edd",
            "susan-tci",
        ],
        &["susan-gp", "org-n99005", "org-r9b", "org-r9c", "org-la902"],
        // Susan's person-centred plan (a female doctor, her goals): Summary tier 3.
        &["pcp-susan-patient", "susan-lithium-monitoring"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(
        allowed_by(&r, "susan-careteam").as_deref(),
        Some("own_organisation")
    );
    assert_eq!(
        allowed_by(&r, "susan-careplan").as_deref(),
        Some("summary-3")
    );
    // Alerts and flags are "TBC" in table 1: the policy shares none until
    // each category is scoped, so the safeguarding alert is withheld, even
    // from the council that wrote it.
    assert_eq!(reasons(&r, "susan-safeguarding-alert"), ["not_shared"]);
    assert_eq!(
        reasons(&r, "susan-ivf"),
        ["excluded_category:ivf_treatment"]
    );
}

#[test]
fn scenario_7_cpn_and_gp_respond_together() {
    // CPN 2a (S3 C2 D2 H2) at R9C.
    let r = redact("susan", "cpn-2a");
    let expected = joined(&[
        SUSAN_SUMMARY,
        &[
            "susan-safeguarding-concern",
            "susan-mha",
            "susan-smoking",
            "susan-cpn-note",
            "susan-lithium",
            "susan-prolactin",
            "susan-adt",
            "susan-edd",
            "susan-tci",
            "susan-hospital-careplan",
            "susan-discharge-plan",
            "susan-discharge-summary",
        ],
        &[
            "susan-gp",
            "org-n99005",
            "org-r9b",
            "org-r9c",
            "org-r9p",
            "org-la902",
        ],
        &["pcp-susan-patient", "susan-lithium-monitoring"],
    ]);
    assert_sees(&r, &expected);

    // GP 1b (S3 C3 D3 H2) at Susan's practice, approved for her Community
    // tier 3 (7.2), where the CPN's note is.
    let r = redact_approved("susan", "gp-1b", "susan-patient");
    let expected = joined(&[
        SUSAN_SUMMARY,
        &[
            "susan-safeguarding-concern",
            "susan-mha",
            "susan-smoking",
            "susan-cpn-note",
            "susan-lithium",
            "susan-prolactin",
            "susan-genomic",
            "susan-adt",
            "susan-edd",
            "susan-tci",
            "susan-hospital-careplan",
            "susan-discharge-plan",
            "susan-discharge-summary",
        ],
        &[
            "susan-gp",
            "org-n99005",
            "org-r9b",
            "org-r9c",
            "org-r9p",
            "org-la902",
        ],
        &["pcp-susan-patient", "susan-lithium-monitoring"],
    ]);
    assert_sees(&r, &expected);
    assert_eq!(
        reasons(&r, "susan-ivf"),
        ["excluded_category:ivf_treatment"]
    );
    assert_eq!(reasons(&r, "susan-ed-record"), ["tier_not_granted"]);
}

#[test]
fn scenario_7_careline_advisor_and_expired_consent() {
    // Andrea, Careline contact advisor (admin/clerical, S1): demographics by
    // consent, plus the council's own entries in Liquidlogic.
    let r = redact("susan", "careline-advisor-5");
    assert_sees(
        &r,
        &[
            "susan-patient",
            "susan-careteam",
            "susan-care-package",
            "susan-safeguarding-concern",
            "susan-gp",
            "org-n99005",
            "org-r9c",
            "org-la902",
        ],
    );
    assert_eq!(reasons(&r, "susan-allergy"), ["tier_not_granted"]);

    // Community health services (R9D) had a time-limited consent that ended
    // in January 2024: a district nurse there now sees nothing.
    let r = redact("susan", "district-nurse-7");
    assert_sees(&r, &[]);
    assert_eq!(reasons(&r, "susan-patient"), ["no_consent"]);
}
