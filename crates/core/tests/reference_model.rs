//! An independent reference model of the decision rule, written from the
//! iLINKS Information Sharing Framework (2016; Appendix 1 as in
//! `tests/data/appendix1-exclusion-codes.tsv`) and from docs/consent.md,
//! docs/policy.md and docs/patient.md, then compared with the engine on
//! generated cases.
//!
//! The model shares no code with the engine's `decide` and does not read
//! the policy document: its tables are written here by hand.
//!
//! * Table 6: the levels of access of all eleven role and service profiles.
//! * Tables 1-4: the 22 content lines, their segment and tier, and one
//!   exemplar FHIR resource per line (built as `table6.rs` builds them),
//!   plus exemplars that tables 1-4 put in more than one line (a primary
//!   care allergy, medication or diagnosis is also the coded record; an
//!   expected date of discharge is also ADT; a mental-health admission is
//!   ADT and the wider mental-health record; ...). Table 1's "alerts and
//!   flags" is TBC: a flag that is not a health status prompt is shared
//!   with no one but the person.
//! * Appendix 1: the nine exclusion categories with a few Read v2 codes
//!   each from `appendix1-exclusion-codes.tsv` (exact codes, `%` stems,
//!   codes printed without dot padding, near misses that must not match),
//!   a few ICD-10 codes, and the blood-borne virus status of section 7.3
//!   (tier 2 "excludes ... blood-borne disease status"), which applies
//!   only to entries placed in Diagnostics.
//! * Section 7.3's lift: "Wider Diagnostic Record - no exclusions" for a
//!   profile that reaches Diagnostics tier 3, an entry with a Diagnostics
//!   placement the profile reaches, and explicit consent (never break
//!   glass) for that placement and for Diagnostics tier 3.
//! * Section 6.2 and docs/consent.md: permits, opt-outs (standing until
//!   withdrawn by name, at or after them), withdrawals, nested exceptions
//!   of a FHIR Consent, scopes by segment (cumulative tiers: a permit for
//!   tier t covers 1..t, an opt-out covers t..3), content line, exclusion
//!   category and entry, actors (organisation, profile, user), periods
//!   (date-only ends include the day) and inactive FHIR Consents; both the
//!   compact form and FHIR R4 Consent resources are generated.
//! * Break glass (6.2): stands in for missing consent only; whether it
//!   overrides an opt-out is `BREAK_GLASS_OVERRIDES_OPT_OUT`, asserted
//!   against the policy in one test; invalid break glass refuses the
//!   request.
//! * Training (6.5) missing or expired, and purpose of use.
//! * Own organisation (5.1): the holder tag or the request's holding
//!   organisation; such entries pass without tier and consent checks, but
//!   exclusions still apply.
//! * The person themself and proxies (docs/patient.md, docs/policy.md
//!   `proxies`): scopes, categories granted by name, age bands (under 11,
//!   11-15, 16 and over, 29 February birthdays) and the person's agreement.
//! * Community tier 3 "on an individual case basis" (7.2):
//!   `INDIVIDUAL_APPROVAL_FOR_COMMUNITY_TIER_3` and a per-case
//!   `approved_community_t3`, attached to the viewer in `viewer_json`.
//!
//! Per generated entry the model gives allow or withhold, the reason set
//! (one per kind of failure; where the documents leave the order of two
//! failures open, either is accepted), `allowed_by` (a placement label, or
//! `own_organisation`), the break-glass flag, the consent directive that
//! allowed it (the latest permit covering that placement), and the entry's
//! placements.
//!
//! Readings the documents leave open, taken here: a content-line or entry
//! scope selects the entry in all its placements (the docs' "entries placed
//! in that content line"); a proxy's grant (scopes, categories, age) is what
//! governs them, not the person's consent directives (the own-record
//! profile needs no consent); an entry with no placement (a TBC flag) may
//! be reported as `not_shared` or by its exclusion category.
//!
//! Two readings are pinned here as well as in `exclusions.rs`: a
//! person's opt-out of a category covers its codes wherever the entry is
//! placed (only the 7.3 exclusion of blood-borne virus status is limited
//! to Diagnostics), and a permit of a content line below Diagnostics tier
//! 3 (say `all_tests`) is not consent to the tier 3 lift.
//!
//! Not modelled: free-text and security-label exclusions, supporting,
//! `about` and container resources, contained resources, HL7 v2 messages,
//! partial or missing birth dates, records about another patient,
//! `not-online` labels, FHIR `action` elements, scope kinds combined in
//! one top-level directive, the withdrawal of an opt-out that has nested
//! exceptions, codelists other than a few Read v2 and ICD-10 codes and one
//! SNOMED CT concept, EMIS and EGTON local codes, codings without a
//! system, the redacted body, the summary counters and the engine's
//! `approval` field. Policies other than the default are not generated.
//! Approvals (when switched on) are always valid and for this patient.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Value};
use tiergate_core::{
    CompiledConsent, ConsentSet, EntryDecision, Policy, RedactError, Request, Verdict, Viewer,
    DEFAULT_POLICY_JSON,
};
use time::macros::datetime;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------
// Switches the framework leaves to governance.

/// Section 7.2: "The detail behind the term 'wider access' will be defined
/// on an individual case basis, subject to all relevant legal and
/// information governance processes". When true, a profile whose table 6
/// grant reaches Community tier 3 sees it for a patient only with an
/// approval recorded for that user and patient.
const INDIVIDUAL_APPROVAL_FOR_COMMUNITY_TIER_3: bool = true;

/// Section 6.2 lets a professional "override the need to obtain explicit
/// consent"; it says nothing of overriding a person's opt-out, which they
/// "hold the right" to. docs/consent.md: break glass "stands in for
/// missing consent only ... unless the policy says `overrides_opt_out`".
const BREAK_GLASS_OVERRIDES_OPT_OUT: bool = false;

// ---------------------------------------------------------------------------
// The run.

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
const SEED: u64 = 0x7469_6572_6761_7465;
/// Records decided; each holds the Patient and `ENTRIES_PER_RECORD` more.
const RECORDS: usize = 24_000;
const ENTRIES_PER_RECORD: usize = 12;
const MIN_CASES: usize = 100_000;
/// Disagreements printed in full before the test fails.
const MAX_REPORTED: usize = 8;

const PATIENT_ID: &str = "pat-1";
const ORGS: [&str; 2] = ["RVY", "REM"];
const USERS: [&str; 3] = ["user-0", "user-1", "user-2"];

const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const HINT: &str = "https://fhir.tiergate.example/CodeSystem/content-hint";
const HOLDER_TAG: &str = "https://fhir.tiergate.example/CodeSystem/holding-organisation";
const CODED_EXTENSION: &str = "https://fhir.tiergate.example/StructureDefinition/x-model-coding";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";
const READ_V2: &str = "http://read.info/readv2";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const ODS: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
const SDS_USER: &str = "https://fhir.nhs.uk/Id/sds-user-id";
const PROFILE_SYSTEM: &str = "https://fhir.tiergate.example/CodeSystem/profile";
const PLACEMENT: &str = "https://fhir.tiergate.example/CodeSystem/placement";
const CONTENT: &str = "https://fhir.tiergate.example/CodeSystem/content";
const CATEGORY: &str = "https://fhir.tiergate.example/CodeSystem/exclusion-category";
const WITHDRAWS: &str = "https://fhir.tiergate.example/StructureDefinition/withdraws";

// ---------------------------------------------------------------------------
// Tables 1-6, Appendix 1 and section 7.3, by hand.

const SUMMARY: usize = 0;
const COMMUNITY: usize = 1;
const DIAGNOSTICS: usize = 2;
/// Segments in table 6's order (S, C, D, H).
const SEGMENTS: [&str; 4] = ["summary", "community", "diagnostics", "hospitals"];

/// Table 6, "Levels of access": S, C, D, H; 0 is `X`.
const TABLE6: [(&str, [u8; 4]); 11] = [
    ("1a", [3, 2, 3, 3]), // Medical, hospital specialist
    ("1b", [3, 3, 3, 2]), // Medical, GP
    ("1c", [3, 2, 3, 2]), // Medical, community medical
    ("2a", [3, 2, 2, 2]), // Registered HCP, specialist (e.g. matron)
    ("2b", [3, 1, 1, 1]), // Registered HCP, generalist (e.g. AHP)
    ("3a", [3, 1, 0, 2]), // Social care, hospital
    ("3b", [3, 2, 0, 1]), // Social care, community
    ("4", [3, 0, 0, 0]),  // Unregistered professional
    ("5", [1, 0, 0, 0]),  // Admin / clerical
    ("6", [3, 1, 3, 3]),  // Urgent care
    ("7", [3, 3, 2, 2]),  // Extended primary care team
];

/// Tables 1-4: each content line's segment and tier.
const CONTENT_LINES: [(&str, usize, u8); 22] = [
    ("demographics", 0, 1),
    ("allergies", 0, 2),
    ("medication", 0, 2),
    ("diagnoses", 0, 2),
    ("health_status_prompts", 0, 2),
    ("involved_in_care", 0, 2),
    ("appointments", 0, 2),
    ("care_package", 0, 3),
    ("care_plans", 0, 3),
    ("significant_events", 1, 1),
    ("coded_record", 1, 2),
    ("wider_community_record", 1, 3),
    ("routine_tests", 2, 1),
    ("all_tests", 2, 2),
    ("wider_diagnostic_record", 2, 3),
    ("adt", 3, 1),
    ("tci", 3, 1),
    ("los_edd", 3, 1),
    ("hospital_care_plans", 3, 2),
    ("discharge_plans", 3, 2),
    ("e_correspondence", 3, 2),
    ("wider_hospital_record", 3, 3),
];

