//! Moving the demo in time: every date in it, by whole days.
//!
//! The data files are written as they stood at [`crate::ANCHOR`]. A demo
//! that starts later shows them moved forward by the whole days since, so
//! Joe's appointment is still next week and his admission still this week.
//! Times of day, offsets and precision stay as written; birth dates move
//! too, so everyone keeps their age.

use serde_json::Value;
use time::{Date, Duration, Month, OffsetDateTime};

/// Whole days from `anchor` to `now`, rounded down: the data then stand as
/// they did at the anchor plus less than one day, so nothing that was in
/// the past at the anchor is in the future now.
pub fn days_since(anchor: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let seconds = (now - anchor).whole_seconds();
    seconds.div_euclid(86_400)
}

/// Moves every date in `value` by `days`: string values that are a FHIR
/// `date`, `dateTime` or `instant` (from month precision), and dates written
/// into text ("November 2026", "assessed 2025-10").
pub fn shift_value(value: &mut Value, days: i64) {
    if days == 0 {
        return;
    }
    match value {
        Value::String(s) => {
            if let Some(moved) = shift_str(s, days) {
                *s = moved;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_value(v, days)),
        Value::Object(map) => map.values_mut().for_each(|v| shift_value(v, days)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `s` with its dates moved, or `None` when it holds none.
pub fn shift_str(s: &str, days: i64) -> Option<String> {
    if let Some(moved) = whole_value(s, days) {
        return Some(moved);
    }
    in_text(s, days)
}

/// A string that is entirely a FHIR date or date-time from month precision.
fn whole_value(s: &str, days: i64) -> Option<String> {
    let b = s.as_bytes();
    match b.len() {
        7 => {
            let (y, m) = year_month(b)?;
            let (y, m, _) = moved(y, m, 15, days)?;
            Some(format!("{y:04}-{:02}", u8::from(m)))
        }
        10 => {
            let (y, m, d) = full_date(b)?;
            let (y, m, d) = moved(y, m, d, days)?;
            Some(format!("{y:04}-{:02}-{d:02}", u8::from(m)))
        }
        n if n > 10 => {
            let (date, rest) = s.split_at(10);
            let rest_ok = rest.starts_with('T')
                && rest
                    .bytes()
                    .skip(1)
                    .all(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'+' | b'-'));
            if !rest_ok {
                return None;
            }
            let (y, m, d) = full_date(date.as_bytes())?;
            let (y, m, d) = moved(y, m, d, days)?;
            Some(format!("{y:04}-{:02}-{d:02}{rest}", u8::from(m)))
        }
        _ => None,
    }
}

const MONTHS: [(&str, Month); 12] = [
    ("January", Month::January),
    ("February", Month::February),
    ("March", Month::March),
    ("April", Month::April),
    ("May", Month::May),
    ("June", Month::June),
    ("July", Month::July),
    ("August", Month::August),
    ("September", Month::September),
    ("October", Month::October),
    ("November", Month::November),
    ("December", Month::December),
];

/// Dates inside free text: "November 2026" (month name and year),
/// "2025-10" and "2025-10-03" standing as words. Years outside 1900-2099
/// are left alone, so "Mental Health Act 1983" keeps its year (it has no
/// month before it) and codes are not mistaken for dates.
fn in_text(s: &str, days: i64) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut rest = s;
    while !rest.is_empty() {
        let at_word_start = out
            .chars()
            .last()
            .is_none_or(|c| !c.is_alphanumeric() && c != '-');
        if at_word_start {
            if let Some((text, used)) =
                month_name_year(rest, days).or_else(|| iso_in_text(rest, days))
            {
                out.push_str(&text);
                rest = rest.get(used..).unwrap_or_default();
                changed = true;
                continue;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    changed.then_some(out)
}

/// "November 2026" at the start of `s`, moved; with the bytes it used.
fn month_name_year(s: &str, days: i64) -> Option<(String, usize)> {
    let (name, month) = MONTHS.iter().find(|(name, _)| s.starts_with(name))?;
    let after = s.get(name.len()..)?;
    let year_text = after.strip_prefix(' ')?;
    let year = text_year(year_text.as_bytes())?;
    let (y, m, _) = moved(year, *month, 15, days)?;
    let new_name = MONTHS.iter().find(|(_, mm)| *mm == m).map(|(n, _)| *n)?;
    Some((format!("{new_name} {y:04}"), name.len() + 5))
}

/// "2025-10" or "2025-10-03" at the start of `s`, not followed by more of a
/// word; moved, with the bytes it used.
fn iso_in_text(s: &str, days: i64) -> Option<(String, usize)> {
    let b = s.as_bytes();
    let ends_word = |i: usize| {
        b.get(i)
            .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'-')
    };
    if let (Some(head), true) = (b.get(..10), ends_word(10)) {
        if let Some((y, m, d)) = full_date(head).filter(|(y, _, _)| (1900..2100).contains(y)) {
            let (y, m, d) = moved(y, m, d, days)?;
            return Some((format!("{y:04}-{:02}-{d:02}", u8::from(m)), 10));
        }
    }
    let head = b.get(..7)?;
    if !ends_word(7) {
        return None;
    }
    let (y, m) = year_month(head).filter(|(y, _)| (1900..2100).contains(y))?;
    let (y, m, _) = moved(y, m, 15, days)?;
    Some((format!("{y:04}-{:02}", u8::from(m)), 7))
}

/// A four-digit year in 1900-2099 standing as a word at the start of `b`.
fn text_year(b: &[u8]) -> Option<i32> {
    let head = b.get(..4)?;
    if b.get(4).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let year = number(head)?;
    (1900..2100).contains(&year).then_some(year)
}

fn year_month(b: &[u8]) -> Option<(i32, Month)> {
    if b.len() != 7 || b.get(4) != Some(&b'-') {
        return None;
    }
    let y = number(b.get(..4)?)?;
    let m = Month::try_from(u8::try_from(number(b.get(5..7)?)?).ok()?).ok()?;
    Some((y, m))
}

fn full_date(b: &[u8]) -> Option<(i32, Month, u8)> {
    if b.len() != 10 || b.get(7) != Some(&b'-') {
        return None;
    }
    let (y, m) = year_month(b.get(..7)?)?;
    let d = u8::try_from(number(b.get(8..10)?)?).ok()?;
    Date::from_calendar_date(y, m, d).ok()?;
    Some((y, m, d))
}

fn number(b: &[u8]) -> Option<i32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn moved(y: i32, m: Month, d: u8, days: i64) -> Option<(i32, Month, u8)> {
    let date = Date::from_calendar_date(y, m, d).ok()?;
    let date = date.checked_add(Duration::days(days))?;
    Some((date.year(), date.month(), date.day()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn days_since_rounds_down() {
        let anchor = datetime!(2026-11-25 12:00 UTC);
        assert_eq!(days_since(anchor, anchor), 0);
        assert_eq!(days_since(anchor, datetime!(2026-11-26 11:59 UTC)), 0);
        assert_eq!(days_since(anchor, datetime!(2026-11-26 12:00 UTC)), 1);
        assert_eq!(days_since(anchor, datetime!(2026-11-25 11:59 UTC)), -1);
        assert_eq!(days_since(anchor, datetime!(2031-11-25 12:00 UTC)), 1826);
    }

    #[test]
    fn whole_values_move_and_keep_their_shape() {
        let cases = [
            ("2026-12-03", 7, "2026-12-10"),
            ("2026-12-03T10:20:00Z", 30, "2027-01-02T10:20:00Z"),
            (
                "2026-12-03T10:20:00.123+01:00",
                -3,
                "2026-11-30T10:20:00.123+01:00",
            ),
            ("2024-02-28", 1, "2024-02-29"),
            ("2026-11", 20, "2026-12"),
            ("1963-04-12", 365, "1964-04-11"),
        ];
        for (input, days, want) in cases {
            assert_eq!(shift_str(input, days).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn what_is_not_a_date_stays() {
        for s in [
            "9990000018",
            "c-2026-11-20-aed",
            "2026-13-01",
            "2026-02-30",
            "1543.",
            "Mental Health Act 1983",
            "Renal function 2000 panel",
            "2026",
            "2026-11-25Tx",
            "May",
        ] {
            assert_eq!(shift_str(s, 400), None, "{s}");
        }
    }

    #[test]
    fn dates_in_text_move() {
        assert_eq!(
            shift_str("CPN contact note, November 2026", 50).as_deref(),
            Some("CPN contact note, January 2027")
        );
        assert_eq!(
            shift_str("Lacks capacity (assessed 2025-10); daughter holds LPA", 365).as_deref(),
            Some("Lacks capacity (assessed 2026-10); daughter holds LPA")
        );
        assert_eq!(
            shift_str("seen 2026-11-20, again May 2027.", 1).as_deref(),
            Some("seen 2026-11-21, again May 2027.")
        );
        assert_eq!(shift_str("NovemberX 2026", 40), None);
        assert_eq!(shift_str("Section 136 Mental Health Act 1983", 4000), None);
    }

    #[test]
    fn a_document_moves_everywhere_and_zero_days_is_identity() {
        let original = json!({
            "resourceType": "Appointment",
            "start": "2026-12-03T10:20:00Z",
            "participant": [{"period": {"end": "2026-12-03"}}],
            "description": "COPD review",
            "identifier": [{"value": "2026-12-03-x"}],
        });
        let mut same = original.clone();
        shift_value(&mut same, 0);
        assert_eq!(same, original);
        let mut v = original;
        shift_value(&mut v, 2);
        assert_eq!(v["start"], "2026-12-05T10:20:00Z");
        assert_eq!(v["participant"][0]["period"]["end"], "2026-12-05");
        assert_eq!(v["description"], "COPD review");
        assert_eq!(v["identifier"][0]["value"], "2026-12-03-x");
    }
}
