//! Audit rules over crafted event streams: each rule fires on the stream
//! made to trip it and stays quiet on a clean one; the incremental scanner
//! and the batch scan agree; events round-trip through NDJSON and are read
//! from the edge's FHIR AuditEvents.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use tiergate_core::audit::{
    scan, Alert, AuditError, AuditEvent, RequestKind, RuleKind, Scanner, Severity,
};
use tiergate_core::Policy;

/// Tuesday 2026-11-24, 10:00 UTC, plus `minutes`.
fn at(minutes: i64) -> String {
    let t = time::macros::datetime!(2026-11-24 10:00 UTC) + time::Duration::minutes(minutes);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A clean access: a GP with a recent encounter, in hours, nothing withheld.
fn base(id: &str, minutes: i64) -> Value {
    json!({
        "id": id, "time": at(minutes), "user": "gp1", "user_surname": "Jones",
        "user_address": "1 Mill Lane, L1 1AA", "organisation": "Y001", "profile": "1b",
        "patient": "p1", "patient_surname": "Smith", "patient_address": "9 Dock Road, L2 2BB",
        "purpose": "direct-care", "kind": "read", "segments": ["summary-2"], "returned": 4,
        "policy": "sha256:x",
        "relationships": [{"kind": "encounter", "time": "2026-10-01T09:00:00Z"}]
    })
}

fn event(v: Value) -> AuditEvent {
    serde_json::from_value(v).unwrap()
}

fn with(id: &str, minutes: i64, changes: Value) -> AuditEvent {
    let mut v = base(id, minutes);
    for (k, val) in changes.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    event(v)
}

fn policy() -> Policy {
    Policy::default_policy().unwrap()
}

fn alerts(events: &[AuditEvent]) -> Vec<Alert> {
    scan(policy().audit_rules(), events).unwrap()
}

fn fired(alerts: &[Alert], kind: RuleKind) -> Vec<&Alert> {
    alerts.iter().filter(|a| a.kind == kind).collect()
}

/// A day of ordinary work: a GP reading 30 records across the day.
fn clean_stream() -> Vec<AuditEvent> {
    (0..30)
        .map(|i| {
            let mut v = base(&format!("c{i}"), i * 15);
            v["patient"] = json!(format!("p{i}"));
            event(v)
        })
        .collect()
}

#[test]
fn clean_stream_is_quiet() {
    assert_eq!(alerts(&clean_stream()), []);
}

#[test]
fn break_glass_fires_on_every_use() {
    let events = [
        with("e1", 0, json!({"break_glass": {"reason": "unconscious"}})),
        base_event("e2", 1),
        with("e3", 2, json!({"break_glass": {"reason": "unconscious"}})),
    ];
    let a = alerts(&events);
    let bg = fired(&a, RuleKind::BreakGlass);
    assert_eq!(bg.len(), 2);
    assert_eq!(bg[0].events, ["e1"]);
    assert_eq!(bg[1].events, ["e3"]);
    assert_eq!(bg[0].rule, "break-glass");
    assert_eq!(bg[0].severity, Severity::High);
    assert_eq!(bg[0].user, "gp1");
    assert_eq!(bg[0].organisation, "Y001");
    assert_eq!(bg[0].patient.as_deref(), Some("p1"));
    assert_eq!(a.len(), 2);
}

fn base_event(id: &str, minutes: i64) -> AuditEvent {
    event(base(id, minutes))
}

#[test]
fn no_relationship_fires_when_none_is_within_the_window() {
    let events = [
        // Only an encounter from two years ago.
        with(
            "old",
            0,
            json!({"relationships": [{"kind": "encounter", "time": "2024-10-01T09:00:00Z"}]}),
        ),
        // Nothing at all.
        with("none", 1, json!({"relationships": []})),
        // A relationship recorded after the access does not count.
        with(
            "later",
            2,
            json!({"relationships": [{"kind": "referral", "time": "2026-12-01T09:00:00Z"}]}),
        ),
        // Unknown (nobody looked): the default policy ignores it.
        with("unknown", 3, json!({"relationships": null})),
        // Consent recorded last month: fine.
        with(
            "consent",
            4,
            json!({"relationships": [{"kind": "consent", "time": "2026-10-20T09:00:00Z"}]}),
        ),
        // Finding a patient is not an access to their record.
        with(
            "find",
            5,
            json!({"kind": "find-patient", "relationships": []}),
        ),
    ];
    let a = alerts(&events);
    let ids: Vec<&str> = fired(&a, RuleKind::NoRelationship)
        .iter()
        .map(|a| a.events[0].as_str())
        .collect();
    assert_eq!(ids, ["old", "none", "later"]);
    assert_eq!(a.len(), 3);
}

#[test]
fn no_relationship_can_alert_when_unknown() {
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    for r in doc["audit"]["rules"].as_array_mut().unwrap() {
        if r["id"] == "no-relationship" {
            r["params"]["if_unknown"] = json!("alert");
        }
    }
    let p = Policy::from_value(doc).unwrap();
    let a = scan(
        p.audit_rules(),
        [with("u", 0, json!({"relationships": null}))],
    )
    .unwrap();
    assert_eq!(fired(&a, RuleKind::NoRelationship).len(), 1);
}

#[test]
fn same_surname_or_address_fires() {
    let events = [
        with("s", 0, json!({"patient_surname": "  JONES "})),
        with("a", 1, json!({"patient_address": "1 mill lane l1 1aa"})),
        with(
            "both",
            2,
            json!({"patient_surname": "jones", "patient_address": "1, Mill Lane, L1 1AA"}),
        ),
        // Unknown on one side: nothing to compare.
        with("unknown", 3, json!({"user_surname": null})),
        with(
            "nearly",
            4,
            json!({"patient_surname": "Jonas", "patient_address": "1 Mill Lane, L1 1AB"}),
        ),
    ];
    let a = alerts(&events);
    let hits = fired(&a, RuleKind::SameSurnameOrAddress);
    let ids: Vec<&str> = hits.iter().map(|a| a.events[0].as_str()).collect();
    assert_eq!(ids, ["s", "a", "both"]);
    // The message names what matched, never the surname or address itself.
    for h in &hits {
        assert!(!h.message.to_lowercase().contains("jones"));
        assert!(!h.message.to_lowercase().contains("mill"));
    }
    assert_eq!(a.len(), 3);
}

#[test]
fn volume_spike_against_own_baseline() {
    let mut events = Vec::new();
    // A week of ordinary use: 10 accesses an hour.
    for hour in 0..168 {
        for k in 0..10 {
            events.push(base_event(&format!("b{hour}-{k}"), hour * 60 + k * 5));
        }
    }
    let quiet = alerts(&events);
    assert_eq!(fired(&quiet, RuleKind::VolumeSpike), Vec::<&Alert>::new());
    // Then 60 in one hour: above 5 x 10 and above the minimum of 50.
    let start = 168 * 60;
    for k in 0..60 {
        events.push(base_event(&format!("s{k}"), start + k));
    }
    let a = alerts(&events);
    let spikes = fired(&a, RuleKind::VolumeSpike);
    assert_eq!(spikes.len(), 1, "one alert per window");
    // It fires at the 51st access, naming the accesses of that hour.
    assert_eq!(spikes[0].events.len(), 50);
    assert_eq!(spikes[0].events.first().unwrap(), "s0");
    assert_eq!(spikes[0].events.last().unwrap(), "s50");
    assert!(spikes[0].message.contains("51 accesses"));
}

#[test]
fn volume_spike_needs_the_minimum_and_is_per_user() {
    let mut events = Vec::new();
    // A new user with no history: 40 accesses in an hour is under the minimum.
    for k in 0..40 {
        events.push(with(&format!("n{k}"), k, json!({"user": "new"})));
    }
    // A busy user whose baseline is high: 60 an hour every hour is normal.
    for hour in 0..30 {
        for k in 0..60 {
            events.push(with(
                &format!("h{hour}-{k}"),
                60 + hour * 60 + k,
                json!({"user": "busy"}),
            ));
        }
    }
    let a = alerts(&events);
    // The busy user's first hour has no baseline and passes the minimum.
    let spikes = fired(&a, RuleKind::VolumeSpike);
    assert_eq!(spikes.len(), 1);
    assert_eq!(spikes[0].user, "busy");
    assert_eq!(spikes[0].events.last().unwrap(), "h0-49");
}

#[test]
fn out_of_hours_for_in_hours_profiles() {
    let events = [
        // Admin/clerical (5) at 10:00 on a Tuesday: in hours.
        with("in", 0, json!({"profile": "5"})),
        // 22:00 Tuesday.
        with("night", 12 * 60, json!({"profile": "5"})),
        // A GP at 22:00: not an in-hours profile.
        with("gp", 12 * 60 + 1, json!({})),
        // Wednesday: 19:00 exactly is out of hours; 18:59 is in.
        with("edge-in", 8 * 60 + 59 + 24 * 60, json!({"profile": "5"})),
        with("edge-out", 9 * 60 + 24 * 60, json!({"profile": "5"})),
        // Saturday 10:00.
        with("weekend", 4 * 24 * 60, json!({"profile": "3b"})),
    ];
    let a = alerts(&events);
    let ids: Vec<&str> = fired(&a, RuleKind::OutOfHours)
        .iter()
        .map(|a| a.events[0].as_str())
        .collect();
    assert_eq!(ids, ["night", "edge-out", "weekend"]);
    assert_eq!(a.len(), 3);
}

#[test]
fn opted_out_segment_fires() {
    let events = [
        with(
            "hit",
            0,
            json!({"segments": ["summary-2", "hospitals-1"], "opted_out": ["hospitals"]}),
        ),
        with(
            "tier",
            1,
            json!({"segments": ["community"], "opted_out": ["community-2"]}),
        ),
        with(
            "other",
            2,
            json!({"segments": ["summary-2"], "opted_out": ["hospitals"]}),
        ),
    ];
    let a = alerts(&events);
    let ids: Vec<&str> = fired(&a, RuleKind::OptedOutSegment)
        .iter()
        .map(|a| a.events[0].as_str())
        .collect();
    assert_eq!(ids, ["hit", "tier"]);
    assert_eq!(a.len(), 2);
}

#[test]
fn probing_fires_on_repeated_withheld_requests() {
    let mut events = Vec::new();
    // Four within the hour, then a gap: quiet.
    for k in 0..4 {
        events.push(with(
            &format!("q{k}"),
            k,
            json!({"withheld": {"no_consent": 2}}),
        ));
    }
    // More than an hour later, five in ten minutes (one with nothing withheld).
    for k in 0..6 {
        let withheld = if k == 2 {
            json!({})
        } else {
            json!({"excluded_category:hiv_aids": 1})
        };
        events.push(with(
            &format!("p{k}"),
            120 + k * 2,
            json!({"withheld": withheld}),
        ));
    }
    let a = alerts(&events);
    let probes = fired(&a, RuleKind::Probing);
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].events, ["p0", "p1", "p3", "p4", "p5"]);
    // No reason (withheld category) in the message.
    assert!(!probes[0].message.contains("hiv"));
    assert_eq!(a.len(), 1);
}