fn line(content: &str) -> (usize, u8) {
    CONTENT_LINES
        .iter()
        .find(|(c, _, _)| *c == content)
        .map(|(_, s, t)| (*s, *t))
        .unwrap_or_else(|| panic!("unknown content line {content}"))
}

fn label(segment: usize, tier: u8) -> String {
    format!("{}-{tier}", SEGMENTS[segment])
}

/// Appendix 1's nine categories, and section 7.3's blood-borne virus status,
/// which is about the diagnostic record only (the segment it applies in).
const CATEGORIES: [(&str, Option<usize>); 10] = [
    ("hiv_aids", None),
    ("sexually_transmitted_diseases", None),
    ("termination_of_pregnancy", None),
    ("ivf_treatment", None),
    ("complaints", None),
    ("convictions_imprisonment", None),
    ("abuse", None),
    ("gender_reassignment", None),
    ("adoption", None),
    ("blood_borne_viruses", Some(DIAGNOSTICS)),
];

fn category_segment(category: &str) -> Option<usize> {
    CATEGORIES
        .iter()
        .find(|(c, _)| *c == category)
        .and_then(|(_, s)| *s)
}

/// Codes as a record carries them, and the category the framework puts
/// each in (`None`: a near miss that is in no category).
const CODES: [(&str, &str, Option<&str>); 31] = [
    (READ_V2, "43W7.", Some("hiv_aids")), // HIV1 antibody level
    (READ_V2, "A7881", Some("hiv_aids")), // below A788%
    (READ_V2, "62b..", Some("hiv_aids")), // antenatal HIV screening
    (ICD10, "B20.1", Some("hiv_aids")),   // HIV disease (ICD-10 B20-B24)
    (READ_V2, "62b1.", None),             // 62b.. has no `%`
    (READ_V2, "43w7.", None),             // codes are case-sensitive
    (SNOMED, "43W7.", None),              // Appendix 1 is Read v2, not SNOMED
    (READ_V2, "A981.", Some("sexually_transmitted_diseases")), // A9%
    (READ_V2, "14OP.", Some("sexually_transmitted_diseases")), // printed `14OP`
    (READ_V2, "A78A3", Some("sexually_transmitted_diseases")),
    (READ_V2, "7E086", Some("termination_of_pregnancy")),
    (READ_V2, "L051.", Some("termination_of_pregnancy")), // L05%
    (READ_V2, "8C81.", Some("ivf_treatment")),            // 8C8%
    (READ_V2, "7E1F2", Some("ivf_treatment")),
    (READ_V2, "9U1..", Some("complaints")), // 9U%
    (READ_V2, "13HN.", Some("convictions_imprisonment")), // printed `13HN`
    (READ_V2, "ZV625", Some("convictions_imprisonment")),
    (READ_V2, "14X4.", Some("convictions_imprisonment")), // not abuse's 14X..
    (READ_V2, "SN571", Some("abuse")),
    (READ_V2, "14X..", Some("abuse")),
    (READ_V2, "1K4..", Some("gender_reassignment")), // printed `1K4`
    (READ_V2, "E225.", Some("gender_reassignment")),
    (READ_V2, "8GE8.", Some("adoption")),
    (READ_V2, "9F51.", Some("adoption")),              // 9F5%
    (READ_V2, "H33..", None),                          // asthma
    (SNOMED, "50711007", Some("blood_borne_viruses")), // hepatitis C antibody test
    (ICD10, "B18.2", Some("blood_borne_viruses")),     // chronic viral hepatitis C
    (ICD10, "B18.1", Some("blood_borne_viruses")),     // chronic viral hepatitis B
    (ICD10, "A54.0", Some("sexually_transmitted_diseases")), // gonococcal infection
    (ICD10, "O04.9", Some("termination_of_pregnancy")),
    (ICD10, "J45.9", None), // asthma
];

/// What a proxy scope gives (docs/policy.md, "Proxy scopes"): `None` is
/// every content line.
fn proxy_scope_content(scope: &str) -> Option<&'static [&'static str]> {
    match scope {
        "appointments" => Some(&["appointments", "care_plans"]),
        "record" => None,
        "booking" | "sharing" | "access-log" => Some(&[]),
        other => panic!("unknown proxy scope {other}"),
    }
}
const PROXY_SCOPES: [&str; 5] = ["appointments", "record", "booking", "sharing", "access-log"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Band {
    Under11,
    From11To15,
    From16,
}

/// A birth date, the band it puts the patient in on `NOW`, and the day
/// they reached that band (29 February birthdays: 1 March in other years).
struct Birth {
    date: &'static str,
    band: Band,
    reached: &'static str,
    day_before: &'static str,
}

const BIRTHS: [Birth; 9] = [
    Birth {
        date: "2019-06-14",
        band: Band::Under11,
        reached: "2019-06-14",
        day_before: "2019-06-13",
    },
    Birth {
        date: "2015-11-26", // 11 tomorrow
        band: Band::Under11,
        reached: "2015-11-26",
        day_before: "2015-11-25",
    },
    Birth {
        date: "2015-11-25", // 11 today
        band: Band::From11To15,
        reached: "2026-11-25",
        day_before: "2026-11-24",
    },
    Birth {
        date: "2013-03-02",
        band: Band::From11To15,
        reached: "2024-03-02",
        day_before: "2024-03-01",
    },
    Birth {
        date: "2012-02-29", // 11 on 1 March 2023
        band: Band::From11To15,
        reached: "2023-03-01",
        day_before: "2023-02-28",
    },
    Birth {
        date: "2010-11-26", // 16 tomorrow
        band: Band::From11To15,
        reached: "2021-11-26",
        day_before: "2021-11-25",
    },
    Birth {
        date: "2010-11-25", // 16 today
        band: Band::From16,
        reached: "2026-11-25",
        day_before: "2026-11-24",
    },
    Birth {
        date: "2008-02-29", // 16 on 29 February 2024, a leap year
        band: Band::From16,
        reached: "2024-02-29",
        day_before: "2024-02-28",
    },
    Birth {
        date: "1990-05-10",
        band: Band::From16,
        reached: "2006-05-10",
        day_before: "2006-05-09",
    },
];

/// docs/policy.md `proxies.ages`: what a grant gives in a band, without and
/// with the person's own agreement. `None` is every scope the grant holds.
fn band_scopes(band: Band, agreed: bool) -> Option<&'static [&'static str]> {
    match (band, agreed) {
        (Band::Under11, _) => None,
        (Band::From11To15, false) => Some(&["appointments", "booking"]),
        (Band::From11To15, true) => Some(&["appointments", "booking", "record"]),
        (Band::From16, false) => Some(&[]),
        (Band::From16, true) => None,
    }
}

// ---------------------------------------------------------------------------
// Exemplar resources: one per content line (as table6.rs builds them), and
// some that tables 1-4 place in several lines.

/// Name, and the content lines the framework puts it in (empty: table 1's
/// "alerts and flags", TBC, not placed).
const EXEMPLARS: [(&str, &[&str]); 29] = [
    ("demographics", &["demographics"]),
    ("allergies", &["allergies", "coded_record"]),
    ("medication", &["medication", "coded_record"]),
    ("diagnoses", &["diagnoses", "coded_record"]),
    ("health_status_prompts", &["health_status_prompts"]),
    ("involved_in_care", &["involved_in_care"]),
    ("appointments", &["appointments"]),
    ("care_package", &["care_package"]),
    ("care_plans", &["care_plans"]),
    ("significant_events", &["significant_events"]),
    ("coded_record", &["coded_record"]),
    ("wider_community_record", &["wider_community_record"]),
    ("routine_tests", &["routine_tests"]),
    ("all_tests", &["all_tests"]),
    ("wider_diagnostic_record", &["wider_diagnostic_record"]),
    ("adt", &["adt"]),
    ("tci", &["tci"]),
    ("los_edd", &["adt", "los_edd"]),
    ("hospital_care_plans", &["hospital_care_plans"]),
    ("discharge_plans", &["discharge_plans"]),
    ("e_correspondence", &["e_correspondence"]),
    ("wider_hospital_record", &["wider_hospital_record"]),
    (
        "significant_diagnosis",
        &["diagnoses", "significant_events", "coded_record"],
    ),
    ("mha_event", &["significant_events", "coded_record"]),
    ("end_of_life_plan", &["care_plans", "hospital_care_plans"]),
    (
        "mental_health_admission",
        &["adt", "wider_community_record"],
    ),
    ("genomic_report", &["wider_diagnostic_record"]),
    ("imaging_study", &["routine_tests"]),
    ("alert_flag", &[]),
];

fn cc(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

/// A resource with an optional care-setting tag, hint tags and elements.
fn resource(rtype: &str, id: &str, setting: Option<&str>, hints: &[&str], extra: Value) -> Value {
    let mut tags: Vec<Value> = Vec::new();
    if let Some(s) = setting {
        tags.push(json!({"system": SETTING, "code": s}));
    }
    for h in hints {
        tags.push(json!({"system": HINT, "code": h}));
    }
    let mut r = json!({"resourceType": rtype, "id": id});
    if !tags.is_empty() {
        r["meta"] = json!({"tag": tags});
    }
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            r[k] = v;
        }
    }
    r
}

