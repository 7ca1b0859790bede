//! Appendix 1 of the iLINKS framework, code by code.
//!
//! The codes are read at test time from `tests/data/appendix1-exclusion-codes.tsv`
//! (a copy of the framework's Appendix 1, see `tests/data/README.md`), so
//! the policy is checked against the framework and not against itself.
//!
//! * A primary-care diagnosis carrying any Appendix 1 code is withheld from
//!   every profile, whatever the consent.
//! * A diagnostic result carrying one is shared only with profiles that hold
//!   Diagnostics tier 3 ("wider diagnostic record - no exclusions"), with
//!   consent; break glass never lifts an exclusion.
//! * `%` means the code and every code below it; other codes match only
//!   themselves, with or without Read v2 dot padding.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use tiergate_core::{
    BreakGlass, CompiledConsent, ConsentSet, Decisions, EntryDecision, Policy, Reason, Request,
    Verdict, Viewer,
};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
const VIEWER_ORG: &str = "RVY";
const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const READ_V2: &str = "http://read.info/readv2";
const EMIS: &str = "https://fhir.hl7.org.uk/Id/emis-local-codes";
const EGTON: &str = "https://fhir.hl7.org.uk/Id/egton-codes";
const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";

const PROFILES: [&str; 11] = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
/// Profiles with Diagnostics tier 3 in table 6.
const D3_PROFILES: [&str; 4] = ["1a", "1b", "1c", "6"];

/// Appendix 1 headings (as transcribed) to the policy's category ids.
const CATEGORY_IDS: [(&str, &str); 9] = tiergate_testkit::APPENDIX_1_CATEGORIES;

#[derive(Debug, Clone)]
struct AppendixCode {
    category: &'static str,
    /// As printed, e.g. `43W7.`, `43C%`, `14OP`.
    code: String,
}

impl AppendixCode {
    fn is_prefix(&self) -> bool {
        self.code.ends_with('%')
    }

    /// The code without `%` and without dot padding.
    fn stem(&self) -> &str {
        normalise(self.code.trim_end_matches('%'))
    }

    /// The code system the code belongs to.
    fn system(&self) -> &'static str {
        system_for(&self.code)
    }
}

fn system_for(code: &str) -> &'static str {
    if code.starts_with("EMIS") {
        EMIS
    } else if code.starts_with("EGTON") {
        EGTON
    } else {
        READ_V2
    }
}

fn normalise(code: &str) -> &str {
    code.trim().trim_end_matches('.')
}

/// Right-pads a code with dots to the five characters of Read v2.
fn padded(code: &str) -> String {
    let mut s = code.to_owned();
    while s.len() < 5 {
        s.push('.');
    }
    s
}

fn appendix() -> &'static [AppendixCode] {
    static CODES: OnceLock<Vec<AppendixCode>> = OnceLock::new();
    CODES.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/appendix1-exclusion-codes.tsv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("category\tcode\tdescription"));
        lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                assert_eq!(cols.len(), 3, "row {l:?}");
                let category = CATEGORY_IDS
                    .iter()
                    .find(|(name, _)| *name == cols[0])
                    .map(|(_, id)| *id)
                    .unwrap_or_else(|| panic!("unknown Appendix 1 heading {:?}", cols[0]));
                AppendixCode {
                    category,
                    code: cols[1].to_owned(),
                }
            })
            .collect()
    })
}

/// Appendix 1 semantics, written out independently of the engine: the
/// categories a code from an exclusion system belongs to.
fn reference_categories(code: &str) -> BTreeSet<&'static str> {
    let code = normalise(code);
    if code.is_empty() {
        return BTreeSet::new();
    }
    appendix()
        .iter()
        .filter(|a| {
            if a.is_prefix() {
                code.starts_with(a.stem())
            } else {
                code == a.stem()
            }
        })
        .map(|a| a.category)
        .collect()
}

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| Policy::default_policy().unwrap())
}

fn viewer(profile: &str) -> Viewer {
    tiergate_testkit::professional(profile, VIEWER_ORG)
}

fn with_break_glass(mut v: Viewer) -> Viewer {
    v.break_glass = Some(BreakGlass {
        reason: Some("unconscious".into()),
        detail: Some("brought in unresponsive".into()),
        started: "2026-11-25T11:30:00Z".into(),
    });
    v
}

fn consent(directives: Value) -> CompiledConsent {
    let p = policy();
    ConsentSet::from_value(&json!({ "directives": directives }), p)
        .unwrap()
        .compile(p)
        .unwrap()
}