/// A mixed stream of many users tripping every rule now and then.
fn mixed_stream(n: usize) -> Vec<AuditEvent> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let user = format!("u{}", i % 37);
        let mut v = base(&format!("m{i}"), 0);
        v["time"] = json!(at(i64::try_from(i / 3).unwrap()));
        v["user"] = json!(user);
        v["patient"] = json!(format!("p{}", i % 101));
        if i % 97 == 0 {
            v["break_glass"] = json!({"reason": "unconscious"});
        }
        if i % 13 == 0 {
            v["withheld"] = json!({"no_consent": 1});
        }
        if i % 53 == 0 {
            v["relationships"] = json!([]);
        }
        if i % 7 == 0 {
            v["profile"] = json!("5");
        }
        if i % 89 == 0 {
            v["opted_out"] = json!(["summary"]);
        }
        if i % 71 == 0 {
            v["patient_surname"] = json!("Jones");
        }
        if (2000..2600).contains(&i) {
            v["user"] = json!("u0");
        }
        out.push(event(v));
    }
    out
}

#[test]
fn incremental_and_batch_agree() {
    let events = mixed_stream(6000);
    let p = policy();
    let batch = scan(p.audit_rules(), &events).unwrap();
    let mut scanner = Scanner::new(p.audit_rules());
    let mut incremental = Vec::new();
    for e in &events {
        // Round-trip each event through NDJSON as a live feed would.
        let line = e.to_ndjson_line().unwrap();
        let back = AuditEvent::from_ndjson_line(&line, 1).unwrap().unwrap();
        incremental.extend(scanner.feed(&back).unwrap());
    }
    assert_eq!(incremental, batch);
    for kind in RuleKind::ALL.map(|(_, k)| k) {
        assert!(!fired(&batch, kind).is_empty(), "{kind:?} never fired");
    }
}

