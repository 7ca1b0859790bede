//! Reminders for the person and their carers (issue 7): upcoming
//! appointments and repeating care plan tasks, and an iCalendar (RFC 5545)
//! file of them.
//!
//! Reminders are read from the record as the viewer received it, so a
//! carer whose grant covers appointments gets exactly those.
//!
//! * An Appointment with status `booked`, `proposed` or `pending` whose
//!   start is after `now` is an event (`start`, `end` or
//!   `minutesDuration`, `serviceType`, `description`, a Location
//!   participant), with an alarm the day before.
//! * An activity of an active CarePlan whose `detail.scheduledTiming.repeat`
//!   has `frequency` 1, an integer `period` and a `periodUnit` of `h`, `d`,
//!   `wk`, `mo` or `a` is a repeating task (`RRULE`), from
//!   `boundsPeriod.start` (at the first `timeOfDay`, else 09:00, read as
//!   UTC) until `boundsPeriod.end`, with an alarm an hour before. Anything
//!   else (several times a period, no start) gives no reminder rather than
//!   a wrong one.
//!
//! ```
//! use tiergate_core::reminders::{reminders, to_ics};
//! let record = serde_json::json!({"resourceType": "Appointment", "id": "a1",
//!     "status": "booked", "description": "Asthma review",
//!     "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:20:00Z"});
//! let now = time::macros::datetime!(2026-11-25 12:00 UTC);
//! let list = reminders(&record, now);
//! assert_eq!(list[0].summary, "Asthma review");
//! let ics = to_ics(&list, now, "My reminders");
//! assert!(ics.contains("DTSTART:20261201T100000Z\r\n"));
//! ```

use serde::Serialize;
use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset};

use crate::fhirtime::{self, Edge};

/// The domain of reminder UIDs.
const UID_DOMAIN: &str = "tiergate.example";
/// Longest text carried from a record into a reminder, in characters.
const MAX_TEXT: usize = 1000;

/// One upcoming appointment or repeating task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// Stable: derived from the resource (and activity) it comes from.
    pub uid: String,
    /// `appointment` or `task`.
    pub kind: &'static str,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// When the event (or the series) starts, RFC 3339 in UTC.
    pub start: String,
    /// When it ends, RFC 3339 in UTC; otherwise `duration` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// ISO 8601 duration (`PT15M`) when there is no `end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// RFC 5545 recurrence rule for a repeating task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    /// The next occurrence at or after `now`, RFC 3339 in UTC.
    pub next: String,
    /// Alarm trigger, an RFC 5545 duration before the start (`-P1D`).
    pub alarm: String,
    /// `Appointment/id` or `CarePlan/id`.
    pub source: String,
}

fn text(v: Option<&Value>) -> Option<String> {
    let s = v.and_then(Value::as_str)?;
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_TEXT)
        .collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// `text`, else the first coding's `display`, of a CodeableConcept.
fn concept_text(c: Option<&Value>) -> Option<String> {
    let c = c?;
    text(c.get("text")).or_else(|| {
        c.get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|x| text(x.get("display")))
    })
}

fn utc(t: OffsetDateTime) -> String {
    fhirtime::format(t)
}

fn uid_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

/// The resources of a record: a Bundle's entries, or the record itself.
pub(crate) fn resources(record: &Value) -> Vec<&Value> {
    if record.get("resourceType").and_then(Value::as_str) == Some("Bundle") {
        record
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("resource"))
            .collect()
    } else {
        vec![record]
    }
}

/// Upcoming appointments and repeating tasks in `record` (a resource or a
/// Bundle), soonest first.
pub fn reminders(record: &Value, now: OffsetDateTime) -> Vec<Reminder> {
    let mut out = Vec::new();
    for res in resources(record) {
        match res.get("resourceType").and_then(Value::as_str) {
            Some("Appointment") => out.extend(appointment(res, now)),
            Some("CarePlan") => out.extend(care_plan_tasks(res, now)),
            _ => {}
        }
    }
    out.sort_by(|a, b| a.next.cmp(&b.next).then_with(|| a.uid.cmp(&b.uid)));
    out
}