/// Everything, for the viewer's organisation.
fn full_consent() -> CompiledConsent {
    consent(json!([{
        "id": "permit-all",
        "kind": "permit",
        "recorded": "2026-11-01T09:00:00Z",
        "actors": {"organisations": [VIEWER_ORG]}
    }]))
}

fn no_consent() -> CompiledConsent {
    consent(json!([]))
}

fn coding(system: Option<&str>, code: &str) -> Value {
    match system {
        Some(s) => json!({"system": s, "code": code}),
        None => json!({"code": code}),
    }
}

fn primary_condition(id: &str, system: Option<&str>, code: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "id": id,
        "meta": {"tag": [{"system": SETTING, "code": "primary_care"}]},
        "code": {"coding": [coding(system, code)]}
    })
}

fn lab_observation(id: &str, system: Option<&str>, code: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
        "code": {"coding": [coding(system, code)]}
    })
}

fn bundle(resources: &[Value]) -> Value {
    let entries: Vec<Value> = resources.iter().map(|r| json!({ "resource": r })).collect();
    json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
}

fn decide(record: &Value, v: &Viewer, consent: &CompiledConsent) -> Decisions {
    let request = Request {
        viewer: v,
        consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    policy().decide(record, &request).unwrap()
}

fn by_id<'a>(decisions: &'a Decisions, id: &str) -> &'a EntryDecision {
    decisions
        .entries
        .iter()
        .find(|d| d.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no decision for {id}"))
}

fn excluded(category: &str) -> Reason {
    Reason::ExcludedCategory(category.to_owned())
}

fn assert_excluded(d: &EntryDecision, category: &str, what: &str) {
    assert_eq!(d.decision, Verdict::Withhold, "{what}");
    assert!(!d.break_glass, "{what}");
    assert!(
        d.reasons.contains(&excluded(category)),
        "{what}: reasons {:?}",
        d.reasons
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.code() == format!("excluded_category:{category}")),
        "{what}"
    );
}

// ---------------------------------------------------------------------------
// The code list itself.

#[test]
fn appendix_1_has_110_codes_in_9_categories() {
    let codes = appendix();
    assert_eq!(codes.len(), 110);
    let categories: BTreeSet<&str> = codes.iter().map(|c| c.category).collect();
    assert_eq!(categories.len(), 9);
    // Every code belongs to exactly one category, including through `%`.
    for c in codes {
        let cats = reference_categories(&padded(c.stem()));
        assert_eq!(cats, BTreeSet::from([c.category]), "{}", c.code);
    }
}

#[test]
fn the_policy_lists_exactly_the_appendix_1_codes() {
    let doc = policy().document();
    let policy_ids: BTreeSet<&str> = policy()
        .exclusion_categories()
        .iter()
        .map(String::as_str)
        .collect();
    let mut appendix_ids: BTreeSet<&str> = CATEGORY_IDS.iter().map(|(_, id)| *id).collect();
    // And one from section 7.3, limited to the Diagnostics segment.
    appendix_ids.insert("blood_borne_viruses");
    assert_eq!(policy_ids, appendix_ids);
    for (_, id) in CATEGORY_IDS {
        let in_policy: BTreeSet<String> = doc
            .exclusions
            .categories
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .codes
            .iter()
            .map(|c| c.code.clone())
            .collect();
        let in_appendix: BTreeSet<String> = appendix()
            .iter()
            .filter(|c| c.category == id)
            .map(|c| c.code.clone())
            .collect();
        assert_eq!(in_policy, in_appendix, "category {id}");
    }
}

#[test]
fn every_code_matches_its_category_in_every_exclusion_system() {
    let p = policy();
    for c in appendix() {
        let spelled = padded(c.stem());
        for system in [READ_V2, "http://read.info/ctv3", EMIS, EGTON] {
            assert_eq!(
                p.exclusion_categories_of(Some(system), &spelled),
                vec![c.category],
                "{} in {system}",
                c.code
            );
        }
        // Codings without a system are checked too (fail closed).
        assert_eq!(p.exclusion_categories_of(None, &spelled), vec![c.category]);
    }
}

// ---------------------------------------------------------------------------
// Decisions for every code.