#[test]
fn memory_is_bounded_by_the_window() {
    let p = policy();
    let mut scanner = Scanner::new(p.audit_rules());
    // 5,000 users, each active once, a minute apart: over 3 days, the
    // longest window (volume: 169 hours) keeps them all...
    for i in 0..5000i64 {
        scanner
            .feed(&with(&format!("e{i}"), i, json!({"user": format!("u{i}")})))
            .unwrap();
    }
    assert_eq!(scanner.users_tracked(), 5000);
    // ... and once the window has passed they are dropped.
    scanner
        .feed(&with("late", 5000 + 30 * 24 * 60, json!({})))
        .unwrap();
    assert_eq!(scanner.users_tracked(), 1);
}

#[test]
fn events_must_be_in_time_order() {
    let p = policy();
    let mut scanner = Scanner::new(p.audit_rules());
    scanner.feed(&base_event("a", 10)).unwrap();
    scanner.feed(&base_event("b", 10)).unwrap();
    assert_eq!(
        scanner.feed(&base_event("c", 9)),
        Err(AuditError::OutOfOrder)
    );
}

#[test]
fn malformed_lines_name_the_line_and_path_never_content() {
    let e = AuditEvent::from_ndjson_line("{\"id\": \"x\", \"secret HIV", 7).unwrap_err();
    assert!(matches!(e, AuditError::Json { line: 7, .. }));
    assert!(!e.to_string().contains("HIV"));
    let mut v = base("x", 0);
    v["kind"] = json!("peek at HIV results");
    let e = AuditEvent::from_ndjson_line(&v.to_string(), 3).unwrap_err();
    assert_eq!(e.to_string().split(':').next().unwrap(), "line 3");
    assert!(e.to_string().contains("`/kind`"), "{e}");
    assert!(!e.to_string().contains("HIV"), "{e}");
    let mut v = base("x", 0);
    v["time"] = json!("yesterday HIV");
    let e = AuditEvent::from_ndjson_line(&v.to_string(), 4).unwrap_err();
    assert!(
        e.to_string().contains("`/time`") && !e.to_string().contains("HIV"),
        "{e}"
    );
    assert_eq!(AuditEvent::from_ndjson_line("   ", 5), Ok(None));
}

