//! Properties of the decision rules over generated viewers, consents and
//! records: a higher tier never sees less, an opt-out never widens, break
//! glass never lifts an exclusion, exclusions hold for every profile, and
//! redacting twice changes nothing.
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
use tiergate_core::{ConsentSet, Limits, Policy, Request, Verdict, Viewer};
use time::macros::datetime;

const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const HINT: &str = "https://fhir.tiergate.example/CodeSystem/content-hint";
const SEGMENTS: [&str; 4] = ["summary", "community", "diagnostics", "hospitals"];
const EXCLUDED: [&str; 5] = ["A788.", "43W7.", "9U1..", "L0500", "ZV26."];

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

/// An entry of one of many kinds, settings and codes.
fn entry() -> impl Strategy<Value = Value> {
    let kinds = prop::sample::select(vec![
        ("Condition", "primary_care", None),
        ("Condition", "community", None),
        ("AllergyIntolerance", "primary_care", None),
        ("MedicationStatement", "primary_care", None),
        ("Observation", "diagnostics", Some("laboratory")),
        ("Observation", "primary_care", None),
        ("CarePlan", "social_care", None),
        ("CarePlan", "hospital", None),
        ("Encounter", "hospital", None),
        ("DocumentReference", "mental_health", None),
        ("Appointment", "community", None),
        ("Patient", "primary_care", None),
        ("Condition", "mental_health", Some("significant-event")),
    ]);
    (kinds, prop::option::of(prop::sample::select(EXCLUDED.to_vec())), 0u32..1000).prop_map(|((rtype, setting, extra), code, n)| {
        let mut r = json!({"resourceType": rtype, "id": format!("e{n}"), "status": "final",
                           "meta": {"tag": [{"system": SETTING, "code": setting}]}});
        match extra {
            Some("laboratory") => r["category"] = json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]),
            Some(hint) => r["meta"]["tag"].as_array_mut().unwrap().push(json!({"system": HINT, "code": hint})),
            None => {}
        }
        if let Some(code) = code {
            r["code"] = json!({"coding": [{"system": "http://read.info/readv2", "code": code}]});
        }
        r
    })
}

fn record() -> impl Strategy<Value = Value> {
    prop::collection::vec(entry(), 1..12).prop_map(|entries| {
        // Ids must be unique within the document.
        let mut seen = BTreeSet::new();
        let entries: Vec<Value> = entries
            .into_iter()
            .filter(|e| seen.insert(format!("{}/{}", e["resourceType"], e["id"])))
            .map(|r| json!({"resource": r}))
            .collect();
        json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
    })
}

/// A directive: permit or deny, scoped to nothing, a segment, or a segment tier.
fn directive() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::option::of((
            prop::sample::select(SEGMENTS.to_vec()),
            prop::option::of(1u8..=3),
        )),
    )
        .prop_map(|(permit, scope)| {
            let scope = match scope {
                None => json!({}),
                Some((s, None)) => json!({"segments": [{"segment": s}]}),
                Some((s, Some(t))) => json!({"segments": [{"segment": s, "tier": t}]}),
            };
            json!({"kind": if permit { "permit" } else { "deny" }, "scope": scope})
        })
}

fn consent(directives: &[Value]) -> ConsentSet {
    let list: Vec<Value> = directives
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut d = d.clone();
            d["id"] = json!(format!("d{i}"));
            d["recorded"] = json!(format!("2026-01-{:02}T00:00:00Z", i + 1));
            d
        })
        .collect();
    ConsentSet::from_value(&json!({"directives": list}), policy()).unwrap()
}

