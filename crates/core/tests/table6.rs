//! Table 6 of the iLINKS framework, cell by cell.
//!
//! One record holds an entry for every content line of tables 1-4 (22
//! lines, 12 segment/tier cells). Consent permits everything for the
//! viewer's organisation and training is current, so the only thing that
//! can withhold an entry is the profile's tier. The expected grants are
//! copied by hand from table 6 of the framework text, not read from the
//! policy, so a policy edit that changes a grant fails here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use tiergate_core::{
    CompiledConsent, ConsentSet, Decisions, EntryDecision, Limits, Policy, Reason, Request,
    Training, Verdict, Viewer,
};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
const VIEWER_ORG: &str = "RVY";
const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const HINT: &str = "https://fhir.tiergate.example/CodeSystem/content-hint";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";

/// Segments in the order table 6 lists them (S, C, D, H).
const SEGMENTS: [&str; 4] = ["summary", "community", "diagnostics", "hospitals"];

/// Table 6, "Levels of access", as printed: S, C, D, H; 0 is `X`.
const TABLE6: [(&str, [u8; 4]); 11] = [
    ("1a", [3, 2, 3, 3]), // Hospital Specialist: S3, C2, D3, H3
    ("1b", [3, 3, 3, 2]), // GP: S3, C3, D3, H2
    ("1c", [3, 2, 3, 2]), // Community Medical: S3, C2, D3, H2
    ("2a", [3, 2, 2, 2]), // Specialist (e.g. Matron): S3, C2, D2, H2
    ("2b", [3, 1, 1, 1]), // Generalist (e.g. AHP): S3, C1, D1, H1
    ("3a", [3, 1, 0, 2]), // Social care, hospital: S3, C1, DX, H2
    ("3b", [3, 2, 0, 1]), // Social care, community: S3, C2, DX, H1
    ("4", [3, 0, 0, 0]),  // Unregistered professional: S3, CX, DX, HX
    ("5", [1, 0, 0, 0]),  // Admin / clerical: S1, CX, DX, HX
    ("6", [3, 1, 3, 3]),  // Urgent care: S3, C1, D3, H3
    ("7", [3, 3, 2, 2]),  // Extended primary care team: S3, C3, D2, H2
];

/// Tables 1-4: every content line, the segment and tier the framework puts
/// it in. (Summary tier 3 "alerts and flags" is TBC in the framework and is
/// not a content line.)
const CONTENT_LINES: [(&str, &str, u8); 22] = [
    ("demographics", "summary", 1),
    ("allergies", "summary", 2),
    ("medication", "summary", 2),
    ("diagnoses", "summary", 2),
    ("health_status_prompts", "summary", 2),
    ("involved_in_care", "summary", 2),
    ("appointments", "summary", 2),
    ("care_package", "summary", 3),
    ("care_plans", "summary", 3),
    ("significant_events", "community", 1),
    ("coded_record", "community", 2),
    ("wider_community_record", "community", 3),
    ("routine_tests", "diagnostics", 1),
    ("all_tests", "diagnostics", 2),
    ("wider_diagnostic_record", "diagnostics", 3),
    ("adt", "hospitals", 1),
    ("tci", "hospitals", 1),
    ("los_edd", "hospitals", 1),
    ("hospital_care_plans", "hospitals", 2),
    ("discharge_plans", "hospitals", 2),
    ("e_correspondence", "hospitals", 2),
    ("wider_hospital_record", "hospitals", 3),
];

fn line(content: &str) -> (&'static str, u8) {
    CONTENT_LINES
        .iter()
        .find(|(c, _, _)| *c == content)
        .map(|(_, s, t)| (*s, *t))
        .unwrap_or_else(|| panic!("unknown content line {content}"))
}

fn grant(profile: &str, segment: &str) -> u8 {
    let (_, grants) = TABLE6.iter().find(|(p, _)| *p == profile).unwrap();
    let si = SEGMENTS.iter().position(|s| *s == segment).unwrap();
    grants[si]
}