/// An AuditEvent in the shape `crates/edge/src/audit.rs` writes.
fn edge_event(action: &str, break_glass: bool) -> Value {
    let mut details = vec![
        json!({"type": "request-id", "valueString": "r1"}),
        json!({"type": "policy", "valueString": "sha256:abc"}),
        json!({"type": "status", "valueString": "200"}),
        json!({"type": "entries", "valueString": "5"}),
        json!({"type": "returned", "valueString": "3"}),
        json!({"type": "withheld:excluded_category:hiv_aids", "valueString": "1"}),
        json!({"type": "withheld:no_consent", "valueString": "1"}),
    ];
    let mut purpose = vec![
        json!({"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/purpose-of-use", "code": "direct-care"}]}),
    ];
    if break_glass {
        details.push(json!({"type": "break-glass", "valueString": "true"}));
        details.push(json!({"type": "break-glass-reason", "valueString": "unconscious"}));
        details.push(json!({"type": "break-glass-detail", "valueString": "found collapsed"}));
        purpose.push(json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG"}]}));
    }
    json!({
        "resourceType": "AuditEvent", "id": "r1",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": action}],
        "action": "R", "recorded": "2026-11-25T12:00:00Z", "outcome": "0",
        "agent": [
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser"}]},
             "who": {"identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "u1"}, "display": "Dr A"},
             "requestor": true,
             "role": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/profile", "code": "6"}]}],
             "purposeOfUse": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/purpose-of-use", "code": "direct-care"}]}]},
            {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "dataprocessor"}]},
             "who": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "R9A"}},
             "requestor": false}
        ],
        "purposeOfEvent": purpose,
        "entity": [
            {"what": {"reference": "Patient/p1"}, "type": {"code": "1"}, "role": {"code": "1"}},
            {"what": {"reference": "AllergyIntolerance/a1"}, "type": {"code": "2"}, "role": {"code": "4"}},
            {"type": {"code": "tiergate-decision"}, "detail": details}
        ]
    })
}