fn appointment(res: &Value, now: OffsetDateTime) -> Option<Reminder> {
    let id = res.get("id").and_then(Value::as_str)?;
    let status = res.get("status").and_then(Value::as_str)?;
    if !matches!(status, "booked" | "proposed" | "pending") {
        return None;
    }
    let start = res
        .get("start")
        .and_then(Value::as_str)
        .filter(|s| s.len() > 10)
        .and_then(|s| fhirtime::parse(s, Edge::Start))?;
    if start <= now {
        return None;
    }
    let end = res
        .get("end")
        .and_then(Value::as_str)
        .filter(|s| s.len() > 10)
        .and_then(|s| fhirtime::parse(s, Edge::Start))
        .filter(|e| *e > start);
    let minutes = res
        .get("minutesDuration")
        .and_then(Value::as_u64)
        .filter(|m| (1..=24 * 60).contains(m));
    let service = res
        .get("serviceType")
        .and_then(Value::as_array)
        .and_then(|s| s.first());
    let description = text(res.get("description"));
    let summary = concept_text(service)
        .or_else(|| description.clone())
        .unwrap_or_else(|| "Appointment".to_owned());
    let location = res
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("actor"))
        .find(|a| {
            a.get("reference")
                .and_then(Value::as_str)
                .is_some_and(|r| r.starts_with("Location/") || r.contains("/Location/"))
        })
        .and_then(|a| text(a.get("display")));
    Some(Reminder {
        uid: format!("appointment-{}@{UID_DOMAIN}", uid_part(id)),
        kind: "appointment",
        summary,
        description: description.filter(|_| service.is_some()),
        location,
        start: utc(start),
        end: end.map(utc),
        duration: match (end, minutes) {
            (None, Some(m)) => Some(format!("PT{m}M")),
            (None, None) => Some("PT30M".to_owned()),
            _ => None,
        },
        rrule: None,
        next: utc(start),
        alarm: "-P1D".to_owned(),
        source: format!("Appointment/{id}"),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "h" => Unit::Hour,
            "d" => Unit::Day,
            "wk" => Unit::Week,
            "mo" => Unit::Month,
            "a" => Unit::Year,
            _ => return None,
        })
    }

    fn freq(self) -> &'static str {
        match self {
            Unit::Hour => "HOURLY",
            Unit::Day => "DAILY",
            Unit::Week => "WEEKLY",
            Unit::Month => "MONTHLY",
            Unit::Year => "YEARLY",
        }
    }
}

/// `start` moved on by `n` periods of `interval` units; `None` where the
/// date does not exist (the 31st of a short month: RFC 5545 skips it).
fn step(start: OffsetDateTime, unit: Unit, interval: u32, n: u32) -> Option<OffsetDateTime> {
    let k = i64::from(interval).checked_mul(i64::from(n))?;
    match unit {
        Unit::Hour => start.checked_add(Duration::hours(k)),
        Unit::Day => start.checked_add(Duration::days(k)),
        Unit::Week => start.checked_add(Duration::weeks(k)),
        Unit::Month | Unit::Year => {
            let months = if unit == Unit::Year {
                k.checked_mul(12)?
            } else {
                k
            };
            let d = start.date();
            let total = i64::from(d.year())
                .checked_mul(12)?
                .checked_add(i64::from(u8::from(d.month())) - 1)?
                .checked_add(months)?;
            let year = i32::try_from(total.div_euclid(12)).ok()?;
            let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
            let date = Date::from_calendar_date(year, month, d.day()).ok()?;
            Some(date.with_time(start.time()).assume_utc())
        }
    }
}

/// The first occurrence at or after `now`, before `until`.
fn next_occurrence(
    start: OffsetDateTime,
    unit: Unit,
    interval: u32,
    now: OffsetDateTime,
    until: Option<OffsetDateTime>,
) -> Option<OffsetDateTime> {
    let first_n = if start >= now {
        0
    } else {
        // Fixed-length units: jump straight there; calendar units: from a
        // little before (months vary in length).
        let span = match unit {
            Unit::Hour => Duration::hours(1),
            Unit::Day => Duration::days(1),
            Unit::Week => Duration::weeks(1),
            Unit::Month => Duration::days(31),
            Unit::Year => Duration::days(366),
        } * interval;
        let whole = (now - start).whole_seconds() / span.whole_seconds().max(1);
        u32::try_from(whole).ok()?.saturating_sub(1)
    };
    (first_n..first_n.saturating_add(64))
        .filter_map(|n| step(start, unit, interval, n))
        .find(|t| *t >= now)
        .filter(|t| until.is_none_or(|u| *t <= u))
}

