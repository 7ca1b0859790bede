//! Reminders from the demo records as the person, or a carer, receives
//! them: upcoming appointments and weekly tasks, and their iCalendar file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use serde_json::{json, Value};
use tiergate_core::reminders::{reminders, to_ics, Reminder};
use tiergate_core::{ConsentSet, Limits, Policy, Request, Viewer};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

fn demo(rel: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data", rel]
        .iter()
        .collect();
    std::fs::read(&path).unwrap()
}

fn received(file: &str, patient: &str, scopes: Option<&[&str]>) -> Value {
    let policy = Policy::default_policy().unwrap();
    let mut v = json!({"user_id": "me", "organisation": "PATIENT", "profile": "patient",
                       "purpose": "direct-care", "training": null, "patient": patient});
    if let Some(s) = scopes {
        v["proxy_scopes"] = json!(s);
    }
    let viewer = Viewer::from_json(v.to_string().as_bytes()).unwrap();
    let consent = ConsentSet::default().compile(&policy).unwrap();
    let request = Request {
        viewer: &viewer,
        consent: &consent,
        now: NOW,
        default_setting: None,
        holding_organisation: None,
    };
    let r = policy
        .redact(&demo(file), &request, Limits::default())
        .unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

fn by_source<'a>(list: &'a [Reminder], source: &str) -> Vec<&'a Reminder> {
    list.iter().filter(|r| r.source == source).collect()
}

#[test]
fn joe_gets_his_review_and_a_weekly_blood_pressure_check() {
    let list = reminders(&received("joe.json", "joe-patient", None), NOW);
    let appt = by_source(&list, "Appointment/joe-appt");
    assert_eq!(appt.len(), 1);
    assert_eq!(appt[0].start, "2026-12-03T10:20:00Z");
    assert_eq!(appt[0].summary, "COPD review");
    let bp = by_source(&list, "CarePlan/joe-self-care");
    assert_eq!(bp.len(), 1);
    assert_eq!(bp[0].summary, "Check your blood pressure");
    assert_eq!(bp[0].next, "2026-11-30T08:30:00Z");
    assert_eq!(
        bp[0].rrule.as_deref(),
        Some("FREQ=WEEKLY;INTERVAL=1;UNTIL=20270531T235959Z")
    );
    // Soonest first.
    let nexts: Vec<&str> = list.iter().map(|r| r.next.as_str()).collect();
    let mut sorted = nexts.clone();
    sorted.sort_unstable();
    assert_eq!(nexts, sorted);
}

#[test]
fn susan_gets_her_visit_mood_chart_and_three_monthly_blood_test() {
    let list = reminders(&received("susan.json", "susan-patient", None), NOW);
    assert_eq!(by_source(&list, "Appointment/susan-appt").len(), 1);
    let tasks = by_source(&list, "CarePlan/susan-lithium-monitoring");
    let rules: Vec<&str> = tasks.iter().filter_map(|t| t.rrule.as_deref()).collect();
    assert!(rules.contains(&"FREQ=MONTHLY;INTERVAL=3"));
    assert!(rules.contains(&"FREQ=WEEKLY;INTERVAL=1"));
}

#[test]
fn a_parent_with_the_appointments_grant_gets_lilys_reminders() {
    let record = received(
        "lily.json",
        "lily-patient",
        Some(&["appointments", "booking"]),
    );
    let list = reminders(&record, NOW);
    let sources: Vec<&str> = list.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            "CarePlan/lily-asthma-plan",
            "CarePlan/lily-asthma-plan",
            "Appointment/lily-appt-immunisation",
            "Appointment/lily-appt-asthma-review"
        ]
    );
    let jab = &list[2];
    assert_eq!(jab.summary, "Pre-school booster immunisations");
    assert_eq!(
        jab.location.as_deref(),
        Some("Treatment room, Allerton Road Surgery")
    );
    let ics = to_ics(&list, NOW, "Lily's reminders");
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 4);
    assert!(ics.contains("UID:appointment-lily-appt-immunisation@tiergate.example\r\n"));
    assert!(ics.contains("RRULE:FREQ=DAILY;INTERVAL=1\r\n"));
    assert!(ics.contains("LOCATION:Treatment room\\, Allerton Road Surgery\r\n"));
    // The same record gives the same file (stable UIDs, DTSTAMP from `now`).
    assert_eq!(
        ics,
        to_ics(&reminders(&record, NOW), NOW, "Lily's reminders")
    );
}

#[test]
fn a_carer_without_a_grant_for_appointments_gets_none() {
    let record = received("joe.json", "joe-patient", Some(&["booking"]));
    assert!(reminders(&record, NOW).is_empty());
}