#[test]
fn reads_the_edge_fhir_audit_event() {
    let line = edge_event("search-type", true).to_string();
    let e = AuditEvent::from_ndjson_line(&line, 1).unwrap().unwrap();
    assert_eq!(e.id, "r1");
    assert_eq!(e.user, "u1");
    assert_eq!(e.organisation, "R9A");
    assert_eq!(e.profile, "6");
    assert_eq!(e.purpose, "direct-care");
    assert_eq!(e.patient.as_deref(), Some("p1"));
    assert_eq!(e.kind, RequestKind::Search);
    assert_eq!(e.returned, 3);
    assert_eq!(e.withheld_total(), 2);
    assert_eq!(e.policy, "sha256:abc");
    assert_eq!(e.break_glass.as_ref().unwrap().reason, "unconscious");
    assert_eq!(e.relationships, None);
    // The professional's free text is not carried into the scan.
    assert!(!e.to_ndjson_line().unwrap().contains("collapsed"));

    for (action, kind) in [
        ("read", RequestKind::Read),
        ("vread", RequestKind::Read),
        ("operation", RequestKind::Everything),
        ("consent-opt-out", RequestKind::ConsentChange),
        ("login", RequestKind::Other),
    ] {
        let e = AuditEvent::from_fhir(&edge_event(action, false), 1)
            .unwrap()
            .unwrap();
        assert_eq!(e.kind, kind, "{action}");
        assert!(e.break_glass.is_none());
    }
    // Search without a patient context is finding a patient.
    let mut v = edge_event("search-type", false);
    v["entity"].as_array_mut().unwrap().remove(0);
    assert_eq!(
        AuditEvent::from_fhir(&v, 1).unwrap().unwrap().kind,
        RequestKind::FindPatient
    );
    // Unauthenticated: no user to attribute it to.
    let mut v = edge_event("read", false);
    v["agent"] = json!([{"who": {"display": "unauthenticated"}, "requestor": true}]);
    assert_eq!(AuditEvent::from_fhir(&v, 1).unwrap(), None);
    // A bad count names the path.
    let mut v = edge_event("read", false);
    v["entity"][2]["detail"][4]["valueString"] = json!("lots");
    let err = AuditEvent::from_fhir(&v, 9).unwrap_err().to_string();
    assert!(
        err.starts_with("line 9: `/entity/2/detail/4/valueString`"),
        "{err}"
    );
}

#[test]
fn fhir_relationship_and_opt_out_details() {
    let mut v = edge_event("read", false);
    let details = v["entity"][2]["detail"].as_array_mut().unwrap();
    details.push(json!({"type": "segment", "valueString": "hospitals-2"}));
    details.push(json!({"type": "opted-out", "valueString": "hospitals"}));
    details.push(json!({"type": "relationship:care-team", "valueString": "2026-11-01T00:00:00Z"}));
    let e = AuditEvent::from_fhir(&v, 1).unwrap().unwrap();
    assert_eq!(e.segments, ["hospitals-2"]);
    assert_eq!(e.opted_out, ["hospitals"]);
    assert_eq!(e.relationships.as_ref().unwrap().len(), 1);
    let a = scan(policy().audit_rules(), [e]).unwrap();
    let kinds: Vec<RuleKind> = a.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [RuleKind::OptedOutSegment]);
}