fn care_plan_tasks(res: &Value, now: OffsetDateTime) -> Vec<Reminder> {
    let mut out = Vec::new();
    let Some(id) = res.get("id").and_then(Value::as_str) else {
        return out;
    };
    if res.get("status").and_then(Value::as_str) != Some("active") {
        return out;
    }
    let plan_title = text(res.get("title"));
    for (i, activity) in res
        .get("activity")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(detail) = activity.get("detail") else {
            continue;
        };
        if matches!(
            detail.get("status").and_then(Value::as_str),
            Some("completed" | "cancelled" | "stopped" | "entered-in-error")
        ) {
            continue;
        }
        if let Some(r) = task(id, i, detail, plan_title.as_deref(), now) {
            out.push(r);
        }
    }
    out
}

fn task(
    plan_id: &str,
    index: usize,
    detail: &Value,
    plan_title: Option<&str>,
    now: OffsetDateTime,
) -> Option<Reminder> {
    let repeat = detail.get("scheduledTiming")?.get("repeat")?;
    if repeat.get("frequency").and_then(Value::as_u64).unwrap_or(1) != 1 {
        return None;
    }
    let interval = u32::try_from(repeat.get("period").and_then(Value::as_u64)?)
        .ok()
        .filter(|p| (1..=1000).contains(p))?;
    let unit = Unit::parse(repeat.get("periodUnit").and_then(Value::as_str)?)?;
    let bounds = repeat.get("boundsPeriod");
    let start_date = bounds
        .and_then(|b| b.get("start"))
        .and_then(Value::as_str)?;
    let time_of_day = repeat
        .get("timeOfDay")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(Value::as_str)
        .and_then(parse_time)
        .unwrap_or(Time::from_hms(9, 0, 0).ok()?);
    let start = if start_date.len() > 10 {
        fhirtime::parse(start_date, Edge::Start)?.to_offset(UtcOffset::UTC)
    } else {
        fhirtime::parse(start_date, Edge::Start)?
            .date()
            .with_time(time_of_day)
            .assume_utc()
    };
    let until = bounds
        .and_then(|b| b.get("end"))
        .and_then(Value::as_str)
        .and_then(|e| fhirtime::parse(e, Edge::End));
    let next = next_occurrence(start, unit, interval, now, until)?;
    let minutes = match (
        repeat.get("duration").and_then(Value::as_u64),
        repeat.get("durationUnit").and_then(Value::as_str),
    ) {
        (Some(d), Some("min")) if (1..=1440).contains(&d) => d,
        (Some(d), Some("h")) if (1..=24).contains(&d) => d * 60,
        _ => 15,
    };
    let summary = concept_text(detail.get("code"))
        .or_else(|| text(detail.get("description")))
        .unwrap_or_else(|| "Care plan task".to_owned());
    let description = text(detail.get("description"))
        .filter(|d| *d != summary)
        .or_else(|| plan_title.map(|t| format!("From your care plan: {t}")));
    let mut rrule = format!("FREQ={};INTERVAL={interval}", unit.freq());
    if let Some(u) = until {
        // UNTIL is inclusive: the last moment of the bounds.
        let last = u - Duration::seconds(1);
        rrule.push_str(";UNTIL=");
        rrule.push_str(&ics_time(last));
    }
    Some(Reminder {
        uid: format!(
            "careplan-{}-activity-{}@{UID_DOMAIN}",
            uid_part(plan_id),
            index + 1
        ),
        kind: "task",
        summary,
        description,
        location: None,
        start: utc(start),
        end: None,
        duration: Some(format!("PT{minutes}M")),
        rrule: Some(rrule),
        next: utc(next),
        alarm: "-PT1H".to_owned(),
        source: format!("CarePlan/{plan_id}"),
    })
}

fn parse_time(s: &str) -> Option<Time> {
    let mut parts = s.split(':');
    let h: u8 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let sec: u8 = parts.next().unwrap_or("0").parse().ok()?;
    Time::from_hms(h, m, sec).ok()
}

/// `20261203T102000Z`.
fn ics_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn ics_time_str(rfc3339: &str) -> Option<String> {
    fhirtime::parse(rfc3339, Edge::Start).map(ics_time)
}