fn exemplar(name: &str, id: &str, birth: &str) -> Value {
    let lab = |code: &str| json!({"status": "final", "category": [cc(OBS_CATEGORY, "laboratory")], "code": cc(LOINC, code)});
    let plan = json!({"status": "active", "intent": "plan"});
    match name {
        "demographics" => json!({"resourceType": "Patient", "id": id, "birthDate": birth}),
        "allergies" => resource(
            "AllergyIntolerance",
            id,
            Some("primary_care"),
            &[],
            json!({"code": cc(SNOMED, "91936005")}),
        ),
        "medication" => resource(
            "MedicationStatement",
            id,
            Some("primary_care"),
            &[],
            json!({"status": "active", "medicationCodeableConcept": cc(SNOMED, "322236009")}),
        ),
        "diagnoses" => resource(
            "Condition",
            id,
            Some("primary_care"),
            &[],
            json!({"code": cc(SNOMED, "44054006")}),
        ),
        "health_status_prompts" => resource(
            "Flag",
            id,
            Some("primary_care"),
            &[],
            json!({"status": "active", "category": [cc(HINT, "health-status-prompt")]}),
        ),
        "involved_in_care" => resource("CareTeam", id, None, &[], json!({})),
        "appointments" => resource(
            "Appointment",
            id,
            Some("community"),
            &[],
            json!({"status": "booked"}),
        ),
        "care_package" => resource("CarePlan", id, Some("social_care"), &[], plan),
        "care_plans" => resource("CarePlan", id, Some("community"), &[], plan),
        "significant_events" => resource(
            "Condition",
            id,
            None,
            &["significant-event"],
            json!({"code": cc(SNOMED, "22298006")}),
        ),
        "coded_record" => resource(
            "Observation",
            id,
            Some("community"),
            &[],
            json!({"status": "final", "code": cc(SNOMED, "271649006")}),
        ),
        "wider_community_record" => resource(
            "DocumentReference",
            id,
            Some("mental_health"),
            &[],
            json!({"status": "current"}),
        ),
        "routine_tests" => resource("Observation", id, None, &[], lab("718-7")),
        "all_tests" => resource("Observation", id, None, &[], lab("5196-1")),
        "wider_diagnostic_record" => resource(
            "MolecularSequence",
            id,
            None,
            &[],
            json!({"coordinateSystem": 0}),
        ),
        "adt" => resource(
            "Encounter",
            id,
            Some("hospital"),
            &[],
            json!({"status": "finished"}),
        ),
        "tci" => resource(
            "Encounter",
            id,
            Some("hospital"),
            &[],
            json!({"status": "planned"}),
        ),
        "los_edd" => resource(
            "Encounter",
            id,
            Some("hospital"),
            &[],
            json!({"status": "in-progress", "length": {"value": 4, "unit": "d"}}),
        ),
        "hospital_care_plans" => resource("CarePlan", id, Some("hospital"), &[], plan),
        "discharge_plans" => resource(
            "CarePlan",
            id,
            Some("hospital"),
            &[],
            json!({"status": "active", "intent": "plan", "category": [cc(HINT, "discharge-plan")]}),
        ),
        "e_correspondence" => resource(
            "DocumentReference",
            id,
            Some("hospital"),
            &[],
            json!({"status": "current", "type": cc(LOINC, "18842-5")}),
        ),
        "wider_hospital_record" => resource(
            "MedicationAdministration",
            id,
            Some("hospital"),
            &[],
            json!({"status": "completed"}),
        ),
        "significant_diagnosis" => resource(
            "Condition",
            id,
            Some("primary_care"),
            &["significant-event"],
            json!({"code": cc(SNOMED, "22298006")}),
        ),
        "mha_event" => resource(
            "Encounter",
            id,
            Some("mental_health"),
            &["mha-event"],
            json!({"status": "finished"}),
        ),
        "end_of_life_plan" => resource(
            "CarePlan",
            id,
            Some("hospital"),
            &[],
            json!({"status": "active", "intent": "plan", "category": [cc(HINT, "end-of-life-plan")]}),
        ),
        "mental_health_admission" => resource(
            "Encounter",
            id,
            Some("mental_health"),
            &[],
            json!({"status": "finished", "class": {"system": ACT_CODE, "code": "IMP"}}),
        ),
        "genomic_report" => resource(
            "DiagnosticReport",
            id,
            None,
            &[],
            json!({"status": "final", "category": [cc(V2_0074, "GE")]}),
        ),
        "imaging_study" => resource(
            "ImagingStudy",
            id,
            None,
            &[],
            json!({"status": "available"}),
        ),
        "alert_flag" => resource(
            "Flag",
            id,
            Some("primary_care"),
            &[],
            json!({"status": "active"}),
        ),
        other => panic!("no exemplar {other}"),
    }
}

// ---------------------------------------------------------------------------
// A generated case.

#[derive(Debug, Clone)]
struct EntrySpec {
    exemplar: usize,
    rtype: String,
    id: String,
    full_url: String,
    /// Indexes into `CODES`.
    codes: Vec<usize>,
    /// The holding organisation's tag, if any.
    holder: Option<&'static str>,
}

impl EntrySpec {
    fn content(&self) -> &'static [&'static str] {
        EXEMPLARS[self.exemplar].1
    }

    /// (content line, segment, tier) for every placement.
    fn placements(&self) -> Vec<(&'static str, usize, u8)> {
        self.content()
            .iter()
            .map(|c| {
                let (s, t) = line(c);
                (*c, s, t)
            })
            .collect()
    }

    fn reference(&self) -> String {
        format!("{}/{}", self.rtype, self.id)
    }

    /// The exclusion categories this entry falls in: every category of its
    /// codes, the segment-limited ones only where it has a placement there.
    fn categories(&self) -> BTreeSet<&'static str> {
        let placements = self.placements();
        self.codes
            .iter()
            .filter_map(|&i| CODES[i].2)
            .filter(|c| match category_segment(c) {
                None => true,
                Some(seg) => placements.iter().any(|(_, s, _)| *s == seg),
            })
            .collect()
    }

    /// Every category named by its codes, wherever it is placed.
    fn code_categories(&self) -> BTreeSet<&'static str> {
        self.codes.iter().filter_map(|&i| CODES[i].2).collect()
    }

    fn resource(&self, birth: &str) -> Value {
        let mut r = exemplar(EXEMPLARS[self.exemplar].0, &self.id, birth);
        for &i in &self.codes {
            let (system, code, _) = CODES[i];
            let coding = json!({"system": system, "code": code});
            // In the resource's own `code` where it has one, else in an
            // extension (docs/policy.md: codings are read wherever they sit).
            if let Some(codings) = r
                .get_mut("code")
                .and_then(|c| c.get_mut("coding"))
                .and_then(Value::as_array_mut)
            {
                codings.push(coding);
            } else {
                if r.get("extension").is_none() {
                    r["extension"] = json!([]);
                }
                r["extension"].as_array_mut().unwrap().push(
                    json!({"url": CODED_EXTENSION, "valueCodeableConcept": {"coding": [coding]}}),
                );
            }
        }
        if let Some(h) = self.holder {
            if r.get("meta").is_none() {
                r["meta"] = json!({});
            }
            if r["meta"].get("tag").is_none() {
                r["meta"]["tag"] = json!([]);
            }
            r["meta"]["tag"]
                .as_array_mut()
                .unwrap()
                .push(json!({"system": HOLDER_TAG, "code": h}));
        }
        r
    }
}

