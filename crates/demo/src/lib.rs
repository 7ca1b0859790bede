//! tiergate's built-in demo: synthetic patients, professionals, people who
//! sign in as themselves, consents, proxy grants and the public demo-only
//! signing key, kept current by moving every date to the day the demo runs.
//!
//! The files under `data/` are written as they stood at [`ANCHOR`] (the
//! instant the conformance vectors and scenario tests decide at). A demo
//! started later reads them through [`Demo::at`], which moves every date
//! forward by the whole days since the anchor: appointments stay ahead,
//! admissions recent, training current, grants in force.
//!
//! ```
//! use time::macros::datetime;
//!
//! let demo = tiergate_demo::Demo::at(datetime!(2031-12-07 09:00 UTC));
//! let joe = demo.patient("joe").expect("Joe is in the demo");
//! // Joe's COPD review, written for 2026-12-03, is still eight days after
//! // the demo's anchor day.
//! assert!(joe.record.contains("\"2031-12-"));
//! ```
//!
//! Everything here is synthetic; see `data/README.md`.

#![forbid(unsafe_code)]

mod shift;

use serde_json::Value;
use time::macros::datetime;
use time::OffsetDateTime;

pub use shift::{days_since, shift_str, shift_value};

/// The instant the data files are written at.
pub const ANCHOR: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

/// One demo patient's files: a key, the record (a searchset Bundle as
/// `$everything` returns it) and the consent directives (compact form).
#[derive(Debug, Clone, Copy)]
pub struct PatientFiles {
    pub key: &'static str,
    pub record: &'static str,
    pub consent: &'static str,
}

macro_rules! patient {
    ($key:literal, $file:literal) => {
        PatientFiles {
            key: $key,
            record: include_str!(concat!("../data/", $file, ".json")),
            consent: include_str!(concat!("../data/consents/", $file, ".json")),
        }
    };
}

macro_rules! named {
    ($dir:literal, $($key:literal),+ $(,)?) => {
        &[$(($key, include_str!(concat!("../data/", $dir, "/", $key, ".json")))),+]
    };
}

/// The patients, as written at [`ANCHOR`].
pub const PATIENTS: &[PatientFiles] = &[
    patient!("joe", "joe"),
    patient!("joan", "joan"),
    patient!("brenda", "brenda"),
    patient!("david", "david"),
    patient!("phil-ed-patient", "phil-ed-patient"),
    patient!("neighbourhood", "neighbourhood"),
    patient!("susan", "susan"),
    patient!("lily", "lily"),
    patient!("maya", "maya"),
];

/// Professionals (viewer files), by key, as written at [`ANCHOR`].
pub const VIEWERS: &[(&str, &str)] = named!(
    "viewers",
    "admin-clerk-5",
    "aed-doctor-6",
    "aed-doctor-break-glass-6",
    "careline-advisor-5",
    "community-matron-2a",
    "community-psychiatrist-1c",
    "community-social-worker-3b",
    "cpn-2a",
    "district-nurse-7",
    "ed-doctor-phil-6",
    "expired-training-7",
    "gp-1b",
    "health-trainer-4",
    "hospital-social-worker-3a",
    "hospital-specialist-1a",
    "matron-2a",
    "neighbourhood-social-worker-3b",
    "parent-proxy-lily",
    "parent-proxy-maya",
    "parent-proxy-maya-agreed",
    "patient-lily-record",
    "privacy-officer",
    "social-work-team-leader-3b",
);

/// People who sign in as themselves (profile `patient`): Joe, Susan and
/// Maya (14) for their own records, Anne for her father Joe, Grace for her
/// daughters Lily (7) and Maya.
pub const CITIZENS: &[(&str, &str)] = named!("citizens", "joe", "susan", "anne", "grace", "maya");

/// The baseline proxy grants (a JSON array), as written at [`ANCHOR`].
pub const GRANTS: &str = include_str!("../data/grants.json");

/// The public, demo-only signing key (a JWK with `kid` and `issuer`).
pub const SIGNING_KEY: &str = include_str!("../data/DEMO-ONLY-signing-key.json");