#[test]
fn every_code_in_a_primary_care_diagnosis_is_withheld_from_every_profile() {
    let mut resources: Vec<Value> = appendix()
        .iter()
        .enumerate()
        .map(|(i, c)| primary_condition(&format!("cond-{i}"), Some(c.system()), &padded(c.stem())))
        .collect();
    resources.push(primary_condition("control", Some(SNOMED), "44054006"));
    let record = bundle(&resources);
    let consent = full_consent();
    for profile in PROFILES {
        let decisions = decide(&record, &viewer(profile), &consent);
        for (i, c) in appendix().iter().enumerate() {
            let d = by_id(&decisions, &format!("cond-{i}"));
            let what = format!("profile {profile}, condition coded {}", c.code);
            assert_excluded(d, c.category, &what);
            // Summary tier 2 is granted to every profile but 5: nothing else
            // could have withheld it.
            if profile != "5" {
                assert_eq!(d.reasons, vec![excluded(c.category)], "{what}");
            }
        }
        let control = by_id(&decisions, "control");
        assert_eq!(
            control.decision == Verdict::Allow,
            profile != "5",
            "profile {profile}: control diagnosis"
        );
        let excluded_total: usize = decisions
            .summary
            .withheld_by_reason
            .iter()
            .filter(|(k, _)| k.starts_with("excluded_category:"))
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(excluded_total, 110, "profile {profile}");
    }
}

#[test]
fn every_code_in_a_diagnostic_result_is_shared_only_with_diagnostics_tier_3() {
    let mut resources: Vec<Value> = appendix()
        .iter()
        .enumerate()
        .map(|(i, c)| lab_observation(&format!("obs-{i}"), Some(c.system()), &padded(c.stem())))
        .collect();
    resources.push(lab_observation("control", Some(LOINC), "5196-1"));
    let record = bundle(&resources);
    let consent = full_consent();
    for profile in PROFILES {
        let decisions = decide(&record, &viewer(profile), &consent);
        let d3 = D3_PROFILES.contains(&profile);
        for (i, c) in appendix().iter().enumerate() {
            let d = by_id(&decisions, &format!("obs-{i}"));
            let what = format!("profile {profile}, lab result coded {}", c.code);
            assert_eq!(d.rule.as_deref(), Some("diagnostics.result"), "{what}");
            if d3 {
                assert_eq!(d.decision, Verdict::Allow, "{what}: {:?}", d.reasons);
                assert_eq!(d.allowed_by.as_deref(), Some("diagnostics-2"), "{what}");
                assert_eq!(d.consent.as_deref(), Some("permit-all"), "{what}");
            } else {
                assert_excluded(d, c.category, &what);
            }
            // Diagnostics tier 2 granted, tier 3 not: withheld for the exclusion alone.
            if ["2a", "7"].contains(&profile) {
                assert_eq!(d.reasons, vec![excluded(c.category)], "{what}");
            }
        }
        let control = by_id(&decisions, "control");
        let d2 = !["2b", "3a", "3b", "4", "5"].contains(&profile);
        assert_eq!(
            control.decision == Verdict::Allow,
            d2,
            "profile {profile}: control"
        );
    }
}

#[test]
fn break_glass_never_lifts_an_exclusion() {
    let mut resources: Vec<Value> = appendix()
        .iter()
        .enumerate()
        .map(|(i, c)| lab_observation(&format!("obs-{i}"), Some(c.system()), &padded(c.stem())))
        .collect();
    resources.push(lab_observation("control", Some(LOINC), "5196-1"));
    resources.push(primary_condition("cond-hiv", Some(READ_V2), "A788."));
    let record = bundle(&resources);
    let consent = no_consent();
    for profile in D3_PROFILES {
        let decisions = decide(&record, &with_break_glass(viewer(profile)), &consent);
        assert!(decisions.summary.break_glass.is_some());
        for (i, c) in appendix().iter().enumerate() {
            let d = by_id(&decisions, &format!("obs-{i}"));
            assert_excluded(
                d,
                c.category,
                &format!(
                    "profile {profile} under break glass, lab result coded {}",
                    c.code
                ),
            );
        }
        assert_excluded(
            by_id(&decisions, "cond-hiv"),
            "hiv_aids",
            "break glass, AIDS diagnosis",
        );
        // Break glass is in force: the unexcluded result is shared by it.
        let control = by_id(&decisions, "control");
        assert_eq!(control.decision, Verdict::Allow, "profile {profile}");
        assert!(control.break_glass);
        assert_eq!(decisions.summary.allowed, 1, "profile {profile}");
        assert_eq!(decisions.summary.allowed_by_break_glass, 1);
    }
}

