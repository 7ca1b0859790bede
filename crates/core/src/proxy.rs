//! What a proxy grant gives on the day of a request: the policy's age bands
//! narrow the scopes a grant names by the patient's age and by whether the
//! person themself made, renewed or agreed to it.

use time::{Date, Month, OffsetDateTime};

/// Scope ids a band gives: every scope, or these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scopes {
    All,
    Only(Vec<String>),
}

impl Scopes {
    pub(crate) fn from_ids(ids: &[String]) -> Self {
        if ids.iter().any(|s| s == "*") {
            Self::All
        } else {
            Self::Only(ids.to_vec())
        }
    }

    fn contains(&self, id: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.iter().any(|s| s == id),
        }
    }
}

/// An age band, compiled.
#[derive(Debug, Clone)]
pub(crate) struct AgeBand {
    pub(crate) from_age: u8,
    pub(crate) scopes: Scopes,
    pub(crate) with_agreement: Scopes,
}

/// The earliest and latest birthdays a FHIR date (`YYYY`, `YYYY-MM` or
/// `YYYY-MM-DD`) allows.
fn birth_range(text: &str) -> Option<(Date, Date)> {
    let text = text.trim();
    let year: i32 = text.get(0..4)?.parse().ok()?;
    let rest = text.get(4..)?;
    if rest.is_empty() {
        return Some((
            Date::from_calendar_date(year, Month::January, 1).ok()?,
            Date::from_calendar_date(year, Month::December, 31).ok()?,
        ));
    }
    let month: u8 = rest.strip_prefix('-')?.get(0..2)?.parse().ok()?;
    let month = Month::try_from(month).ok()?;
    let rest = rest.get(3..)?;
    if rest.is_empty() {
        let first = Date::from_calendar_date(year, month, 1).ok()?;
        let last =
            Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()?;
        return Some((first, last));
    }
    let day: u8 = rest.strip_prefix('-')?.parse().ok()?;
    if rest.len() != 3 {
        return None;
    }
    let d = Date::from_calendar_date(year, month, day).ok()?;
    Some((d, d))
}

/// The day someone born on `birth` reaches `years` (29 February: 1 March
/// in other years).
fn reaches(birth: Date, years: u8) -> Option<Date> {
    let year = birth.year().checked_add(i32::from(years))?;
    Date::from_calendar_date(year, birth.month(), birth.day())
        .ok()
        .or_else(|| Date::from_calendar_date(year, Month::March, 1).ok())
}

/// Whole years someone born on `birth` has reached on `day` (0 before birth).
fn age_on(birth: Date, day: Date) -> u8 {
    let mut years = u8::try_from((day.year() - birth.year()).clamp(0, 255)).unwrap_or(u8::MAX);
    while years > 0 && reaches(birth, years).is_none_or(|d| d > day) {
        years -= 1;
    }
    years
}

/// The granted scopes that `bands` give on `now` (see
/// `Policy::proxy_scopes_at`).
pub(crate) fn scopes_at(
    bands: &[AgeBand],
    granted: &[String],
    agreed: Option<OffsetDateTime>,
    birth_date: Option<&str>,
    now: OffsetDateTime,
) -> Vec<String> {
    if bands.is_empty() {
        return granted.to_vec();
    }
    let today = now.date();
    let range = birth_date.and_then(birth_range);
    // Each band's share of the possible ages, and whether the person's
    // agreement counts in it.
    let mut applying: Vec<(&AgeBand, bool)> = Vec::new();
    for (i, band) in bands.iter().enumerate() {
        let until = bands.get(i + 1).map(|b| b.from_age);
        match range {
            None => applying.push((band, agreed.is_some())),
            Some((earliest, latest)) => {
                let youngest = age_on(latest, today);
                let oldest = age_on(earliest, today);
                let overlaps = band.from_age <= oldest && until.is_none_or(|u| youngest < u);
                if overlaps {
                    let counts = match (agreed, reaches(latest, band.from_age)) {
                        (Some(a), Some(day)) => a.date() >= day,
                        _ => false,
                    };
                    applying.push((band, counts));
                }
            }
        }
    }
    if applying.is_empty() {
        return Vec::new();
    }
    granted
        .iter()
        .filter(|s| {
            applying.iter().all(|(band, agreement)| {
                band.scopes.contains(s) || (*agreement && band.with_agreement.contains(s))
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn birth_dates_of_every_precision() {
        assert_eq!(
            birth_range("2014-03-09"),
            Some((date!(2014 - 03 - 09), date!(2014 - 03 - 09)))
        );
        assert_eq!(
            birth_range("2014-02"),
            Some((date!(2014 - 02 - 01), date!(2014 - 02 - 28)))
        );
        assert_eq!(
            birth_range("2016"),
            Some((date!(2016 - 01 - 01), date!(2016 - 12 - 31)))
        );
        for bad in [
            "",
            "14-03-09",
            "2014-3-9",
            "2014-02-30",
            "2014-03-09T00:00",
            "2014-13",
        ] {
            assert_eq!(birth_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages_turn_on_the_birthday() {
        let born = date!(2010 - 06 - 15);
        assert_eq!(age_on(born, date!(2026 - 06 - 14)), 15);
        assert_eq!(age_on(born, date!(2026 - 06 - 15)), 16);
        assert_eq!(age_on(born, date!(2009 - 01 - 01)), 0);
        let leap = date!(2008 - 02 - 29);
        assert_eq!(reaches(leap, 16), Some(date!(2024 - 02 - 29)));
        assert_eq!(reaches(leap, 11), Some(date!(2019 - 03 - 01)));
        assert_eq!(age_on(leap, date!(2019 - 02 - 28)), 10);
        assert_eq!(age_on(leap, date!(2019 - 03 - 01)), 11);
    }
}