/// A data file that does not parse (a defect of the committed data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("demo file `{0}` does not parse")]
pub struct DataError(pub String);

/// One patient's files at a given day.
#[derive(Debug, Clone)]
pub struct Patient {
    pub key: &'static str,
    pub record: String,
    pub consent: String,
}

/// The demo's files moved to one day.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Whole days the data moved from [`ANCHOR`].
    pub days: i64,
    pub patients: Vec<Patient>,
    /// Professionals: key, viewer JSON.
    pub viewers: Vec<(&'static str, String)>,
    /// Citizens: key, viewer JSON.
    pub citizens: Vec<(&'static str, String)>,
    /// Baseline proxy grants (a JSON array).
    pub grants: String,
}

impl Demo {
    /// The demo as it stands at `now`: every date moved by
    /// [`days_since`]`(ANCHOR, now)`.
    pub fn at(now: OffsetDateTime) -> Self {
        Self::moved(days_since(ANCHOR, now))
    }

    /// The demo with every date moved by `days`.
    pub fn moved(days: i64) -> Self {
        let text = |s: &'static str| moved_text(s, days);
        Self {
            days,
            patients: PATIENTS
                .iter()
                .map(|p| Patient {
                    key: p.key,
                    record: text(p.record),
                    consent: text(p.consent),
                })
                .collect(),
            viewers: VIEWERS.iter().map(|(k, v)| (*k, text(v))).collect(),
            citizens: CITIZENS.iter().map(|(k, v)| (*k, text(v))).collect(),
            grants: text(GRANTS),
        }
    }

    pub fn patient(&self, key: &str) -> Option<&Patient> {
        self.patients.iter().find(|p| p.key == key)
    }

    pub fn viewer(&self, key: &str) -> Option<&str> {
        self.viewers
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A JSON text with its dates moved by `days`; unchanged text when there
/// is nothing to move (or the text is not JSON, which the callers report
/// when they parse it).
pub fn moved_text(text: &str, days: i64) -> String {
    if days == 0 {
        return text.to_owned();
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            shift_value(&mut v, days);
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| text.to_owned())
        }
        Err(_) => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn every_file_parses() {
        for p in PATIENTS {
            assert!(serde_json::from_str::<Value>(p.record).is_ok(), "{}", p.key);
            assert!(
                serde_json::from_str::<Value>(p.consent).is_ok(),
                "{}",
                p.key
            );
        }
        for (k, v) in VIEWERS.iter().chain(CITIZENS) {
            assert!(serde_json::from_str::<Value>(v).is_ok(), "{k}");
        }
        assert!(parsed(GRANTS).is_array());
        assert!(parsed(SIGNING_KEY).get("kid").is_some());
    }

    #[test]
    fn at_the_anchor_the_files_are_as_written() {
        let d = Demo::at(ANCHOR + time::Duration::hours(23));
        assert_eq!(d.days, 0);
        let joe = PATIENTS.iter().find(|p| p.key == "joe").unwrap();
        assert_eq!(d.patient("joe").unwrap().record, joe.record);
        assert_eq!(d.grants, GRANTS);
    }

    #[test]
    fn a_later_demo_keeps_every_date_where_it_stood() {
        let d = Demo::at(datetime!(2031-12-07 09:00 UTC));
        // 2026-11-25 12:00 to 2031-12-07 09:00: 1,837 days and 21 hours.
        assert_eq!(d.days, 1837);
        let joe = parsed(&d.patient("joe").unwrap().record);
        let appointment = joe["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .find(|r| {
                r["resourceType"] == "Appointment" && r["serviceType"][0]["text"] == "COPD review"
            })
            .expect("Joe's COPD review");
        // Written for 2026-12-03, eight days after the anchor day.
        assert_eq!(appointment["start"], "2031-12-14T10:20:00Z");
        let gp = parsed(d.viewer("gp-1b").unwrap());
        assert_eq!(gp["training"]["expires"], "2034-04-11");
        let grants = parsed(&d.grants);
        assert_eq!(grants[0]["expires"], "2032-06-10");
    }
}