#[test]
fn the_diagnostics_tier_3_lift_needs_consent_to_the_diagnostic_placement() {
    let record = bundle(&[lab_observation("hiv-test", Some(READ_V2), "43W7.")]);
    // Consent to the summary only: the lab result is not consented, so the
    // exclusion stands (and nothing else could share it anyway).
    let summary_only = consent(json!([{
        "id": "summary",
        "kind": "permit",
        "recorded": "2026-11-01T09:00:00Z",
        "actors": {"organisations": [VIEWER_ORG]},
        "scope": {"segments": [{"segment": "summary"}]}
    }]));
    let d = decide(&record, &viewer("1a"), &summary_only);
    assert_excluded(&d.entries[0], "hiv_aids", "HIV test, summary-only consent");
    // Consent to diagnostics tier 3 lifts it for a D3 profile.
    let diagnostics = consent(json!([{
        "id": "diagnostics",
        "kind": "permit",
        "recorded": "2026-11-01T09:00:00Z",
        "actors": {"organisations": [VIEWER_ORG]},
        "scope": {"segments": [{"segment": "diagnostics", "tier": 3}]}
    }]));
    let d = decide(&record, &viewer("1a"), &diagnostics);
    assert_eq!(d.entries[0].decision, Verdict::Allow);
    // ... but not for another organisation the consent does not name.
    let mut other = viewer("1a");
    other.organisation = "REM".into();
    let d = decide(&record, &other, &diagnostics);
    assert_excluded(&d.entries[0], "hiv_aids", "HIV test, other organisation");
}

// ---------------------------------------------------------------------------
// `%` and dot padding.

/// Codes below a `%` stem: the stem itself and children, padded and not.
fn children(stem: &str) -> Vec<String> {
    let mut out = Vec::new();
    for suffix in ["", "1", "12", "X", "z9"] {
        let code = format!("{stem}{suffix}");
        for spelling in [padded(&code), code.clone()] {
            if !out.contains(&spelling) {
                out.push(spelling);
            }
        }
    }
    out
}

/// Both spellings of an exact code: dot-padded to five characters and bare.
fn spellings(stem: &str) -> Vec<String> {
    let mut out = vec![stem.to_owned()];
    let p = padded(stem);
    if p != stem {
        out.push(p);
    }
    out
}

#[test]
fn percent_codes_cover_their_children_and_exact_codes_both_spellings() {
    let mut resources = Vec::new();
    let mut expected = Vec::new();
    for c in appendix() {
        let variants = if c.is_prefix() {
            children(c.stem())
        } else {
            spellings(c.stem())
        };
        for v in variants {
            let id = format!("v{}", resources.len());
            assert_eq!(
                policy().exclusion_categories_of(Some(c.system()), &v),
                vec![c.category],
                "{v} (from {})",
                c.code
            );
            resources.push(primary_condition(&id, Some(c.system()), &v));
            expected.push((id, v, c.category));
        }
    }
    // Spot checks from the brief.
    let spelled: Vec<&str> = expected.iter().map(|(_, v, _)| v.as_str()).collect();
    for must in [
        "43C1.", "43C12", "43W7.", "43W7", "14OP", "14OP.", "62b..", "62b",
    ] {
        assert!(spelled.contains(&must), "{must} not generated");
    }
    let record = bundle(&resources);
    let decisions = decide(&record, &viewer("1a"), &full_consent());
    for (id, v, category) in &expected {
        let d = by_id(&decisions, id);
        assert_excluded(d, category, &format!("condition coded {v}"));
        assert_eq!(d.reasons, vec![excluded(category)], "{v}");
    }
}

#[test]
fn exact_codes_do_not_cover_children_and_stems_do_not_cover_parents() {
    let p = policy();
    // `62b..` is one code, not a hierarchy.
    assert!(p.exclusion_categories_of(Some(READ_V2), "62b1.").is_empty());
    assert!(p.exclusion_categories_of(Some(READ_V2), "62b1").is_empty());
    assert!(p.exclusion_categories_of(Some(READ_V2), "43W71").is_empty());
    // Parents of a `%` stem are not below it.
    assert!(p.exclusion_categories_of(Some(READ_V2), "43...").is_empty());
    assert!(p.exclusion_categories_of(Some(READ_V2), "A78..").is_empty());
    assert!(p.exclusion_categories_of(Some(READ_V2), "9....").is_empty());
    // Codes are case-sensitive, as Read codes are.
    assert!(p.exclusion_categories_of(Some(READ_V2), "62B..").is_empty());
    // A stem occurring later in a code is not a prefix.
    assert!(p.exclusion_categories_of(Some(READ_V2), "X43C1").is_empty());

    // The child of every exact code is matched only where a `%` code
    // above it says so (none does).
    for c in appendix().iter().filter(|c| !c.is_prefix()) {
        let child = padded(&format!("{}1", c.stem()));
        let want: Vec<&str> = reference_categories(&child).into_iter().collect();
        assert!(want.is_empty(), "{child}");
        assert_eq!(
            p.exclusion_categories_of(Some(c.system()), &child),
            want,
            "{child}"
        );
    }

    let record = bundle(&[
        primary_condition("antenatal-screen-child", Some(READ_V2), "62b1."),
        primary_condition("antenatal-screen", Some(READ_V2), "62b.."),
    ]);
    let decisions = decide(&record, &viewer("1a"), &full_consent());
    assert_eq!(
        by_id(&decisions, "antenatal-screen-child").decision,
        Verdict::Allow
    );
    assert_excluded(by_id(&decisions, "antenatal-screen"), "hiv_aids", "62b..");
}