#[derive(Debug, Clone)]
enum Who {
    Professional {
        profile: usize,
        org: &'static str,
        user: &'static str,
    },
    /// The person themself.
    Person,
    Proxy {
        scopes: Vec<&'static str>,
        categories: Vec<&'static str>,
        agreed: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrainingCase {
    Current,
    CurrentCompleted,
    ExpiresTodayDateOnly,
    ExpiredYesterday,
    ExpiredMinuteAgo,
    Missing,
}

impl TrainingCase {
    fn json(self) -> Value {
        match self {
            TrainingCase::Current => json!({"expires": "2027-06-30"}),
            TrainingCase::CurrentCompleted => {
                json!({"completed": "2026-01-10", "expires": "2027-01-10"})
            }
            TrainingCase::ExpiresTodayDateOnly => json!({"expires": "2026-11-25"}),
            TrainingCase::ExpiredYesterday => json!({"expires": "2026-11-24"}),
            TrainingCase::ExpiredMinuteAgo => json!({"expires": "2026-11-25T11:59:00Z"}),
            TrainingCase::Missing => Value::Null,
        }
    }

    /// Section 6.5; a date-only expiry includes the whole day.
    fn gate(self) -> Option<&'static str> {
        match self {
            TrainingCase::Current
            | TrainingCase::CurrentCompleted
            | TrainingCase::ExpiresTodayDateOnly => None,
            TrainingCase::ExpiredYesterday | TrainingCase::ExpiredMinuteAgo => {
                Some("training_expired")
            }
            TrainingCase::Missing => Some("training_missing"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakGlassCase {
    None,
    /// A reason from docs/consent.md's list, started this many minutes ago.
    Valid(&'static str, i64),
    NoReason,
    UnknownReason,
    /// Started this many minutes ago (240 or more: out of its window).
    Expired(i64),
    NotStarted,
}

impl BreakGlassCase {
    fn json(self) -> Option<Value> {
        let at = |minutes_ago: i64| minute_stamp(NOW_MINUTES - minutes_ago);
        match self {
            BreakGlassCase::None => None,
            BreakGlassCase::Valid(reason, ago) => Some(
                json!({"reason": reason, "detail": "unresponsive on arrival", "started": at(ago)}),
            ),
            BreakGlassCase::NoReason => Some(json!({"reason": null, "started": at(5)})),
            BreakGlassCase::UnknownReason => Some(json!({"reason": "curiosity", "started": at(5)})),
            BreakGlassCase::Expired(ago) => {
                Some(json!({"reason": "unconscious", "started": at(ago)}))
            }
            BreakGlassCase::NotStarted => {
                Some(json!({"reason": "safeguarding", "started": at(-30)}))
            }
        }
    }

    fn valid(self) -> bool {
        matches!(self, BreakGlassCase::Valid(..))
    }

    fn refused(self) -> bool {
        !matches!(self, BreakGlassCase::None | BreakGlassCase::Valid(..))
    }
}

#[derive(Debug, Clone)]
struct ViewerCase {
    who: Who,
    training: TrainingCase,
    purpose_ok: bool,
    break_glass: BreakGlassCase,
    /// A privacy officer's approval for this user and patient at Community
    /// tier 3 (used only when `INDIVIDUAL_APPROVAL_FOR_COMMUNITY_TIER_3`).
    approved_community_t3: bool,
}

impl ViewerCase {
    fn organisation(&self) -> &'static str {
        match &self.who {
            Who::Professional { org, .. } => org,
            Who::Person | Who::Proxy { .. } => "PATIENT",
        }
    }

    fn profile_id(&self) -> &'static str {
        match &self.who {
            Who::Professional { profile, .. } => TABLE6[*profile].0,
            Who::Person | Who::Proxy { .. } => "patient",
        }
    }

    fn user(&self) -> &'static str {
        match &self.who {
            Who::Professional { user, .. } => user,
            Who::Person => "the-person",
            Who::Proxy { .. } => "a-carer",
        }
    }
}

/// The one place a case becomes a `Viewer` (the JSON the edge would build).
fn viewer_json(v: &ViewerCase) -> Value {
    let mut j = json!({
        "user_id": v.user(),
        "organisation": v.organisation(),
        "profile": v.profile_id(),
        "purpose": if v.purpose_ok { "direct-care" } else { "research" },
        "training": v.training.json(),
    });
    if let Some(bg) = v.break_glass.json() {
        j["break_glass"] = bg;
    }
    match &v.who {
        Who::Professional { .. } => {
            if INDIVIDUAL_APPROVAL_FOR_COMMUNITY_TIER_3 && v.approved_community_t3 {
                j["approvals"] = json!([{
                    "id": "approval-c3", "patient": PATIENT_ID,
                    "segment": "community", "tier": 3,
                    "starts": "2026-11-01", "expires": "2027-01-31"
                }]);
            }
        }
        Who::Person => j["patient"] = json!(PATIENT_ID),
        Who::Proxy {
            scopes,
            categories,
            agreed,
        } => {
            j["patient"] = json!(PATIENT_ID);
            j["proxy_scopes"] = json!(scopes);
            if !categories.is_empty() {
                j["proxy_categories"] = json!(categories);
            }
            if let Some(a) = agreed {
                j["proxy_agreed"] = json!(a);
            }
        }
    }
    j
}

fn viewer(v: &ViewerCase) -> Viewer {
    serde_json::from_value(viewer_json(v)).unwrap()
}

// ---------------------------------------------------------------------------
// Consent directives.

/// Minutes from 2026-10-01T00:00Z; `NOW` is 2026-11-25T12:00Z.
const NOW_MINUTES: i64 = (31 + 24) * 24 * 60 + 12 * 60;

fn minute_stamp(m: i64) -> String {
    let (day, rest) = (m.div_euclid(24 * 60), m.rem_euclid(24 * 60));
    let (month, dom) = if day < 31 {
        (10, day + 1)
    } else {
        (11, day - 30)
    };
    format!(
        "2026-{month:02}-{dom:02}T{:02}:{:02}:00Z",
        rest / 60,
        rest % 60
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PeriodCase {
    None,
    Current,
    Expired,
    Future,
    EndsTodayDateOnly,
    EndedMinuteAgo,
    StartsInAMinute,
    StartedTodayDateOnly,
}

const PERIODS: [PeriodCase; 7] = [
    PeriodCase::Current,
    PeriodCase::Expired,
    PeriodCase::Future,
    PeriodCase::EndsTodayDateOnly,
    PeriodCase::EndedMinuteAgo,
    PeriodCase::StartsInAMinute,
    PeriodCase::StartedTodayDateOnly,
];

impl PeriodCase {
    fn json(self) -> Option<Value> {
        match self {
            PeriodCase::None => None,
            PeriodCase::Current => Some(json!({"start": "2026-01-01", "end": "2027-01-01"})),
            PeriodCase::Expired => Some(json!({"start": "2026-01-01", "end": "2026-11-20"})),
            PeriodCase::Future => Some(json!({"start": "2026-12-01"})),
            PeriodCase::EndsTodayDateOnly => Some(json!({"end": "2026-11-25"})),
            PeriodCase::EndedMinuteAgo => Some(json!({"end": "2026-11-25T11:59:00Z"})),
            PeriodCase::StartsInAMinute => Some(json!({"start": "2026-11-25T12:01:00Z"})),
            PeriodCase::StartedTodayDateOnly => Some(json!({"start": "2026-11-25"})),
        }
    }

    /// In force at `NOW` (a date-only end includes the day; a date-only
    /// start begins it).
    fn in_force(self) -> bool {
        matches!(
            self,
            PeriodCase::None
                | PeriodCase::Current
                | PeriodCase::EndsTodayDateOnly
                | PeriodCase::StartedTodayDateOnly
        )
    }
}

#[derive(Debug, Clone, Default)]
struct Actors {
    orgs: Vec<&'static str>,
    profiles: Vec<&'static str>,
    users: Vec<&'static str>,
}

impl Actors {
    fn is_empty(&self) -> bool {
        self.orgs.is_empty() && self.profiles.is_empty() && self.users.is_empty()
    }

    /// All kinds given must match; within a kind any value will do.
    fn apply_to(&self, v: &ViewerCase) -> bool {
        (self.orgs.is_empty() || self.orgs.contains(&v.organisation()))
            && (self.profiles.is_empty() || self.profiles.contains(&v.profile_id()))
            && (self.users.is_empty() || self.users.contains(&v.user()))
    }

    /// Each kind left empty is the parent's.
    fn within(&self, parent: &Actors) -> Actors {
        Actors {
            orgs: pick_kind(&self.orgs, &parent.orgs),
            profiles: pick_kind(&self.profiles, &parent.profiles),
            users: pick_kind(&self.users, &parent.users),
        }
    }
}

fn pick_kind<T: Clone>(own: &[T], parent: &[T]) -> Vec<T> {
    if own.is_empty() {
        parent.to_vec()
    } else {
        own.to_vec()
    }
}

#[derive(Debug, Clone, Default)]
struct Scope {
    /// Segment and optional tier.
    segments: Vec<(usize, Option<u8>)>,
    content: Vec<&'static str>,
    categories: Vec<&'static str>,
    /// `Type/id` or full URL.
    entries: Vec<String>,
}

impl Scope {
    fn is_empty(&self) -> bool {
        self.segments.is_empty()
            && self.content.is_empty()
            && self.categories.is_empty()
            && self.entries.is_empty()
    }

    fn within(&self, parent: &Scope) -> Scope {
        Scope {
            segments: pick_kind(&self.segments, &parent.segments),
            content: pick_kind(&self.content, &parent.content),
            categories: pick_kind(&self.categories, &parent.categories),
            entries: pick_kind(&self.entries, &parent.entries),
        }
    }

    /// docs/consent.md, "Coverage": a permit for tier t covers tiers 1..t,
    /// a deny for tier t covers t..3; content, categories and entries
    /// select entries (in every placement).
    ///
    /// `strict_content`: for the 7.3 lift's question "does the person permit
    /// Diagnostics tier 3?", a permit scoped by content line answers only
    /// through a line of that tier. Table 3's tier 2 line is "All tests
    /// (excluding sensitive information GUM, HIV and AIDS)": consenting to
    /// it is not consenting to "no exclusions".
    fn covers(
        &self,
        permit: bool,
        e: &EntrySpec,
        segment: usize,
        tier: u8,
        strict_content: bool,
    ) -> bool {
        let seg_ok = self.segments.is_empty()
            || self.segments.iter().any(|(s, t)| {
                *s == segment
                    && match t {
                        None => true,
                        Some(t) if permit => tier <= *t,
                        Some(t) => tier >= *t,
                    }
            });
        let content_ok = self.content.is_empty()
            || self.content.iter().any(|c| {
                e.content().contains(c)
                    && (!(permit && strict_content) || line(c) == (segment, tier))
            });
        let cats = e.code_categories_for_consent();
        let category_ok =
            self.categories.is_empty() || self.categories.iter().any(|c| cats.contains(c));
        let entry_ok = self.entries.is_empty()
            || self
                .entries
                .iter()
                .any(|r| *r == e.reference() || *r == e.full_url);
        seg_ok && content_ok && category_ok && entry_ok
    }
}

impl EntrySpec {
    /// docs/consent.md: a category opt-out covers "entries carrying a code
    /// of that exclusion category", wherever the entry is placed.
    fn code_categories_for_consent(&self) -> BTreeSet<&'static str> {
        self.code_categories()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Permit,
    Deny,
}

#[derive(Debug, Clone)]
struct Directive {
    kind: Kind,
    /// Minutes since 2026-10-01T00:00Z.
    recorded: i64,
    period: PeriodCase,
    actors: Actors,
    scope: Scope,
    /// A provision nested in directive `n`'s Consent (FHIR form only).
    parent: Option<usize>,
    /// The FHIR Consent's status is `active` (always, in the compact form).
    active: bool,
}

#[derive(Debug, Clone)]
struct Withdraw {
    recorded: i64,
    /// The id it names.
    of: String,
    active: bool,
}

#[derive(Debug, Clone)]
struct ConsentCase {
    fhir: bool,
    directives: Vec<Directive>,
    withdraws: Vec<Withdraw>,
}

impl ConsentCase {
    /// The id the engine knows a directive by: `c{n}` for a top-level one
    /// (a Consent's id in the FHIR form), `c{parent}.0` for a nested one.
    fn id(&self, n: usize) -> String {
        match self.directives[n].parent {
            None => format!("c{n}"),
            Some(p) => format!("c{p}.0"),
        }
    }

    /// A nested provision inherits its parent's period, status, and each
    /// actor and scope kind it leaves empty.
    fn effective(&self, n: usize) -> (Actors, Scope, PeriodCase, bool, i64) {
        let d = &self.directives[n];
        match d.parent {
            None => (
                d.actors.clone(),
                d.scope.clone(),
                d.period,
                d.active,
                d.recorded,
            ),
            Some(p) => {
                let parent = &self.directives[p];
                (
                    d.actors.within(&parent.actors),
                    d.scope.within(&parent.scope),
                    parent.period,
                    parent.active,
                    parent.recorded,
                )
            }
        }
    }

    fn to_json(&self) -> Value {
        if self.fhir {
            self.to_fhir()
        } else {
            self.to_compact()
        }
    }

    fn to_compact(&self) -> Value {
        let mut out = Vec::new();
        for (n, d) in self.directives.iter().enumerate() {
            assert!(d.parent.is_none() && d.active);
            let mut j = json!({
                "id": self.id(n),
                "kind": if d.kind == Kind::Permit { "permit" } else { "deny" },
                "recorded": minute_stamp(d.recorded),
            });
            if let Some(p) = d.period.json() {
                j["period"] = p;
            }
            if !d.actors.is_empty() {
                let mut a = json!({});
                if !d.actors.orgs.is_empty() {
                    a["organisations"] = json!(d.actors.orgs);
                }
                if !d.actors.profiles.is_empty() {
                    a["profiles"] = json!(d.actors.profiles);
                }
                if !d.actors.users.is_empty() {
                    a["users"] = json!(d.actors.users);
                }
                j["actors"] = a;
            }
            if !d.scope.is_empty() {
                let mut s = json!({});
                if !d.scope.segments.is_empty() {
                    let segs: Vec<Value> = d
                        .scope
                        .segments
                        .iter()
                        .map(|(seg, tier)| match tier {
                            None => json!({"segment": SEGMENTS[*seg]}),
                            Some(t) => json!({"segment": SEGMENTS[*seg], "tier": t}),
                        })
                        .collect();
                    s["segments"] = json!(segs);
                }
                if !d.scope.content.is_empty() {
                    s["content"] = json!(d.scope.content);
                }
                if !d.scope.categories.is_empty() {
                    s["categories"] = json!(d.scope.categories);
                }
                if !d.scope.entries.is_empty() {
                    s["entries"] = json!(d.scope.entries);
                }
                j["scope"] = s;
            }
            out.push(j);
        }
        for (n, w) in self.withdraws.iter().enumerate() {
            assert!(w.active);
            out.push(json!({
                "id": format!("w{n}"), "kind": "withdraw",
                "recorded": minute_stamp(w.recorded), "withdraws": w.of
            }));
        }
        // Not in recorded order: the engine orders them itself.
        json!({ "directives": out })
    }

    fn provision(d: &Directive) -> Value {
        let mut p = json!({"type": if d.kind == Kind::Permit { "permit" } else { "deny" }});
        if d.parent.is_none() {
            if let Some(period) = d.period.json() {
                p["period"] = period;
            }
        }
        let mut actors = Vec::new();
        let actor = |system: &str, value: &str| {
            json!({"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                   "reference": {"identifier": {"system": system, "value": value}}})
        };
        for o in &d.actors.orgs {
            actors.push(actor(ODS, o));
        }
        for pr in &d.actors.profiles {
            actors.push(actor(PROFILE_SYSTEM, pr));
        }
        for u in &d.actors.users {
            actors.push(actor(SDS_USER, u));
        }
        if !actors.is_empty() {
            p["actor"] = json!(actors);
        }
        let mut codes = Vec::new();
        for (seg, tier) in &d.scope.segments {
            let code = match tier {
                None => SEGMENTS[*seg].to_owned(),
                Some(t) => format!("{}-{t}", SEGMENTS[*seg]),
            };
            codes.push(cc(PLACEMENT, &code));
        }
        for c in &d.scope.content {
            codes.push(cc(CONTENT, c));
        }
        for c in &d.scope.categories {
            codes.push(cc(CATEGORY, c));
        }
        if !codes.is_empty() {
            p["code"] = json!(codes);
        }
        if !d.scope.entries.is_empty() {
            let data: Vec<Value> = d
                .scope
                .entries
                .iter()
                .map(|r| json!({"meaning": "instance", "reference": {"reference": r}}))
                .collect();
            p["data"] = json!(data);
        }
        p
    }

    fn to_fhir(&self) -> Value {
        let consent = |id: String, active: bool, recorded: i64| {
            json!({
                "resourceType": "Consent",
                "id": id,
                "status": if active { "active" } else { "inactive" },
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": format!("Patient/{PATIENT_ID}")},
                "dateTime": minute_stamp(recorded)
            })
        };
        let mut out = Vec::new();
        for (n, d) in self.directives.iter().enumerate() {
            if d.parent.is_some() {
                continue;
            }
            let mut c = consent(self.id(n), d.active, d.recorded);
            let mut p = Self::provision(d);
            let nested: Vec<Value> = self
                .directives
                .iter()
                .filter(|x| x.parent == Some(n))
                .map(Self::provision)
                .collect();
            if !nested.is_empty() {
                p["provision"] = json!(nested);
            }
            c["provision"] = p;
            out.push(c);
        }
        for (n, w) in self.withdraws.iter().enumerate() {
            let mut c = consent(format!("w{n}"), w.active, w.recorded);
            c["extension"] = json!([{"url": WITHDRAWS, "valueReference": {"reference": format!("Consent/{}", w.of)}}]);
            out.push(c);
        }
        Value::Array(out)
    }
}

// ---------------------------------------------------------------------------
// The model.

#[derive(Debug, Clone, PartialEq, Eq)]
enum ConsentSays {
    OptedOut,
    /// The latest permit covering it.
    Permit(String),
    Silent,
}

/// docs/consent.md, "Precedence", for one entry in one placement.
fn consent_says(
    c: &ConsentCase,
    v: &ViewerCase,
    e: &EntrySpec,
    segment: usize,
    tier: u8,
    strict_content: bool,
    tags: &mut BTreeSet<&'static str>,
) -> ConsentSays {
    let covering: Vec<(usize, Kind, i64)> = (0..c.directives.len())
        .filter_map(|n| {
            let (actors, scope, period, active, recorded) = c.effective(n);
            let kind = c.directives[n].kind;
            (active
                && period.in_force()
                && actors.apply_to(v)
                && scope.covers(kind == Kind::Permit, e, segment, tier, strict_content))
            .then_some((n, kind, recorded))
        })
        .collect();
    // An opt-out stands until a withdrawal naming it is recorded at or
    // after it; only the exceptions nested in it carve out of it.
    let mut stands = false;
    for &(n, kind, recorded) in &covering {
        if kind != Kind::Deny {
            continue;
        }
        let withdrawn = c
            .withdraws
            .iter()
            .any(|w| w.active && w.of == c.id(n) && w.recorded >= recorded);
        let excepted = covering
            .iter()
            .any(|&(m, k, _)| k == Kind::Permit && c.directives[m].parent == Some(n));
        if withdrawn {
            tags.insert("opt-out withdrawn");
        }
        if excepted {
            tags.insert("nested exception carves out");
        }
        stands |= !withdrawn && !excepted;
    }
    if stands {
        return ConsentSays::OptedOut;
    }
    covering
        .iter()
        .filter(|(_, k, _)| *k == Kind::Permit)
        .max_by_key(|(_, _, recorded)| *recorded)
        .map_or(ConsentSays::Silent, |(n, _, _)| {
            ConsentSays::Permit(c.id(*n))
        })
}

/// What the model expects for one entry.
#[derive(Debug, Clone, Default)]
struct Expect {
    allow: bool,
    /// When withheld: the acceptable reason sets (any one of them).
    reasons: Vec<BTreeSet<String>>,
    /// When allowed: the acceptable `allowed_by` values.
    allowed_by: BTreeSet<String>,
    break_glass: bool,
    /// When allowed by consent: the permit expected at each placement label.
    consent_at: BTreeMap<String, String>,
    /// The framework placements (content lines).
    content: BTreeSet<String>,
    /// Why, in words, for the report.
    why: String,
    /// Rarer paths the case went through (counted, to show the generator
    /// reaches them).
    tags: BTreeSet<&'static str>,
}

fn withheld(reasons: &[&str]) -> BTreeSet<String> {
    reasons.iter().map(|r| (*r).to_owned()).collect()
}

fn excluded(categories: &BTreeSet<&str>) -> BTreeSet<String> {
    categories
        .iter()
        .map(|c| format!("excluded_category:{c}"))
        .collect()
}

struct Case {
    viewer: ViewerCase,
    consent: ConsentCase,
    birth: usize,
    holding_organisation: Option<&'static str>,
    entries: Vec<EntrySpec>,
}

/// Whether the viewer reaches a placement by table 6 (and, for Community
/// tier 3, an individual approval when governance asks for one). `Err` is
/// the reason it does not (`approval_required` is the reason the engine's
/// approvals change gives).
fn reach(v: &ViewerCase, profile: usize, segment: usize, tier: u8) -> Result<(), &'static str> {
    if TABLE6[profile].1[segment] < tier {
        return Err("tier_not_granted");
    }
    if INDIVIDUAL_APPROVAL_FOR_COMMUNITY_TIER_3
        && segment == COMMUNITY
        && tier == 3
        && !v.approved_community_t3
    {
        return Err("approval_required");
    }
    Ok(())
}

fn model(case: &Case, e: &EntrySpec) -> Expect {
    let mut x = Expect {
        content: e.content().iter().map(|c| (*c).to_owned()).collect(),
        ..Expect::default()
    };
    let v = &case.viewer;
    let placements = e.placements();
    if !v.purpose_ok {
        x.reasons = vec![withheld(&["purpose_not_permitted"])];
        x.why = "purpose of use is not direct care".into();
        return x;
    }
    match &v.who {
        Who::Person => {
            // Framework 6.7, docs/patient.md: the person sees every tier of
            // their own record; consent and Appendix 1 are about sharing it.
            x.allow = true;
            x.allowed_by = if placements.is_empty() {
                ["own_record".to_owned()].into()
            } else {
                placements.iter().map(|(_, s, t)| label(*s, *t)).collect()
            };
            x.why = "the person's own record".into();
            x
        }
        Who::Proxy {
            scopes,
            categories,
            agreed,
        } => model_proxy(case, e, scopes, categories, agreed.as_deref(), x),
        Who::Professional { profile, org, .. } => model_professional(case, e, *profile, org, x),
    }
}

fn model_proxy(
    case: &Case,
    e: &EntrySpec,
    scopes: &[&str],
    granted_categories: &[&str],
    agreed: Option<&str>,
    mut x: Expect,
) -> Expect {
    let birth = &BIRTHS[case.birth];
    // The person's agreement counts from the day they reached the band.
    let agreed_in_band = agreed.is_some_and(|a| &a[..10] >= birth.reached);
    let effective: Vec<&str> = match band_scopes(birth.band, agreed_in_band) {
        None => scopes.to_vec(),
        Some(allowed) => scopes
            .iter()
            .copied()
            .filter(|s| allowed.contains(s))
            .collect(),
    };
    let covers = |content: &str| {
        effective
            .iter()
            .any(|s| proxy_scope_content(s).is_none_or(|lines| lines.contains(&content)))
    };
    let placements = e.placements();
    let in_scope: Vec<_> = placements.iter().filter(|(c, _, _)| covers(c)).collect();
    // A proxy is not the person: Appendix 1 applies unless the person
    // granted the category by name; no tier lifts it.
    let ungranted: BTreeSet<&str> = e
        .categories()
        .into_iter()
        .filter(|c| !granted_categories.contains(c))
        .collect();
    x.why = format!(
        "proxy, band {:?}, agreement {}counted, effective scopes {effective:?}",
        birth.band,
        if agreed_in_band { "" } else { "not " }
    );
    if placements.is_empty() {
        x.reasons = vec![withheld(&["not_shared"])];
        let named: BTreeSet<&str> = e
            .code_categories()
            .into_iter()
            .filter(|c| !granted_categories.contains(c))
            .collect();
        if !named.is_empty() {
            x.reasons.push(excluded(&named));
        }
        return x;
    }
    if in_scope.is_empty() {
        x.reasons = vec![withheld(&["proxy_scope"])];
        if !ungranted.is_empty() {
            x.reasons.push(excluded(&ungranted));
        }
        return x;
    }
    if !ungranted.is_empty() {
        x.reasons = vec![excluded(&ungranted)];
        return x;
    }
    if !e.categories().is_empty() {
        x.tags.insert("proxy category granted by name");
    }
    if agreed_in_band && birth.band != Band::Under11 {
        x.tags.insert("proxy agreement counted");
    }
    x.allow = true;
    x.allowed_by = in_scope.iter().map(|(_, s, t)| label(*s, *t)).collect();
    x
}

/// Section 7.3: Diagnostics tier 3 is the wider diagnostic record with no
/// exclusions, for a profile that reaches it, an entry in Diagnostics it
/// reaches, and the person's explicit consent (never break glass) to that
/// placement and to tier 3. `strict`: the framework's reading of a permit
/// scoped by content line (`Scope::covers`); not strict, the engine's.
fn lifted(case: &Case, e: &EntrySpec, profile: usize, strict: bool) -> bool {
    let (c, v) = (&case.consent, &case.viewer);
    let permitted = |segment: usize, tier: u8| {
        matches!(
            consent_says(c, v, e, segment, tier, strict, &mut BTreeSet::new()),
            ConsentSays::Permit(_)
        )
    };
    reach(v, profile, DIAGNOSTICS, 3).is_ok()
        && permitted(DIAGNOSTICS, 3)
        && e.placements().iter().any(|(_, s, t)| {
            *s == DIAGNOSTICS && reach(v, profile, *s, *t).is_ok() && permitted(*s, *t)
        })
}

fn model_professional(
    case: &Case,
    e: &EntrySpec,
    profile: usize,
    org: &str,
    mut x: Expect,
) -> Expect {
    let v = &case.viewer;
    let c = &case.consent;
    if let Some(gate) = v.training.gate() {
        x.reasons = vec![withheld(&[gate])];
        x.why = "mandatory training (6.5)".into();
        return x;
    }
    let placements = e.placements();
    let categories = e.categories();
    if placements.is_empty() {
        // Withheld either way; which reason comes first is not written
        // down, and a segment-limited category cannot be ruled out for an
        // entry that has no placement at all.
        x.reasons = vec![withheld(&["not_shared"])];
        let named = e.code_categories();
        if !named.is_empty() {
            x.reasons.push(excluded(&named));
        }
        x.why = "alerts and flags are TBC (table 1)".into();
        return x;
    }
    let lifted = lifted(case, e, profile, true);
    if !categories.is_empty() && !lifted {
        x.reasons = vec![excluded(&categories)];
        x.why = "Appendix 1 / 7.3 exclusion, not lifted".into();
        return x;
    }
    if !categories.is_empty() {
        x.tags.insert("diagnostics tier 3 lift");
    }
    // Section 5.1: what the viewer's own organisation holds is outside the
    // framework (but exclusions still apply).
    let holder = e.holder.or(case.holding_organisation);
    if holder == Some(org) {
        x.allow = true;
        x.allowed_by = ["own_organisation".to_owned()].into();
        x.why = "held by the viewer's organisation".into();
        return x;
    }
    let mut reasons = BTreeSet::new();
    let mut by_break_glass = BTreeSet::new();
    for (_, s, t) in &placements {
        if let Err(r) = reach(v, profile, *s, *t) {
            reasons.insert(r.to_owned());
            continue;
        }
        match consent_says(c, v, e, *s, *t, false, &mut x.tags) {
            ConsentSays::Permit(id) => {
                x.consent_at.insert(label(*s, *t), id);
            }
            ConsentSays::OptedOut if v.break_glass.valid() && BREAK_GLASS_OVERRIDES_OPT_OUT => {
                by_break_glass.insert(label(*s, *t));
            }
            ConsentSays::OptedOut => {
                reasons.insert("opted_out".to_owned());
            }
            ConsentSays::Silent if v.break_glass.valid() => {
                by_break_glass.insert(label(*s, *t));
            }
            ConsentSays::Silent => {
                reasons.insert("no_consent".to_owned());
            }
        }
    }
    if !x.consent_at.is_empty() {
        x.allow = true;
        x.allowed_by = x.consent_at.keys().cloned().collect();
        x.why = format!("consent permits {:?}", x.consent_at);
    } else if !by_break_glass.is_empty() {
        x.allow = true;
        x.break_glass = true;
        x.allowed_by = by_break_glass;
        x.why = "break glass stands in for missing consent".into();
    } else {
        x.why = format!("withheld per placement: {reasons:?}");
        x.reasons = vec![reasons];
    }
    x
}

// ---------------------------------------------------------------------------
// Generation.

/// SplitMix64: small, seedable, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

fn gen_viewer(rng: &mut Rng) -> ViewerCase {
    let roll = rng.below(100);
    let who = if roll < 82 {
        Who::Professional {
            profile: rng.below(TABLE6.len()),
            org: rng.pick(&ORGS),
            user: rng.pick(&USERS),
        }
    } else if roll < 96 {
        let mut scopes: Vec<&str> = PROXY_SCOPES
            .iter()
            .copied()
            .filter(|_| rng.chance(40))
            .collect();
        if scopes.is_empty() {
            scopes.push(rng.pick(&["appointments", "record"]));
        }
        let categories: Vec<&str> = match rng.below(10) {
            0..=5 => Vec::new(),
            6..=8 => vec![rng.pick(&CATEGORIES).0],
            _ => vec![rng.pick(&CATEGORIES).0, rng.pick(&CATEGORIES).0],
        };
        Who::Proxy {
            scopes,
            categories,
            agreed: None, // set once the birth date is known
        }
    } else {
        Who::Person
    };
    let professional = matches!(who, Who::Professional { .. });
    let training = if !professional {
        if rng.chance(50) {
            TrainingCase::Missing
        } else {
            TrainingCase::Current
        }
    } else {
        match rng.below(100) {
            0..=79 => TrainingCase::Current,
            80..=83 => TrainingCase::CurrentCompleted,
            84..=88 => TrainingCase::ExpiresTodayDateOnly,
            89..=92 => TrainingCase::ExpiredYesterday,
            93..=95 => TrainingCase::ExpiredMinuteAgo,
            _ => TrainingCase::Missing,
        }
    };
    let break_glass = if !professional {
        BreakGlassCase::None
    } else {
        match rng.below(100) {
            0..=69 => BreakGlassCase::None,
            70..=95 => BreakGlassCase::Valid(
                rng.pick(&[
                    "unconscious",
                    "life-threatening",
                    "prevent-serious-harm",
                    "safeguarding",
                ]),
                rng.pick(&[0, 10, 120, 239]),
            ),
            96 => BreakGlassCase::NoReason,
            97 => BreakGlassCase::UnknownReason,
            98 => BreakGlassCase::Expired(rng.pick(&[240, 241, 3 * 24 * 60])),
            _ => BreakGlassCase::NotStarted,
        }
    };
    ViewerCase {
        who,
        training,
        purpose_ok: !(professional && rng.chance(2)),
        break_glass,
        approved_community_t3: rng.chance(50),
    }
}

fn gen_entries(rng: &mut Rng) -> Vec<EntrySpec> {
    let mut entries = Vec::with_capacity(ENTRIES_PER_RECORD + 1);
    for k in 0..=ENTRIES_PER_RECORD {
        // The Patient comes first, once: an own-record view needs it.
        let exemplar = if k == 0 {
            0
        } else {
            1 + rng.below(EXEMPLARS.len() - 1)
        };
        let codes = match rng.below(100) {
            0..=69 => Vec::new(),
            70..=94 => vec![rng.below(CODES.len())],
            _ => vec![rng.below(CODES.len()), rng.below(CODES.len())],
        };
        let holder = match rng.below(100) {
            0..=79 => None,
            80..=89 => Some(ORGS[0]),
            _ => Some(ORGS[1]),
        };
        let (rtype, id) = if k == 0 {
            ("Patient".to_owned(), PATIENT_ID.to_owned())
        } else {
            let r = self::exemplar(EXEMPLARS[exemplar].0, "x", "2000-01-01");
            (
                r["resourceType"].as_str().unwrap().to_owned(),
                format!("e{k}"),
            )
        };
        entries.push(EntrySpec {
            exemplar,
            rtype,
            id,
            full_url: format!("urn:uuid:0f6a4c2e-8d1b-4e7a-9c3f-{k:012}"),
            codes,
            holder,
        });
    }
    entries
}

fn gen_actors(rng: &mut Rng, v: &ViewerCase) -> Actors {
    let mut a = Actors::default();
    match rng.below(100) {
        0..=54 => {}
        55..=89 => a.orgs.push(rng.pick(&ORGS)),
        _ => a.orgs.extend(ORGS),
    }
    if rng.chance(20) {
        let own = v.profile_id();
        let p = if own != "patient" && rng.chance(50) {
            own
        } else {
            rng.pick(&TABLE6).0
        };
        a.profiles.push(p);
    }
    if rng.chance(10) {
        a.users.push(rng.pick(&USERS));
    }
    a
}

fn gen_scope(rng: &mut Rng, permit: bool, entries: &[EntrySpec]) -> Scope {
    let mut s = Scope::default();
    loop {
        match rng.below(100) {
            0..=29 => {}
            30..=64 => {
                for _ in 0..1 + rng.below(2) {
                    let tier = match rng.below(4) {
                        0 => None,
                        t => Some(u8::try_from(t).unwrap()),
                    };
                    s.segments.push((rng.below(SEGMENTS.len()), tier));
                }
            }
            65..=79 => {
                for _ in 0..1 + rng.below(2) {
                    // Mostly lines the record has.
                    let c = if rng.chance(80) {
                        let e = &entries[rng.below(entries.len())];
                        match e.content() {
                            [] => rng.pick(&CONTENT_LINES).0,
                            lines => rng.pick(lines),
                        }
                    } else {
                        rng.pick(&CONTENT_LINES).0
                    };
                    s.content.push(c);
                }
            }
            80..=87 => {
                // A permit may not name a category: only the policy lifts
                // exclusions.
                if permit {
                    continue;
                }
                s.categories.push(rng.pick(&CATEGORIES).0);
            }
            _ => {
                for _ in 0..1 + rng.below(2) {
                    let e = &entries[rng.below(entries.len())];
                    s.entries.push(match rng.below(10) {
                        0..=5 => e.reference(),
                        6..=8 => e.full_url.clone(),
                        _ => "Observation/not-in-this-record".to_owned(),
                    });
                }
            }
        }
        return s;
    }
}

fn gen_consent(rng: &mut Rng, v: &ViewerCase, entries: &[EntrySpec]) -> ConsentCase {
    let fhir = rng.chance(35);
    let n = match rng.below(100) {
        0..=9 => 0,
        10..=39 => 1,
        40..=69 => 2,
        70..=89 => 3,
        _ => 4 + rng.below(3),
    };
    let mut used = BTreeSet::new();
    let mut directives: Vec<Directive> = Vec::new();
    for _ in 0..n {
        let recorded = loop {
            let t = i64::try_from(rng.below(55 * 24 * 60 - 1)).unwrap();
            if used.insert(t) {
                break t;
            }
        };
        let kind = if rng.chance(55) {
            Kind::Permit
        } else {
            Kind::Deny
        };
        let period = if rng.chance(75) {
            PeriodCase::None
        } else {
            rng.pick(&PERIODS)
        };
        let actors = gen_actors(rng, v);
        let scope = gen_scope(rng, kind == Kind::Permit, entries);
        directives.push(Directive {
            kind,
            recorded,
            period,
            actors,
            scope,
            parent: None,
            active: !fhir || rng.chance(92),
        });
    }
    if fhir {
        // Nested provisions: an exception inside an opt-out (a permit), or
        // an opt-out inside a permit. Each stays within its parent: it names
        // actors only where the parent names none, and a scope only where
        // the parent's is the whole record.
        let top = directives.len();
        for p in 0..top {
            if !rng.chance(35) {
                continue;
            }
            let parent = directives[p].clone();
            // An exception to a category opt-out would be a permit naming
            // the category, which only the policy may lift (an error).
            if !parent.scope.categories.is_empty() {
                continue;
            }
            let kind = match parent.kind {
                Kind::Deny => Kind::Permit,
                Kind::Permit => Kind::Deny,
            };
            let actors = if parent.actors.is_empty() && rng.chance(60) {
                let mut a = gen_actors(rng, v);
                if a.is_empty() {
                    a.orgs.push(rng.pick(&ORGS));
                }
                a
            } else {
                Actors::default()
            };
            let scope = if parent.scope.is_empty() {
                gen_scope(rng, kind == Kind::Permit, entries)
            } else {
                Scope::default()
            };
            directives.push(Directive {
                kind,
                recorded: parent.recorded,
                period: PeriodCase::None,
                actors,
                scope,
                parent: Some(p),
                active: parent.active,
            });
        }
    }
    let mut consent = ConsentCase {
        fhir,
        directives,
        withdraws: Vec::new(),
    };
    // Withdrawals, by name: mostly of an opt-out, sometimes of a permit or
    // of nothing; recorded after, at, or before what they name.
    let withdrawals = match rng.below(100) {
        0..=64 => 0,
        65..=89 => 1,
        _ => 2,
    };
    for _ in 0..withdrawals {
        let tops: Vec<usize> = (0..consent.directives.len())
            .filter(|&n| consent.directives[n].parent.is_none())
            // Withdrawing an opt-out that has nested exceptions: whether the
            // exceptions outlive it is not written down. Not generated.
            .filter(|&n| !consent.directives.iter().any(|d| d.parent == Some(n)))
            .collect();
        let denies: Vec<usize> = tops
            .iter()
            .copied()
            .filter(|&n| consent.directives[n].kind == Kind::Deny)
            .collect();
        let roll = rng.below(100);
        let target = if roll < 70 && !denies.is_empty() {
            Some(rng.pick(&denies))
        } else if roll < 85 && !tops.is_empty() {
            Some(rng.pick(&tops))
        } else {
            None
        };
        let (of, recorded) = match target {
            None => (
                "c-no-such-opt-out".to_owned(),
                i64::try_from(rng.below(55 * 24 * 60)).unwrap(),
            ),
            Some(n) => {
                let t = consent.directives[n].recorded;
                let when = match rng.below(10) {
                    0..=3 => t + i64::try_from(1 + rng.below(20 * 24 * 60)).unwrap(),
                    4..=6 => t,
                    _ => t - 1 - i64::try_from(rng.below(24 * 60)).unwrap(),
                };
                (consent.id(n), when.clamp(0, NOW_MINUTES - 1))
            }
        };
        consent.withdraws.push(Withdraw {
            recorded,
            of,
            active: !fhir || rng.chance(92),
        });
    }
    consent
}

fn gen_case(rng: &mut Rng) -> Case {
    let mut viewer = gen_viewer(rng);
    let birth = rng.below(BIRTHS.len());
    if let Who::Proxy { agreed, .. } = &mut viewer.who {
        let b = &BIRTHS[birth];
        *agreed = match rng.below(6) {
            0 | 1 => None,
            2 => Some(format!("{}T10:00:00Z", b.day_before)),
            3 => Some(format!("{}T00:00:00Z", b.reached)),
            4 => Some(format!("{}T10:00:00Z", b.reached)),
            _ => Some("2026-10-01T09:00:00Z".to_owned()),
        };
        // An agreement cannot postdate the request.
        if agreed
            .as_deref()
            .is_some_and(|a| a > "2026-11-25T12:00:00Z")
        {
            *agreed = Some("2026-11-25T10:00:00Z".to_owned());
        }
    }
    let entries = gen_entries(rng);
    let consent = gen_consent(rng, &viewer, &entries);
    let holding_organisation = match rng.below(100) {
        0..=79 => None,
        80..=89 => Some(ORGS[0]),
        _ => Some(ORGS[1]),
    };
    Case {
        viewer,
        consent,
        birth,
        holding_organisation,
        entries,
    }
}

fn record(case: &Case) -> Value {
    let birth = BIRTHS[case.birth].date;
    let entries: Vec<Value> = case
        .entries
        .iter()
        .map(|e| json!({"fullUrl": e.full_url, "resource": e.resource(birth)}))
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

// ---------------------------------------------------------------------------
// Comparison.

fn engine_reasons(d: &EntryDecision) -> BTreeSet<String> {
    d.reasons.iter().map(tiergate_core::Reason::code).collect()
}

/// Differences between the model's expectation and the engine's decision.
fn compare(x: &Expect, d: &EntryDecision) -> Vec<String> {
    let mut problems = Vec::new();
    let content: BTreeSet<String> = d.placements.iter().map(|p| p.content.clone()).collect();
    if content != x.content {
        problems.push(format!(
            "placements: model {:?}, engine {content:?}",
            x.content
        ));
    }
    let allowed = d.decision == Verdict::Allow;
    if allowed != x.allow {
        problems.push(format!(
            "verdict: model {}, engine {}",
            if x.allow { "allow" } else { "withhold" },
            if allowed { "allow" } else { "withhold" }
        ));
        return problems;
    }
    if allowed {
        let by = d.allowed_by.clone().unwrap_or_default();
        if !x.allowed_by.contains(&by) {
            problems.push(format!(
                "allowed_by: model one of {:?}, engine {by:?}",
                x.allowed_by
            ));
        }
        if d.break_glass != x.break_glass {
            problems.push(format!(
                "break_glass: model {}, engine {}",
                x.break_glass, d.break_glass
            ));
        }
        let want_consent = x.consent_at.get(&by);
        if d.consent.as_ref() != want_consent {
            problems.push(format!(
                "consent: model {want_consent:?} at {by}, engine {:?}",
                d.consent
            ));
        }
    } else {
        let got = engine_reasons(d);
        if !x.reasons.contains(&got) {
            problems.push(format!(
                "reasons: model one of {:?}, engine {got:?}",
                x.reasons
            ));
        }
        if d.break_glass {
            problems.push("break_glass set on a withheld entry".into());
        }
    }
    problems
}

fn report(
    n: usize,
    case: &Case,
    consent_json: &Value,
    e: Option<&EntrySpec>,
    x: Option<&Expect>,
    engine: &str,
    problems: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- disagreement in case {n} (seed {SEED:#x}) ---");
    for p in problems {
        let _ = writeln!(s, "  {p}");
    }
    let _ = writeln!(s, "viewer: {}", viewer_json(&case.viewer));
    let _ = writeln!(
        s,
        "request: now {NOW}, holding_organisation {:?}, patient born {}",
        case.holding_organisation, BIRTHS[case.birth].date
    );
    let _ = writeln!(s, "consent: {consent_json}");
    if let Some(e) = e {
        let _ = writeln!(
            s,
            "entry: {} (exemplar {}, full URL {}): {}",
            e.reference(),
            EXEMPLARS[e.exemplar].0,
            e.full_url,
            e.resource(BIRTHS[case.birth].date)
        );
    }
    if let Some(x) = x {
        let _ = writeln!(s, "model: {x:?}");
    }
    let _ = writeln!(s, "engine: {engine}");
    s
}

#[test]
fn the_engine_decides_as_the_framework_reads() {
    let policy = Policy::default_policy().unwrap();
    let mut rng = Rng(SEED);
    let mut cases = 0usize;
    let mut disagreements = 0usize;
    let mut reports = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..RECORDS {
        let case = gen_case(&mut rng);
        let consent_json = case.consent.to_json();
        let compiled: CompiledConsent = match ConsentSet::from_value(&consent_json, &policy)
            .and_then(|set| set.compile(&policy))
        {
            Ok(c) => c,
            Err(err) => {
                disagreements += 1;
                cases += 1;
                if reports.len() < MAX_REPORTED {
                    let problems = [format!(
                        "the engine refused a consent the documents allow: {err:?}"
                    )];
                    reports.push(report(
                        n,
                        &case,
                        &consent_json,
                        None,
                        None,
                        "error",
                        &problems,
                    ));
                }
                continue;
            }
        };
        let v = viewer(&case.viewer);
        let request = Request {
            viewer: &v,
            consent: &compiled,
            now: NOW,
            default_setting: None,
            holding_organisation: case.holding_organisation,
        };
        let rec = record(&case);
        let result = policy.decide(&rec, &request);
        if case.viewer.break_glass.refused() {
            // docs/consent.md: without a reason, with an unknown reason or
            // outside its window, the request is refused.
            cases += 1;
            *outcomes.entry("refused: break glass".into()).or_default() += 1;
            if !matches!(result, Err(RedactError::BreakGlass(_))) {
                disagreements += 1;
                if reports.len() < MAX_REPORTED {
                    let problems = ["model: request refused for invalid break glass".to_owned()];
                    let engine = format!("{:?}", result.map(|d| d.summary));
                    reports.push(report(
                        n,
                        &case,
                        &consent_json,
                        None,
                        None,
                        &engine,
                        &problems,
                    ));
                }
            }
            continue;
        }
        let decisions = match result {
            Ok(d) => d,
            Err(err) => {
                cases += 1;
                disagreements += 1;
                if reports.len() < MAX_REPORTED {
                    let problems = ["model: decided; engine: refused".to_owned()];
                    reports.push(report(
                        n,
                        &case,
                        &consent_json,
                        None,
                        None,
                        &format!("{err:?}"),
                        &problems,
                    ));
                }
                continue;
            }
        };
        assert_eq!(decisions.entries.len(), case.entries.len());
        for (e, d) in case.entries.iter().zip(&decisions.entries) {
            assert_eq!(d.id.as_deref(), Some(e.id.as_str()));
            cases += 1;
            let x = model(&case, e);
            let key = if x.allow {
                if x.break_glass {
                    "allow: break glass".to_owned()
                } else {
                    format!(
                        "allow: {}",
                        x.allowed_by
                            .iter()
                            .next()
                            .map_or("", |s| s.split('-').next().unwrap_or(""))
                    )
                }
            } else {
                let first = x.reasons[0].iter().cloned().collect::<Vec<_>>().join(",");
                format!(
                    "withhold: {}",
                    if first.starts_with("excluded_category") {
                        "excluded_category"
                    } else {
                        &first
                    }
                )
            };
            *outcomes.entry(key).or_default() += 1;
            for tag in &x.tags {
                *outcomes.entry(format!("path: {tag}")).or_default() += 1;
            }
            let problems = compare(&x, d);
            if !problems.is_empty() {
                disagreements += 1;
                if reports.len() < MAX_REPORTED {
                    let engine = serde_json::to_string(d).unwrap();
                    reports.push(report(
                        n,
                        &case,
                        &consent_json,
                        Some(e),
                        Some(&x),
                        &engine,
                        &problems,
                    ));
                }
            }
        }
    }
    let mut summary = format!("{cases} cases from {RECORDS} records, seed {SEED:#x}\n");
    for (k, count) in &outcomes {
        let _ = writeln!(summary, "  {count:>7}  {k}");
    }
    println!("{summary}");
    assert!(
        disagreements == 0,
        "{disagreements} disagreements between the model and the engine; the first {}:\n\n{}\n{summary}",
        reports.len(),
        reports.join("\n")
    );
    assert!(cases >= MIN_CASES, "only {cases} cases");
    // The generator reaches every class the model distinguishes.
    for class in [
        "allow: summary",
        "allow: community",
        "allow: diagnostics",
        "allow: hospitals",
        "allow: own_organisation",
        "allow: own_record",
        "allow: break glass",
        "withhold: tier_not_granted",
        "withhold: no_consent",
        "withhold: opted_out",
        "withhold: excluded_category",
        "withhold: training_expired",
        "withhold: training_missing",
        "withhold: purpose_not_permitted",
        "withhold: proxy_scope",
        "withhold: not_shared",
        "refused: break glass",
        "path: diagnostics tier 3 lift",
        "path: nested exception carves out",
        "path: opt-out withdrawn",
        "path: proxy agreement counted",
        "path: proxy category granted by name",
    ] {
        assert!(
            outcomes.get(class).copied().unwrap_or(0) >= 50,
            "the generator hardly reaches `{class}`:\n{summary}"
        );
    }
}

/// The one place the model looks at the policy document: the switch the
/// framework leaves to governance (6.2 says nothing of overriding an
/// opt-out). If the policy changes it, the model must be told.
#[test]
fn the_break_glass_switch_is_the_one_the_model_assumes() {
    let doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    assert_eq!(
        doc["break_glass"]["overrides_opt_out"].as_bool(),
        Some(BREAK_GLASS_OVERRIDES_OPT_OUT)
    );
}

/// The policy has a profile for every row of table 6 (the model's viewers
/// name them), and the model's tables are whole.
#[test]
fn the_models_tables_are_whole() {
    let policy = Policy::default_policy().unwrap();
    for (id, _) in TABLE6 {
        assert!(policy.profile(id).is_some(), "profile {id}");
    }
    let lines: BTreeSet<&str> = EXEMPLARS
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .collect();
    assert_eq!(
        lines.len(),
        CONTENT_LINES.len(),
        "an exemplar for every content line"
    );
    for (i, (name, content)) in EXEMPLARS.iter().enumerate().take(22) {
        assert_eq!(*name, CONTENT_LINES[i].0);
        assert!(content.contains(name));
    }
    assert_eq!(line("wider_diagnostic_record"), (DIAGNOSTICS, 3));
    assert_eq!(line("demographics"), (SUMMARY, 1));
    let named: BTreeSet<&str> = CODES.iter().filter_map(|c| c.2).collect();
    assert_eq!(named.len(), CATEGORIES.len(), "codes for every category");
}
