//! FHIR `date` and `dateTime` values as instants.
//!
//! A date with less than second precision is a range; callers say which end
//! they need, so that "expires 2027-01-31" includes the whole of that day.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

/// Which end of a partial date to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The first instant the value covers.
    Start,
    /// The first instant after the value (exclusive end).
    End,
}

/// Parses an RFC 3339 date-time, or a FHIR `date` (`YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`) read in UTC.
pub fn parse(value: &str, edge: Edge) -> Option<OffsetDateTime> {
    if value.len() > 10 {
        return OffsetDateTime::parse(value, &Rfc3339).ok();
    }
    let mut parts = value.split('-');
    let year: i32 = digits(parts.next()?, 4)?.try_into().ok()?;
    let month = match parts.next() {
        Some(m) => Some(digits(m, 2)?),
        None => None,
    };
    let day = match parts.next() {
        Some(d) => Some(digits(d, 2)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    let month_value = Month::try_from(u8::try_from(month.unwrap_or(1)).ok()?).ok()?;
    let start =
        Date::from_calendar_date(year, month_value, u8::try_from(day.unwrap_or(1)).ok()?).ok()?;
    let start = start.with_time(Time::MIDNIGHT).assume_utc();
    match edge {
        Edge::Start => Some(start),
        Edge::End => {
            let date = start.date();
            let next = match (month, day) {
                (_, Some(_)) => date.next_day()?,
                (Some(_), None) => {
                    let (y, m) = if month_value == Month::December {
                        (year.checked_add(1)?, Month::January)
                    } else {
                        (year, month_value.next())
                    };
                    Date::from_calendar_date(y, m, 1).ok()?
                }
                (None, None) => {
                    Date::from_calendar_date(year.checked_add(1)?, Month::January, 1).ok()?
                }
            };
            Some(next.with_time(Time::MIDNIGHT).assume_utc())
        }
    }
}

fn digits(s: &str, len: usize) -> Option<u32> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Formats an instant as RFC 3339 in UTC.
pub fn format(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_cover_their_range() {
        let s = parse("2027-01-31", Edge::Start).unwrap();
        let e = parse("2027-01-31", Edge::End).unwrap();
        assert_eq!(format(s), "2027-01-31T00:00:00Z");
        assert_eq!(format(e), "2027-02-01T00:00:00Z");
        assert_eq!(
            format(parse("2026-12", Edge::End).unwrap()),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            format(parse("2026", Edge::End).unwrap()),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            format(parse("2026-03-01T10:00:00+01:00", Edge::Start).unwrap()),
            "2026-03-01T09:00:00Z"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "26",
            "2026-1",
            "2026-13-01",
            "2026-02-30",
            "tomorrow",
            "2026-01-01-01",
        ] {
            assert!(parse(bad, Edge::Start).is_none(), "{bad}");
        }
    }
}