#[test]
fn codes_from_other_systems_are_not_appendix_codes() {
    let mut resources = Vec::new();
    for (i, c) in appendix().iter().enumerate() {
        resources.push(primary_condition(
            &format!("snomed-{i}"),
            Some(SNOMED),
            &padded(c.stem()),
        ));
        resources.push(primary_condition(
            &format!("icd-{i}"),
            Some(ICD10),
            c.stem(),
        ));
        assert!(policy()
            .exclusion_categories_of(Some(SNOMED), &padded(c.stem()))
            .is_empty());
    }
    // A code with no system at all is checked (fail closed).
    resources.push(primary_condition("no-system", None, "A788."));
    let record = bundle(&resources);
    let decisions = decide(&record, &viewer("1a"), &full_consent());
    for (i, c) in appendix().iter().enumerate() {
        for prefix in ["snomed", "icd"] {
            let d = by_id(&decisions, &format!("{prefix}-{i}"));
            assert_eq!(
                d.decision,
                Verdict::Allow,
                "{prefix} code equal to {}: {:?}",
                c.code,
                d.reasons
            );
        }
    }
    assert_excluded(
        by_id(&decisions, "no-system"),
        "hiv_aids",
        "system-less coding",
    );
}

#[test]
fn codes_are_found_wherever_they_are_in_the_resource() {
    let primary = json!({"tag": [{"system": SETTING, "code": "primary_care"}]});
    let hidden = vec![
        (
            "extension-concept",
            "hiv_aids",
            json!({
                "resourceType": "Condition",
                "id": "extension-concept",
                "meta": primary,
                "code": {"coding": [{"system": SNOMED, "code": "38341003"}]},
                "extension": [{
                    "url": "https://example.org/StructureDefinition/related-problem",
                    "valueCodeableConcept": {"coding": [{"system": READ_V2, "code": "A788."}]}
                }]
            }),
        ),
        (
            "nested-extension",
            "adoption",
            json!({
                "resourceType": "Condition",
                "id": "nested-extension",
                "meta": primary,
                "code": {"coding": [{"system": SNOMED, "code": "38341003"}]},
                "extension": [{
                    "url": "https://example.org/outer",
                    "extension": [{
                        "url": "inner",
                        "valueCoding": {"system": READ_V2, "code": "9F51."}
                    }]
                }]
            }),
        ),
        (
            "component",
            "sexually_transmitted_diseases",
            json!({
                "resourceType": "Observation",
                "id": "component",
                "status": "final",
                "meta": primary,
                "code": {"coding": [{"system": SNOMED, "code": "271649006"}]},
                "component": [
                    {"code": {"coding": [{"system": SNOMED, "code": "271650006"}]}},
                    {"code": {"coding": [{"system": READ_V2, "code": "43U1."}]}}
                ]
            }),
        ),
        (
            "reason-code",
            "termination_of_pregnancy",
            json!({
                "resourceType": "MedicationRequest",
                "id": "reason-code",
                "status": "active",
                "intent": "order",
                "meta": primary,
                "medicationCodeableConcept": {"coding": [{"system": SNOMED, "code": "322236009"}]},
                "reasonCode": [{"coding": [{"system": READ_V2, "code": "7E084"}]}]
            }),
        ),
        (
            "category",
            "complaints",
            json!({
                "resourceType": "Condition",
                "id": "category",
                "meta": primary,
                "category": [{"coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"},
                    {"system": READ_V2, "code": "9U1.."}
                ]}],
                "code": {"coding": [{"system": SNOMED, "code": "38341003"}]}
            }),
        ),
        (
            "second-coding",
            "ivf_treatment",
            json!({
                "resourceType": "Condition",
                "id": "second-coding",
                "meta": primary,
                "code": {"coding": [
                    {"system": SNOMED, "code": "8619003"},
                    {"system": READ_V2, "code": "8C81."}
                ]}
            }),
        ),
        (
            "contained",
            "gender_reassignment",
            json!({
                "resourceType": "Condition",
                "id": "contained",
                "meta": primary,
                "code": {"coding": [{"system": SNOMED, "code": "38341003"}]},
                "evidence": [{"detail": [{"reference": "#o1"}]}],
                "contained": [{
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "code": {"coding": [{"system": EMIS, "code": "EMISNQGE23"}]}
                }]
            }),
        ),
    ];
    let resources: Vec<Value> = hidden.iter().map(|(_, _, r)| r.clone()).collect();
    let record = bundle(&resources);
    for profile in PROFILES {
        let decisions = decide(&record, &viewer(profile), &full_consent());
        for (id, category, _) in &hidden {
            assert_excluded(
                by_id(&decisions, id),
                category,
                &format!("profile {profile}, code hidden in {id}"),
            );
        }
    }
    // The same resources with the hidden code taken out are shared.
    let mut cleaned = Vec::new();
    for (_, _, r) in &hidden {
        let text = r.to_string();
        let text = text
            .replace("A788.", "Z0000")
            .replace("9F51.", "Z0000")
            .replace("43U1.", "Z0000")
            .replace("7E084", "Z0000")
            .replace("9U1..", "Z0000")
            .replace("8C81.", "Z0000")
            .replace("EMISNQGE23", "Z0000");
        cleaned.push(serde_json::from_str::<Value>(&text).unwrap());
    }
    let decisions = decide(&bundle(&cleaned), &viewer("1a"), &full_consent());
    for d in &decisions.entries {
        assert_eq!(d.decision, Verdict::Allow, "{:?}: {:?}", d.id, d.reasons);
    }
}