/// One test entry: the resource, the rule expected to classify it and the
/// content lines it is expected to land in.
struct Case {
    resource: Value,
    rule: &'static str,
    content: &'static [&'static str],
}

fn tag(system: &str, code: &str) -> Value {
    json!({"system": system, "code": code})
}

fn cc(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

/// A resource with an optional care-setting tag, extra hint tags and extra
/// elements.
fn resource(rtype: &str, id: &str, setting: Option<&str>, hints: &[&str], extra: Value) -> Value {
    let mut tags: Vec<Value> = Vec::new();
    if let Some(s) = setting {
        tags.push(tag(SETTING, s));
    }
    for h in hints {
        tags.push(tag(HINT, h));
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

/// One entry per content line, each placed in that line only where a rule
/// allows it (allergies, medication, diagnoses and LOS/EDD are always
/// placed in two lines by the policy).
fn content_line_cases() -> Vec<Case> {
    vec![
        Case {
            resource: resource("Patient", "demographics", None, &[], json!({})),
            rule: "patient.demographics",
            content: &["demographics"],
        },
        Case {
            resource: resource(
                "AllergyIntolerance",
                "allergies",
                Some("primary_care"),
                &[],
                json!({"code": cc(SNOMED, "91936005")}),
            ),
            rule: "primary.allergies",
            content: &["allergies", "coded_record"],
        },
        Case {
            resource: resource(
                "MedicationStatement",
                "medication",
                Some("primary_care"),
                &[],
                json!({"status": "active", "medicationCodeableConcept": cc(SNOMED, "322236009")}),
            ),
            rule: "primary.medication",
            content: &["medication", "coded_record"],
        },
        Case {
            resource: resource(
                "Condition",
                "diagnoses",
                Some("primary_care"),
                &[],
                json!({"code": cc(SNOMED, "44054006")}),
            ),
            rule: "primary.diagnoses",
            content: &["diagnoses", "coded_record"],
        },
        Case {
            resource: resource(
                "Flag",
                "health_status_prompts",
                Some("primary_care"),
                &[],
                json!({"status": "active", "category": [cc(HINT, "health-status-prompt")]}),
            ),
            rule: "primary.health-status",
            content: &["health_status_prompts"],
        },
        Case {
            resource: resource("CareTeam", "involved_in_care", None, &[], json!({})),
            rule: "care-team",
            content: &["involved_in_care"],
        },
        Case {
            resource: resource(
                "Appointment",
                "appointments",
                Some("community"),
                &[],
                json!({"status": "booked"}),
            ),
            rule: "appointments",
            content: &["appointments"],
        },
        Case {
            resource: resource(
                "CarePlan",
                "care_package",
                Some("social_care"),
                &[],
                json!({"status": "active", "intent": "plan"}),
            ),
            rule: "social-care.care-package",
            content: &["care_package"],
        },
        Case {
            resource: resource(
                "CarePlan",
                "care_plans",
                Some("community"),
                &[],
                json!({"status": "active", "intent": "plan"}),
            ),
            rule: "care-plans",
            content: &["care_plans"],
        },
        Case {
            resource: resource(
                "Condition",
                "significant_events",
                None,
                &["significant-event"],
                json!({"code": cc(SNOMED, "22298006")}),
            ),
            rule: "significant.other",
            content: &["significant_events"],
        },
        Case {
            resource: resource(
                "Observation",
                "coded_record",
                Some("community"),
                &[],
                json!({"status": "final", "code": cc(SNOMED, "271649006")}),
            ),
            rule: "community.coded",
            content: &["coded_record"],
        },
        Case {
            resource: resource(
                "DocumentReference",
                "wider_community_record",
                Some("mental_health"),
                &[],
                json!({"status": "current"}),
            ),
            rule: "community.wider",
            content: &["wider_community_record"],
        },
        Case {
            resource: resource(
                "Observation",
                "routine_tests",
                None,
                &[],
                json!({
                    "status": "final",
                    "category": [cc(OBS_CATEGORY, "laboratory")],
                    "code": cc(LOINC, "718-7")
                }),
            ),
            rule: "diagnostics.routine",
            content: &["routine_tests"],
        },
        Case {
            resource: resource(
                "Observation",
                "all_tests",
                None,
                &[],
                json!({
                    "status": "final",
                    "category": [cc(OBS_CATEGORY, "laboratory")],
                    "code": cc(LOINC, "5196-1")
                }),
            ),
            rule: "diagnostics.result",
            content: &["all_tests"],
        },
        Case {
            resource: resource(
                "MolecularSequence",
                "wider_diagnostic_record",
                None,
                &[],
                json!({"coordinateSystem": 0}),
            ),
            rule: "diagnostics.genomics",
            content: &["wider_diagnostic_record"],
        },
        Case {
            resource: resource(
                "Encounter",
                "adt",
                Some("hospital"),
                &[],
                json!({"status": "finished"}),
            ),
            rule: "hospital.adt",
            content: &["adt"],
        },
        Case {
            resource: resource(
                "Encounter",
                "tci",
                Some("hospital"),
                &[],
                json!({"status": "planned"}),
            ),
            rule: "hospital.tci",
            content: &["tci"],
        },
        Case {
            resource: resource(
                "Encounter",
                "los_edd",
                Some("hospital"),
                &[],
                json!({"status": "in-progress", "length": {"value": 4, "unit": "d"}}),
            ),
            rule: "hospital.edd",
            content: &["adt", "los_edd"],
        },
        Case {
            resource: resource(
                "CarePlan",
                "hospital_care_plans",
                Some("hospital"),
                &[],
                json!({"status": "active", "intent": "plan"}),
            ),
            rule: "hospital.care-plan",
            content: &["hospital_care_plans"],
        },
        Case {
            resource: resource(
                "CarePlan",
                "discharge_plans",
                Some("hospital"),
                &[],
                json!({"status": "active", "intent": "plan", "category": [cc(HINT, "discharge-plan")]}),
            ),
            rule: "hospital.discharge-plan",
            content: &["discharge_plans"],
        },
        Case {
            resource: resource(
                "DocumentReference",
                "e_correspondence",
                Some("hospital"),
                &[],
                json!({"status": "current", "type": cc(LOINC, "18842-5")}),
            ),
            rule: "hospital.correspondence",
            content: &["e_correspondence"],
        },
        Case {
            resource: resource(
                "MedicationAdministration",
                "wider_hospital_record",
                Some("hospital"),
                &[],
                json!({"status": "completed"}),
            ),
            rule: "hospital.wider",
            content: &["wider_hospital_record"],
        },
    ]
}

/// Further entries that reach the same content lines through other rules,
/// including entries the policy places in more than one line.
fn other_rule_cases() -> Vec<Case> {
    vec![
        Case {
            resource: resource(
                "Observation",
                "x-health-status-observation",
                Some("primary_care"),
                &[],
                json!({"status": "final", "category": [cc(HINT, "health-status-prompt")]}),
            ),
            rule: "primary.health-status",
            content: &["health_status_prompts"],
        },
        Case {
            resource: resource("RelatedPerson", "x-related-person", None, &[], json!({})),
            rule: "care-team",
            content: &["involved_in_care"],
        },
        Case {
            resource: resource(
                "ProcedureRequest",
                "x-diary-entry",
                Some("primary_care"),
                &[],
                json!({"status": "active"}),
            ),
            rule: "primary.diary-entry",
            content: &["appointments"],
        },
        Case {
            resource: resource(
                "ServiceRequest",
                "x-care-package-hint",
                Some("community"),
                &[],
                json!({"status": "active", "category": [cc(HINT, "care-package")]}),
            ),
            rule: "care-package",
            content: &["care_package"],
        },
        Case {
            resource: resource(
                "Goal",
                "x-goal",
                None,
                &[],
                json!({"lifecycleStatus": "active"}),
            ),
            rule: "care-plans",
            content: &["care_plans"],
        },
        Case {
            resource: resource(
                "CarePlan",
                "x-end-of-life",
                Some("hospital"),
                &[],
                json!({"status": "active", "category": [cc(HINT, "end-of-life-plan")]}),
            ),
            rule: "care-plan.end-of-life",
            content: &["care_plans", "hospital_care_plans"],
        },
        Case {
            resource: resource(
                "Condition",
                "x-significant-diagnosis",
                Some("primary_care"),
                &["significant-event"],
                json!({"code": cc(SNOMED, "22298006")}),
            ),
            rule: "significant.primary-diagnosis",
            content: &["diagnoses", "significant_events", "coded_record"],
        },
        Case {
            resource: resource(
                "Encounter",
                "x-mha-event",
                Some("mental_health"),
                &["mha-event"],
                json!({"status": "finished"}),
            ),
            rule: "significant.community",
            content: &["significant_events", "coded_record"],
        },
        Case {
            resource: resource(
                "Encounter",
                "x-hospital-significant-event",
                Some("hospital"),
                &["significant-event"],
                json!({"status": "finished"}),
            ),
            rule: "significant.other",
            content: &["significant_events"],
        },
        Case {
            resource: resource(
                "Immunization",
                "x-immunisation",
                Some("primary_care"),
                &[],
                json!({"status": "completed", "vaccineCode": cc(SNOMED, "1119349007")}),
            ),
            rule: "community.coded",
            content: &["coded_record"],
        },
        Case {
            resource: resource(
                "Communication",
                "x-communication",
                Some("community"),
                &[],
                json!({"status": "completed"}),
            ),
            rule: "community.wider",
            content: &["wider_community_record"],
        },
        Case {
            resource: resource(
                "DiagnosticReport",
                "x-routine-report",
                None,
                &[],
                json!({"status": "final", "code": cc(LOINC, "58410-2")}),
            ),
            rule: "diagnostics.routine",
            content: &["routine_tests"],
        },
        Case {
            resource: resource(
                "DiagnosticReport",
                "x-lab-report",
                None,
                &[],
                json!({"status": "final", "category": [cc(V2_0074, "LAB")], "code": cc(LOINC, "5196-1")}),
            ),
            rule: "diagnostics.report",
            content: &["all_tests"],
        },
        Case {
            resource: resource(
                "ImagingStudy",
                "x-imaging",
                None,
                &[],
                json!({"status": "available"}),
            ),
            rule: "diagnostics.radiology-study",
            content: &["routine_tests"],
        },
        Case {
            resource: resource(
                "Observation",
                "x-from-diagnostic-service",
                Some("diagnostics"),
                &[],
                json!({"status": "final", "code": cc(LOINC, "5196-1")}),
            ),
            rule: "diagnostics.from-diagnostic-service",
            content: &["all_tests"],
        },
        Case {
            resource: resource(
                "DiagnosticReport",
                "x-genomic-report",
                None,
                &[],
                json!({"status": "final", "category": [cc(V2_0074, "GE")]}),
            ),
            rule: "diagnostics.genomic-report",
            content: &["wider_diagnostic_record"],
        },
        Case {
            resource: resource(
                "Observation",
                "x-genomic-code",
                None,
                &[],
                json!({"status": "final", "code": cc(LOINC, "51969-4")}),
            ),
            rule: "diagnostics.genomic-code",
            content: &["wider_diagnostic_record"],
        },
        Case {
            resource: resource(
                "EpisodeOfCare",
                "x-episode",
                Some("hospital"),
                &[],
                json!({"status": "active"}),
            ),
            rule: "hospital.adt",
            content: &["adt"],
        },
        Case {
            resource: resource(
                "Encounter",
                "x-edd-extension",
                Some("hospital"),
                &[],
                json!({
                    "status": "in-progress",
                    "extension": [{
                        "url": "https://fhir.tiergate.example/StructureDefinition/expected-discharge-date",
                        "valueDateTime": "2026-11-30"
                    }]
                }),
            ),
            rule: "hospital.edd",
            content: &["adt", "los_edd"],
        },
        Case {
            resource: resource(
                "Composition",
                "x-discharge-summary",
                Some("hospital"),
                &[],
                json!({"status": "final", "type": cc(HINT, "e-correspondence")}),
            ),
            rule: "hospital.correspondence",
            content: &["e_correspondence"],
        },
        Case {
            resource: resource(
                "DocumentReference",
                "x-scanned-notes",
                Some("hospital"),
                &[],
                json!({"status": "current", "type": cc(SNOMED, "371530004")}),
            ),
            rule: "hospital.wider",
            content: &["wider_hospital_record"],
        },
    ]
}

fn all_cases() -> Vec<Case> {
    let mut cases = content_line_cases();
    cases.extend(other_rule_cases());
    cases
}

fn bundle(cases: &[Case]) -> Value {
    let entries: Vec<Value> = cases
        .iter()
        .map(|c| json!({"fullUrl": format!("urn:uuid:{}", c.resource["id"].as_str().unwrap()), "resource": c.resource}))
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

/// A professional holding the privacy officer's approval for the test
/// patient's Community tier 3 (7.2), so that table 6 alone decides.
fn viewer(profile: &str) -> Viewer {
    tiergate_testkit::with_community_approval(unapproved(profile), "demographics")
}

fn unapproved(profile: &str) -> Viewer {
    Viewer {
        user_id: format!("user-{profile}"),
        name: None,
        organisation: VIEWER_ORG.into(),
        profile: profile.into(),
        purpose: "direct-care".into(),
        training: Some(Training {
            completed: Some("2026-01-10".into()),
            expires: "2027-01-10".into(),
        }),
        break_glass: None,
        patient: None,
        proxy_scopes: None,
        proxy_categories: None,
        proxy_agreed: None,
        approvals: Vec::new(),
    }
}

/// Consent to share everything with the viewer's organisation.
fn permit_everything(policy: &Policy) -> CompiledConsent {
    let set = ConsentSet::from_value(
        &json!({"directives": [{
            "id": "permit-all",
            "kind": "permit",
            "recorded": "2026-11-01T09:00:00Z",
            "actors": {"organisations": [VIEWER_ORG]}
        }]}),
        policy,
    )
    .unwrap();
    set.compile(policy).unwrap()
}

fn decide(policy: &Policy, record: &Value, profile: &str, consent: &CompiledConsent) -> Decisions {
    decide_as(policy, record, &viewer(profile), consent)
}

fn decide_as(policy: &Policy, record: &Value, v: &Viewer, consent: &CompiledConsent) -> Decisions {
    let request = Request {
        viewer: v,
        consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    policy.decide(record, &request).unwrap()
}

fn by_id<'a>(decisions: &'a Decisions, id: &str) -> &'a EntryDecision {
    decisions
        .entries
        .iter()
        .find(|d| d.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

fn reachable(profile: &str, content: &[&str]) -> bool {
    content.iter().any(|c| {
        let (segment, tier) = line(c);
        grant(profile, segment) >= tier
    })
}

#[test]
fn the_test_record_covers_every_content_line_and_every_cell() {
    let policy = Policy::default_policy().unwrap();
    let policy_lines: BTreeSet<&str> = policy.content().iter().map(|c| c.id.as_str()).collect();
    let framework_lines: BTreeSet<&str> = CONTENT_LINES.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(framework_lines.len(), 22);
    assert_eq!(policy_lines, framework_lines, "content lines of tables 1-4");

    let cases = content_line_cases();
    assert_eq!(cases.len(), 22, "one entry per content line");
    for (case, (line_id, _, _)) in cases.iter().zip(CONTENT_LINES.iter()) {
        assert!(case.content.contains(line_id), "entry for {line_id}");
    }
    for segment in SEGMENTS {
        for tier in 1..=3u8 {
            let single = cases
                .iter()
                .filter(|c| c.content.iter().all(|x| line(x) == (segment, tier)))
                .count();
            assert!(single > 0, "no entry placed only in {segment}-{tier}");
        }
    }
}

#[test]
fn every_content_line_is_classified_to_its_framework_placement() {
    let policy = Policy::default_policy().unwrap();
    let cases = all_cases();
    let record = bundle(&cases);
    let decisions = decide(&policy, &record, "1a", &permit_everything(&policy));
    assert_eq!(decisions.entries.len(), cases.len());
    for case in &cases {
        let id = case.resource["id"].as_str().unwrap();
        let d = by_id(&decisions, id);
        assert_eq!(d.rule.as_deref(), Some(case.rule), "rule for {id}");
        let got: Vec<(&str, &str, u8)> = d
            .placements
            .iter()
            .map(|p| (p.content.as_str(), p.segment.as_str(), p.tier))
            .collect();
        let want: Vec<(&str, &str, u8)> = case
            .content
            .iter()
            .map(|c| {
                let (s, t) = line(c);
                (*c, s, t)
            })
            .collect();
        assert_eq!(got, want, "placements of {id}");
    }
}

#[test]
fn every_cell_of_table_6() {
    let policy = Policy::default_policy().unwrap();
    let consent = permit_everything(&policy);
    let cases = content_line_cases();
    let record = bundle(&cases);
    let mut cells_checked = 0;
    for (profile, grants) in TABLE6 {
        let decisions = decide(&policy, &record, profile, &consent);
        assert_eq!(decisions.summary.profile, profile);
        for (si, segment) in SEGMENTS.iter().enumerate() {
            for tier in 1..=3u8 {
                let in_cell: Vec<&Case> = cases
                    .iter()
                    .filter(|c| c.content.iter().all(|x| line(x) == (*segment, tier)))
                    .collect();
                assert!(!in_cell.is_empty());
                let granted = grants[si] >= tier;
                for case in in_cell {
                    let id = case.resource["id"].as_str().unwrap();
                    let d = by_id(&decisions, id);
                    let cell = format!("profile {profile}, {segment}-{tier}, entry {id}");
                    if granted {
                        assert_eq!(d.decision, Verdict::Allow, "{cell}: {:?}", d.reasons);
                        assert!(d.reasons.is_empty(), "{cell}");
                        assert_eq!(
                            d.allowed_by.as_deref(),
                            Some(format!("{segment}-{tier}").as_str()),
                            "{cell}"
                        );
                        assert_eq!(d.consent.as_deref(), Some("permit-all"), "{cell}");
                        assert!(!d.break_glass, "{cell}");
                    } else {
                        assert_eq!(d.decision, Verdict::Withhold, "{cell}");
                        assert_eq!(d.reasons, vec![Reason::TierNotGranted], "{cell}");
                        assert_eq!(d.reasons[0].code(), "tier_not_granted");
                    }
                }
                cells_checked += 1;
            }
        }
    }
    assert_eq!(cells_checked, 11 * 4 * 3);
}

/// Section 7.2: "wider access" to community information is "defined on an
/// individual case basis, subject to ... information governance
/// processes". Without an approval for the patient, a profile whose grant
/// reaches Community tier 3 sees Community up to tier 2; every other cell
/// is as table 6 says.
#[test]
fn community_tier_3_needs_an_individual_approval() {
    let policy = Policy::default_policy().unwrap();
    let consent = permit_everything(&policy);
    let cases = content_line_cases();
    let record = bundle(&cases);
    let mut withheld = 0;
    for (profile, grants) in TABLE6 {
        let approved = decide(&policy, &record, profile, &consent);
        let without = decide_as(&policy, &record, &unapproved(profile), &consent);
        for case in &cases {
            let id = case.resource["id"].as_str().unwrap();
            let (a, w) = (by_id(&approved, id), by_id(&without, id));
            let only_c3 = case.content.iter().all(|c| line(c) == ("community", 3));
            if only_c3 && grants[1] >= 3 {
                assert_eq!(a.decision, Verdict::Allow, "{profile} {id}");
                assert_eq!(w.decision, Verdict::Withhold, "{profile} {id}");
                assert_eq!(w.reasons, vec![Reason::ApprovalRequired], "{profile} {id}");
                assert_eq!(a.approval.as_deref(), Some("approval-demographics"));
                withheld += 1;
            } else {
                assert_eq!(a.decision, w.decision, "{profile} {id}");
                assert_eq!(a.reasons, w.reasons, "{profile} {id}");
                assert_eq!(a.approval, None, "{profile} {id}");
            }
        }
    }
    // The wider community record, for 1b and 7.
    assert_eq!(withheld, 2);

    // Expired, not yet started, or for another patient: nothing opens.
    for (starts, expires, patient) in [
        ("2026-01-01", "2026-11-24", "demographics"),
        ("2026-11-26", "2027-01-01", "demographics"),
        ("2026-01-01", "2027-01-01", "someone-else"),
    ] {
        let mut v = unapproved("1b");
        v.approvals.push(tiergate_core::Approval {
            id: "a1".into(),
            patient: patient.into(),
            segment: "community".into(),
            tier: 3,
            starts: starts.into(),
            expires: expires.into(),
        });
        let d = decide_as(&policy, &record, &v, &consent);
        let e = by_id(&d, "wider_community_record");
        assert_eq!(
            e.reasons,
            vec![Reason::ApprovalRequired],
            "{starts} {expires} {patient}"
        );
    }

    // A record that is not wholly the approved patient's: the approval
    // opens nothing in it, not even the approved patient's entry.
    let mut mixed = record.clone();
    mixed["entry"]
        .as_array_mut()
        .unwrap()
        .push(json!({"resource": {
            "resourceType": "Observation", "id": "elsewhere", "status": "final",
            "subject": {"reference": "Patient/someone-else"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "271649006"}]}
        }}));
    let d = decide(&policy, &mixed, "1b", &consent);
    assert_eq!(
        by_id(&d, "wider_community_record").reasons,
        vec![Reason::ApprovalRequired],
        "an approval for one patient opened a record holding another's"
    );

    // An approval for tier 2 does not reach tier 3.
    let mut v = unapproved("1b");
    v.approvals.push(tiergate_core::Approval {
        id: "a2".into(),
        patient: "demographics".into(),
        segment: "community".into(),
        tier: 2,
        starts: "2026-01-01".into(),
        expires: "2027-01-01".into(),
    });
    let d = decide_as(&policy, &record, &v, &consent);
    assert_eq!(
        by_id(&d, "wider_community_record").reasons,
        vec![Reason::ApprovalRequired]
    );

    // Approvals are for professionals: the person's own view carrying one
    // is refused, as is a bad one.
    let mut own: Viewer = serde_json::from_value(
        json!({"user_id": "p", "organisation": "", "profile": "patient",
        "purpose": "direct-care", "training": null, "patient": "demographics"}),
    )
    .unwrap();
    own.approvals = viewer("1b").approvals;
    let request = Request {
        viewer: &own,
        consent: &consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    assert!(policy.decide(&record, &request).is_err());
    let mut v = unapproved("1b");
    v.approvals.push(tiergate_core::Approval {
        id: "a3".into(),
        patient: "demographics".into(),
        segment: "community".into(),
        tier: 4,
        starts: "2026-01-01".into(),
        expires: "2027-01-01".into(),
    });
    let request = Request {
        viewer: &v,
        consent: &consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    assert!(policy.decide(&record, &request).is_err());
}

#[test]
fn entries_in_several_lines_are_shared_when_any_of_their_lines_is_granted() {
    let policy = Policy::default_policy().unwrap();
    let consent = permit_everything(&policy);
    let cases = all_cases();
    let record = bundle(&cases);
    for (profile, _) in TABLE6 {
        let decisions = decide(&policy, &record, profile, &consent);
        let mut allowed = 0;
        for case in &cases {
            let id = case.resource["id"].as_str().unwrap();
            let d = by_id(&decisions, id);
            if reachable(profile, case.content) {
                assert_eq!(
                    d.decision,
                    Verdict::Allow,
                    "profile {profile}, {id}: {:?}",
                    d.reasons
                );
                allowed += 1;
            } else {
                assert_eq!(d.decision, Verdict::Withhold, "profile {profile}, {id}");
                assert_eq!(
                    d.reasons,
                    vec![Reason::TierNotGranted],
                    "profile {profile}, {id}"
                );
            }
        }
        assert_eq!(decisions.summary.allowed, allowed, "profile {profile}");
        assert_eq!(decisions.summary.withheld, cases.len() - allowed);
        let tier_count = decisions
            .summary
            .withheld_by_reason
            .get("tier_not_granted")
            .copied()
            .unwrap_or(0);
        assert_eq!(tier_count, cases.len() - allowed, "profile {profile}");
        assert_eq!(
            decisions.summary.withheld_by_reason.len(),
            usize::from(allowed < cases.len())
        );
    }
}

#[test]
fn redaction_returns_exactly_the_entries_table_6_grants() {
    let policy = Policy::default_policy().unwrap();
    let consent = permit_everything(&policy);
    let cases = all_cases();
    let record = bundle(&cases);
    let bytes = serde_json::to_vec(&record).unwrap();
    for (profile, _) in TABLE6 {
        let v = viewer(profile);
        let request = Request {
            viewer: &v,
            consent: &consent,
            now: NOW,
            default_setting: None,
            holding_organisation: None,
        };
        let redacted = policy.redact(&bytes, &request, Limits::default()).unwrap();
        let body: Value = serde_json::from_slice(&redacted.body).unwrap();
        let got: BTreeSet<String> = body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
            .collect();
        let want: BTreeSet<String> = cases
            .iter()
            .filter(|c| reachable(profile, c.content))
            .map(|c| c.resource["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, want, "profile {profile}");
    }
}

#[test]
fn compiled_profiles_equal_table_6() {
    let policy = Policy::default_policy().unwrap();
    let segment_ids: Vec<&str> = policy.segments().iter().map(|s| s.id.as_str()).collect();
    let mut sorted_segments = segment_ids.clone();
    sorted_segments.sort_unstable();
    let mut want_segments = SEGMENTS.to_vec();
    want_segments.sort_unstable();
    assert_eq!(sorted_segments, want_segments);
    for s in policy.segments() {
        assert_eq!(s.tiers, 3, "segment {}", s.id);
    }
    let letters: BTreeMap<&str, &str> = policy
        .segments()
        .iter()
        .map(|s| (s.id.as_str(), s.letter.as_str()))
        .collect();
    assert_eq!(
        letters,
        BTreeMap::from([
            ("community", "C"),
            ("diagnostics", "D"),
            ("hospitals", "H"),
            ("summary", "S")
        ])
    );

    // Table 6 is the professional profiles; the own-record and audit-only
    // profiles are not in it.
    let got: BTreeMap<String, [u8; 4]> = policy
        .profiles()
        .filter(|p| !p.properties.own_record && !p.properties.audit_access)
        .map(|p| {
            let mut row = [0u8; 4];
            for (i, segment) in SEGMENTS.iter().enumerate() {
                let si = policy.segment_index(segment).unwrap();
                row[i] = p.grant(si);
            }
            (p.id.clone(), row)
        })
        .collect();
    let want: BTreeMap<String, [u8; 4]> =
        TABLE6.iter().map(|(p, g)| ((*p).to_owned(), *g)).collect();
    assert_eq!(got, want);

    // Document order is table 6's order.
    let order: Vec<&str> = policy
        .profiles()
        .filter(|p| !p.properties.own_record && !p.properties.audit_access)
        .map(|p| p.id.as_str())
        .collect();
    let table_order: Vec<&str> = TABLE6.iter().map(|(p, _)| *p).collect();
    assert_eq!(order, table_order);

    for (id, _) in TABLE6 {
        assert!(policy.profile(id).is_some(), "profile {id}");
    }
    assert!(policy.profile("8").is_none());
}