/// A profile made up for the test: a grant per segment, 0 for none.
fn policy_with(grants: [u8; 4]) -> Policy {
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    let access: serde_json::Map<String, Value> = SEGMENTS
        .iter()
        .zip(grants)
        .map(|(s, g)| (s.to_string(), if g == 0 { json!("X") } else { json!(g) }))
        .collect();
    doc["profiles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "t", "group": "test", "name": "test", "access": access}));
    Policy::from_value(doc).unwrap()
}

fn allowed(
    p: &Policy,
    record: &Value,
    profile: &str,
    consent: &ConsentSet,
    break_glass: bool,
) -> BTreeSet<usize> {
    let mut v = json!({"user_id": "u", "organisation": "RVY", "profile": profile, "purpose": "direct-care",
                       "training": {"expires": "2027-01-01"}});
    if break_glass {
        v["break_glass"] = json!({"reason": "unconscious", "started": "2026-11-25T11:00:00Z"});
    }
    let viewer = Viewer::from_json(v.to_string().as_bytes()).unwrap();
    let compiled = consent.compile(p).unwrap();
    let request = Request {
        viewer: &viewer,
        consent: &compiled,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    p.decide(record, &request)
        .unwrap()
        .entries
        .iter()
        .filter(|d| d.decision == Verdict::Allow)
        .map(|d| d.index)
        .collect()
}

fn excluded_entries(record: &Value) -> BTreeSet<usize> {
    record["entry"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, e)| e["resource"]["code"]["coding"][0]["code"].is_string())
        .map(|(i, _)| i)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn a_higher_tier_never_sees_less(
        record in record(),
        directives in prop::collection::vec(directive(), 0..4),
        low in prop::array::uniform4(0u8..=3),
        raise in prop::array::uniform4(0u8..=3),
    ) {
        let high: [u8; 4] = std::array::from_fn(|i| (low[i] + raise[i]).min(3));
        let consent = consent(&directives);
        let lo = allowed(&policy_with(low), &record, "t", &consent, false);
        let hi = allowed(&policy_with(high), &record, "t", &consent, false);
        prop_assert!(lo.is_subset(&hi), "{low:?} saw {lo:?}, {high:?} saw {hi:?}");
    }

    #[test]
    fn an_opt_out_never_widens(
        record in record(),
        directives in prop::collection::vec(directive(), 0..4),
        opt_out in directive(),
        profile in prop::sample::select(vec!["1a", "1b", "2b", "3b", "5", "6", "7"]),
        break_glass in any::<bool>(),
    ) {
        let mut deny = opt_out;
        deny["kind"] = json!("deny");
        let before = allowed(policy(), &record, profile, &consent(&directives), break_glass);
        let mut with = directives.clone();
        with.push(deny);
        let after = allowed(policy(), &record, profile, &consent(&with), break_glass);
        prop_assert!(after.is_subset(&before));
    }

    #[test]
    fn break_glass_never_lifts_an_exclusion_and_exclusions_hold_for_every_profile(
        record in record(),
        profile in prop::sample::select(vec!["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"]),
        directives in prop::collection::vec(directive(), 0..3),
    ) {
        let excluded = excluded_entries(&record);
        // Break glass with no consent: nothing excluded, whatever the profile.
        let bg = allowed(policy(), &record, profile, &ConsentSet::default(), true);
        prop_assert!(bg.is_disjoint(&excluded));
        // With consent, an excluded entry is shared only through the
        // Diagnostics tier 3 lift: a lab result, to a D3 profile.
        let seen = allowed(policy(), &record, profile, &consent(&directives), false);
        for i in seen.intersection(&excluded) {
            let r = &record["entry"][*i]["resource"];
            prop_assert!(["1a", "1b", "1c", "6"].contains(&profile), "{profile} saw excluded entry {i}");
            prop_assert_eq!(&r["resourceType"], "Observation");
        }
    }

    #[test]
    fn redacting_twice_changes_nothing(
        record in record(),
        directives in prop::collection::vec(directive(), 0..3),
        profile in prop::sample::select(vec!["1a", "1b", "2b", "3b", "5", "6", "7"]),
    ) {
        let viewer = Viewer::from_json(json!({"user_id": "u", "organisation": "RVY", "profile": profile,
            "purpose": "direct-care", "training": {"expires": "2027-01-01"}}).to_string().as_bytes()).unwrap();
        let compiled = consent(&directives).compile(policy()).unwrap();
        let request = Request { viewer: &viewer, consent: &compiled, now: datetime!(2026-11-25 12:00 UTC), default_setting: None, holding_organisation: None };
        let once = policy().redact(record.to_string().as_bytes(), &request, Limits::default()).unwrap();
        let twice = policy().redact(&once.body, &request, Limits::default()).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&once.body), String::from_utf8_lossy(&twice.body));
    }
}