// ---------------------------------------------------------------------------
// Properties.

fn prefix_code() -> impl Strategy<Value = &'static AppendixCode> {
    let prefixes: Vec<&'static AppendixCode> =
        appendix().iter().filter(|c| c.is_prefix()).collect();
    proptest::sample::select(prefixes)
}

proptest! {
    /// Anything below a `%` code is excluded, in that code's category.
    #[test]
    fn anything_below_a_percent_code_is_excluded(
        c in prefix_code(),
        suffix in "[0-9A-Za-z]{0,3}",
        pad in proptest::bool::ANY,
    ) {
        let code = format!("{}{suffix}", c.stem());
        let code = if pad { padded(&code) } else { code };
        let cats = policy().exclusion_categories_of(Some(READ_V2), &code);
        prop_assert!(cats.contains(&c.category), "{} -> {:?}", code, cats);
    }

    /// The engine agrees with Appendix 1 read literally, for any code.
    #[test]
    fn the_engine_agrees_with_appendix_1(code in "[0-9A-Za-z]{1,6}\\.{0,3}") {
        let got: BTreeSet<&str> = policy()
            .exclusion_categories_of(Some(READ_V2), &code)
            .into_iter()
            .collect();
        prop_assert_eq!(got, reference_categories(&code), "{}", code);
    }

    /// Codes near Appendix codes (one character changed) agree too.
    #[test]
    fn near_misses_agree_with_appendix_1(
        index in 0usize..110,
        at in 0usize..10,
        ch in "[0-9A-Za-z.]",
    ) {
        let c = &appendix()[index];
        let mut chars: Vec<char> = padded(c.stem()).chars().collect();
        let at = at % chars.len();
        chars[at] = ch.chars().next().unwrap();
        let code: String = chars.into_iter().collect();
        let got: BTreeSet<&str> = policy()
            .exclusion_categories_of(Some(READ_V2), &code)
            .into_iter()
            .collect();
        prop_assert_eq!(got, reference_categories(&code), "{}", code);
    }
}

#[test]
fn consent_below_diagnostics_tier_3_does_not_lift_exclusions() {
    // Table 3: tier 2 is all tests excluding HIV and GUM; only tier 3 lifts.
    // A D3 profile whose patient consented to diagnostics up to tier 2 only
    // sees the routine test but not the HIV test.
    let record = bundle(&[
        lab_observation("hiv", Some(READ_V2), "43W7."),
        lab_observation("plain", Some(READ_V2), "42A.."),
    ]);
    let tier2 = consent(json!([{
        "id": "d2", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
        "actors": {"organisations": [VIEWER_ORG]},
        "scope": {"segments": [{"segment": "diagnostics", "tier": 2}]}
    }]));
    for profile in ["1a", "1b", "1c", "6"] {
        let decisions = decide(&record, &viewer(profile), &tier2);
        assert_excluded(by_id(&decisions, "hiv"), "hiv_aids", profile);
        assert_eq!(
            by_id(&decisions, "plain").decision,
            Verdict::Allow,
            "{profile}"
        );
        let full = decide(&record, &viewer(profile), &full_consent());
        assert_eq!(by_id(&full, "hiv").decision, Verdict::Allow, "{profile}");
    }
}