/// Escapes an RFC 5545 TEXT value: `\`, `;`, `,` and newlines; other
/// control characters are dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets without splitting a
/// UTF-8 character, ended with CRLF.
pub fn push_folded(out: &mut String, line: &str) {
    let mut budget = 75;
    let mut used = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if used + len > budget {
            out.push_str("\r\n ");
            // The leading space counts towards the 75 octets.
            budget = 74;
            used = 0;
        }
        out.push(c);
        used += len;
    }
    out.push_str("\r\n");
}

/// An iCalendar (RFC 5545) file of the reminders: one VEVENT each, with
/// a stable UID, DTSTAMP `now`, UTC times, an RRULE for repeating tasks and
/// a DISPLAY alarm.
pub fn to_ics(reminders: &[Reminder], now: OffsetDateTime, calendar_name: &str) -> String {
    let mut out = String::new();
    let mut line = |s: &str| push_folded(&mut out, s);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//tiergate//Patient portal reminders//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    let name: String = calendar_name.chars().take(200).collect();
    line(&format!("X-WR-CALNAME:{}", escape_text(&name)));
    let stamp = ics_time(now);
    for r in reminders {
        let Some(start) = ics_time_str(&r.start) else {
            continue;
        };
        line("BEGIN:VEVENT");
        line(&format!("UID:{}", r.uid));
        line(&format!("DTSTAMP:{stamp}"));
        line(&format!("DTSTART:{start}"));
        match (r.end.as_deref().and_then(ics_time_str), &r.duration) {
            (Some(end), _) => line(&format!("DTEND:{end}")),
            (None, Some(d)) => line(&format!("DURATION:{d}")),
            (None, None) => line("DURATION:PT30M"),
        }
        if let Some(rule) = &r.rrule {
            line(&format!("RRULE:{rule}"));
        }
        line(&format!("SUMMARY:{}", escape_text(&r.summary)));
        if let Some(d) = &r.description {
            line(&format!("DESCRIPTION:{}", escape_text(d)));
        }
        if let Some(l) = &r.location {
            line(&format!("LOCATION:{}", escape_text(l)));
        }
        line("BEGIN:VALARM");
        line("ACTION:DISPLAY");
        line(&format!(
            "DESCRIPTION:{}",
            escape_text(&format!("Reminder: {}", r.summary))
        ));
        line(&format!("TRIGGER:{}", r.alarm));
        line("END:VALARM");
        line("END:VEVENT");
    }
    line("END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn escapes_text() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\u{7}f"),
            "a\\\\b\\;c\\,d\\ne".to_owned() + "f"
        );
    }

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));
        push_folded(&mut out, &long);
        assert!(out.ends_with("\r\n"));
        for l in out.trim_end_matches("\r\n").split("\r\n") {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let lines: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 1);
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        // Unfolding gives the line back.
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);

        let mut short = String::new();
        push_folded(&mut short, &"x".repeat(75));
        assert_eq!(short.matches("\r\n").count(), 1);
        let mut over = String::new();
        push_folded(&mut over, &"x".repeat(76));
        assert_eq!(over, format!("{}\r\n x\r\n", "x".repeat(75)));
    }

    fn bundle(resources: Value) -> Value {
        let entries: Vec<Value> = resources
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!({"resource": r}))
            .collect();
        json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})
    }

    #[test]
    fn upcoming_appointments_only() {
        let record = bundle(json!([
            {"resourceType": "Appointment", "id": "past", "status": "booked",
             "start": "2026-11-20T10:00:00Z"},
            {"resourceType": "Appointment", "id": "cancelled", "status": "cancelled",
             "start": "2026-12-20T10:00:00Z"},
            {"resourceType": "Appointment", "id": "later", "status": "pending",
             "serviceType": [{"coding": [{"display": "Diabetes review"}]}],
             "description": "Bring your meter", "minutesDuration": 20,
             "start": "2026-12-20T10:00:00Z"},
            {"resourceType": "Appointment", "id": "soon", "status": "booked",
             "start": "2026-11-26T09:00:00+00:00", "end": "2026-11-26T09:15:00Z",
             "participant": [{"actor": {"reference": "Location/l1", "display": "Room 3, Marine Drive Surgery"}}]}
        ]));
        let r = reminders(&record, NOW);
        let ids: Vec<&str> = r.iter().map(|x| x.source.as_str()).collect();
        assert_eq!(ids, ["Appointment/soon", "Appointment/later"]);
        assert_eq!(
            r[0].location.as_deref(),
            Some("Room 3, Marine Drive Surgery")
        );
        assert_eq!(r[0].end.as_deref(), Some("2026-11-26T09:15:00Z"));
        assert_eq!(r[1].summary, "Diabetes review");
        assert_eq!(r[1].description.as_deref(), Some("Bring your meter"));
        assert_eq!(r[1].duration.as_deref(), Some("PT20M"));
        assert_eq!(r[1].uid, "appointment-later@tiergate.example");
    }

    #[test]
    fn weekly_tasks_become_rrules_with_the_next_occurrence() {
        let record = json!({"resourceType": "CarePlan", "id": "cp", "status": "active",
            "title": "Blood pressure", "activity": [
            {"detail": {"status": "in-progress", "description": "Check your blood pressure",
              "scheduledTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk",
                "timeOfDay": ["08:30:00"],
                "boundsPeriod": {"start": "2026-11-02", "end": "2027-05-31"}}}}},
            {"detail": {"status": "in-progress", "description": "Twice a day",
              "scheduledTiming": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d",
                "boundsPeriod": {"start": "2026-11-02"}}}}},
            {"detail": {"status": "completed", "description": "Done",
              "scheduledTiming": {"repeat": {"period": 1, "periodUnit": "d",
                "boundsPeriod": {"start": "2026-11-02"}}}}},
            {"detail": {"status": "scheduled", "description": "Lithium blood test",
              "scheduledTiming": {"repeat": {"period": 3, "periodUnit": "mo",
                "boundsPeriod": {"start": "2026-09-15"}}}}}
        ]});
        let r = reminders(&record, NOW);
        assert_eq!(r.len(), 2);
        let bp = &r[0];
        assert_eq!(bp.summary, "Check your blood pressure");
        assert_eq!(bp.start, "2026-11-02T08:30:00Z");
        // Mondays: 2 Nov, ..., 23 Nov, then 30 Nov after `now` (25 Nov).
        assert_eq!(bp.next, "2026-11-30T08:30:00Z");
        assert_eq!(
            bp.rrule.as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=1;UNTIL=20270531T235959Z")
        );
        assert_eq!(bp.uid, "careplan-cp-activity-1@tiergate.example");
        let lithium = &r[1];
        assert_eq!(lithium.next, "2026-12-15T09:00:00Z");
        assert_eq!(lithium.rrule.as_deref(), Some("FREQ=MONTHLY;INTERVAL=3"));
    }

    #[test]
    fn a_series_that_ended_gives_no_reminder() {
        let record = json!({"resourceType": "CarePlan", "id": "cp", "status": "active",
            "activity": [{"detail": {"description": "Old",
              "scheduledTiming": {"repeat": {"period": 1, "periodUnit": "wk",
                "boundsPeriod": {"start": "2026-01-01", "end": "2026-06-30"}}}}}]});
        assert!(reminders(&record, NOW).is_empty());
    }

    #[test]
    fn ics_has_the_rfc_5545_shape() {
        let record = bundle(json!([
            {"resourceType": "Appointment", "id": "a1", "status": "booked",
             "description": "Review; bring list, please\\thanks",
             "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:20:00Z"},
            {"resourceType": "CarePlan", "id": "cp", "status": "active", "activity": [
             {"detail": {"description": "Check your blood pressure",
              "scheduledTiming": {"repeat": {"period": 1, "periodUnit": "wk",
                "boundsPeriod": {"start": "2026-11-02"}}}}}]}
        ]));
        let ics = to_ics(&reminders(&record, NOW), NOW, "Joe's reminders");
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'));
        assert_eq!(ics.matches("BEGIN:VEVENT").count(), 2);
        assert_eq!(ics.matches("BEGIN:VALARM").count(), 2);
        assert!(ics.contains("SUMMARY:Review\\; bring list\\, please\\\\thanks\r\n"));
        assert!(ics.contains("DTSTAMP:20261125T120000Z\r\n"));
        assert!(ics.contains("DTEND:20261201T102000Z\r\n"));
        assert!(ics.contains("RRULE:FREQ=WEEKLY;INTERVAL=1\r\n"));
        assert!(ics.contains("TRIGGER:-P1D\r\n"));
        assert!(ics.contains("TRIGGER:-PT1H\r\n"));
        assert!(ics.contains("X-WR-CALNAME:Joe's reminders\r\n"));
    }
}