/// A term written in the policy with typographic characters matches its
/// plain form in text, and a plain term matches typographic text.
#[test]
fn policy_terms_are_read_as_text_is() {
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    let cats = doc["exclusions"]["categories"].as_array_mut().unwrap();
    let hiv = cats.iter_mut().find(|c| c["id"] == "hiv_aids").unwrap();
    hiv["terms"]
        .as_array_mut()
        .unwrap()
        .push(json!("ＨＴＬＶ\u{2011}one\u{a0}antibody"));
    let p = Policy::from_value(doc).unwrap();
    assert_eq!(p.term_categories_of("htlv-one antibody"), ["hiv_aids"]);
    assert_eq!(
        p.term_categories_of("HTLV one\nantibody screen"),
        ["hiv_aids"]
    );
    assert_eq!(
        policy().term_categories_of("Patient is “HIV” positive"),
        ["hiv_aids"]
    );
    assert!(p.term_categories_of("htlvone antibody").is_empty());
}

// ---------------------------------------------------------------------------
// Appendix 1 in the code systems records use today (SNOMED CT, ICD-10,
// CTV3, OPCS-4): each code matches only in its own system.

#[test]
fn appendix_1_in_snomed_ct_icd_10_ctv3_and_opcs_4_with_no_text() {
    const CTV3: &str = "http://read.info/ctv3";
    const OPCS4: &str = "http://hl7.org/fhir/sid/opcs-4";
    let cases: &[(&str, &str, &str)] = &[
        (ICD10, "B20", "hiv_aids"),
        (ICD10, "B20.1", "hiv_aids"),
        (ICD10, "B201", "hiv_aids"),
        ("http://hl7.org/fhir/sid/icd-10-uk", "Z21", "hiv_aids"),
        (SNOMED, "86406008", "hiv_aids"),
        (CTV3, "XaFuL", "hiv_aids"),
        (ICD10, "A54.0", "sexually_transmitted_diseases"),
        (SNOMED, "76272004", "sexually_transmitted_diseases"),
        (ICD10, "O04.9", "termination_of_pregnancy"),
        (OPCS4, "Q11.2", "termination_of_pregnancy"),
        (OPCS4, "Q13.1", "ivf_treatment"),
        (ICD10, "Z31.2", "ivf_treatment"),
        (ICD10, "Z65.1", "convictions_imprisonment"),
        (ICD10, "T74.1", "abuse"),
        (ICD10, "F64.0", "gender_reassignment"),
        (OPCS4, "X15.1", "gender_reassignment"),
    ];
    let resources: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (system, code, _))| primary_condition(&format!("c{i}"), Some(system), code))
        .collect();
    // The same codes in a system they are not of are other codes.
    let mut others: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (_, code, _))| primary_condition(&format!("o{i}"), Some(LOINC), code))
        .collect();
    others.extend(resources.iter().cloned());
    let decisions = decide(&bundle(&others), &viewer("1b"), &full_consent());
    for (i, (system, code, category)) in cases.iter().enumerate() {
        assert_excluded(
            by_id(&decisions, &format!("c{i}")),
            category,
            &format!("{system} {code}"),
        );
        assert_eq!(
            by_id(&decisions, &format!("o{i}")).decision,
            Verdict::Allow,
            "{code} as LOINC"
        );
    }
    // Every codelist names where it came from.
    for cat in &policy().document().exclusions.categories {
        for list in &cat.codelists {
            assert!(
                !list.source.is_empty() && !list.licence.is_empty() && !list.version.is_empty()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Section 7.3: Diagnostics tier 2 excludes blood-borne disease status (and
// the GUM record, an Appendix 1 category): tier 3 only.

fn hepatitis_c_result(id: &str) -> Value {
    let mut r = lab_observation(id, Some(SNOMED), "50711007");
    r["code"]["text"] = json!("Hepatitis C antibody");
    r
}

#[test]
fn section_7_3_blood_borne_virus_status_is_diagnostics_tier_3_only() {
    let mut by_text = lab_observation("by-text", Some(LOINC), "13955-0");
    by_text["valueString"] = json!("HCV antibody detected");
    let mut syphilis = lab_observation("syphilis", Some(LOINC), "20507-0");
    syphilis["code"]["text"] = json!("Syphilis serology");
    let mut diagnosis = primary_condition("diagnosis", Some(ICD10), "B18.2");
    diagnosis["code"]["text"] = json!("Chronic hepatitis C");
    let record = bundle(&[
        hepatitis_c_result("by-code"),
        by_text,
        syphilis,
        lab_observation("fbc", Some(LOINC), "58410-2"),
        diagnosis,
    ]);
    for profile in PROFILES {
        let decisions = decide(&record, &viewer(profile), &full_consent());
        let tier_3 = D3_PROFILES.contains(&profile);
        for (id, category) in [
            ("by-code", "blood_borne_viruses"),
            ("by-text", "blood_borne_viruses"),
            ("syphilis", "sexually_transmitted_diseases"),
        ] {
            let d = by_id(&decisions, id);
            if tier_3 {
                assert_eq!(
                    d.decision,
                    Verdict::Allow,
                    "{profile} {id}: {:?}",
                    d.reasons
                );
            } else {
                assert!(
                    d.decision == Verdict::Withhold,
                    "{profile} {id} released below Diagnostics tier 3"
                );
                if by_id(&decisions, "fbc").decision == Verdict::Allow {
                    assert_excluded(d, category, &format!("{profile} {id}"));
                }
            }
        }
    }
    // The section is about the diagnostic record: a hepatitis C diagnosis
    // in the GP's summary is shared as diagnoses are.
    let gp = decide(&record, &viewer("1b"), &full_consent());
    assert_eq!(by_id(&gp, "diagnosis").decision, Verdict::Allow);
    let nurse = decide(&record, &viewer("7"), &full_consent());
    assert!(!by_id(&nurse, "diagnosis")
        .reasons
        .contains(&excluded("blood_borne_viruses")));
}

/// Section 6.2: the person may opt out of "specific parts" of their record.
/// An opt-out of the blood-borne virus category covers every entry carrying
/// one of its codes, wherever it is placed; only the framework's exclusion
/// (7.3) is limited to Diagnostics.
#[test]
fn a_category_opt_out_covers_its_codes_outside_the_segments_the_exclusion_is_limited_to() {
    let hepatitis = primary_condition("hep-c", Some(ICD10), "B18.2");
    let record = bundle(std::slice::from_ref(&hepatitis));
    let d = decide(&record, &viewer("1b"), &full_consent());
    assert_eq!(
        by_id(&d, "hep-c").decision,
        Verdict::Allow,
        "a hepatitis diagnosis in the summary is not a 7.3 exclusion"
    );
    let opted_out = consent(json!([
        {"id": "permit-all", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
         "actors": {"organisations": [VIEWER_ORG]}},
        {"id": "no-bbv", "kind": "deny", "recorded": "2026-11-02T09:00:00Z",
         "scope": {"categories": ["blood_borne_viruses"]}}
    ]));
    let d = decide(&record, &viewer("1b"), &opted_out);
    assert_eq!(by_id(&d, "hep-c").reasons, vec![Reason::OptedOut]);
    let d = decide(&record, &with_break_glass(viewer("6")), &opted_out);
    // Summary tier 2 is within profile 6's grant; its Community tier 2
    // placement is not.
    assert_eq!(
        by_id(&d, "hep-c").reasons,
        vec![Reason::TierNotGranted, Reason::OptedOut],
        "break glass does not override the opt-out"
    );
}

/// Table 3: Diagnostics tier 2 is "All tests (excluding sensitive
/// information GUM, HIV and AIDS)"; 7.3 opens them only through tier 3.
/// Consent to the `all_tests` line is not consent to the tier 3 lift;
/// consent to Diagnostics tier 3, or to the entry itself, is.
#[test]
fn consent_to_the_all_tests_line_does_not_open_the_tier_3_lift() {
    let hiv = lab_observation("hiv-vl", Some(READ_V2), "43W7.");
    let record = bundle(std::slice::from_ref(&hiv));
    let permit = |scope: Value| {
        consent(
            json!([{"id": "p", "kind": "permit", "recorded": "2026-11-01T09:00:00Z",
            "actors": {"organisations": [VIEWER_ORG]}, "scope": scope}]),
        )
    };
    let line = decide(
        &record,
        &viewer("1a"),
        &permit(json!({"content": ["all_tests"]})),
    );
    assert_excluded(
        by_id(&line, "hiv-vl"),
        "hiv_aids",
        "a permit of the all_tests line",
    );
    let tier2 = decide(
        &record,
        &viewer("1a"),
        &permit(json!({"segments": [{"segment": "diagnostics", "tier": 2}]})),
    );
    assert_excluded(
        by_id(&tier2, "hiv-vl"),
        "hiv_aids",
        "a permit of Diagnostics tier 2",
    );
    for scope in [
        json!({"segments": [{"segment": "diagnostics", "tier": 3}]}),
        json!({"entries": ["Observation/hiv-vl"]}),
    ] {
        let d = decide(&record, &viewer("1a"), &permit(scope.clone()));
        assert_eq!(by_id(&d, "hiv-vl").decision, Verdict::Allow, "{scope}");
    }
}
