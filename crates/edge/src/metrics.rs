//! Monitoring and evaluation (framework 6.6): how the sharing model is
//! used, from the audit table. Counts only, by segment, placement (segment
//! and tier), profile and organisation; withheld entries by reason;
//! consent and opt-out rates; the break-glass rate. No patient identifier
//! ever appears: patients are only counted.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

/// The audit columns monitoring reads.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricRow {
    pub organisation: Option<String>,
    pub profile: Option<String>,
    pub patient: Option<String>,
    pub action: String,
    pub status: u16,
    pub break_glass: u8,
    pub event: String,
}

/// Record accesses (reads of a patient's record that released data).
fn is_record_access(action: &str) -> bool {
    matches!(
        action,
        "read" | "vread" | "history-instance" | "search-type" | "operation"
    )
}

/// Running totals.
#[derive(Debug, Default)]
pub struct Metrics {
    accesses: u64,
    break_glass: u64,
    by_profile: BTreeMap<String, u64>,
    by_organisation: BTreeMap<String, u64>,
    by_segment: BTreeMap<String, u64>,
    by_placement: BTreeMap<String, u64>,
    withheld: BTreeMap<String, u64>,
    patients: BTreeSet<String>,
}

impl Metrics {
    /// Counts one audit row (rows that are not record accesses, or that
    /// released nothing, are not counted).
    pub fn add(&mut self, row: &MetricRow) {
        if !is_record_access(&row.action) || row.status != 200 {
            return;
        }
        self.accesses += 1;
        if row.break_glass != 0 {
            self.break_glass += 1;
        }
        if let Some(p) = &row.profile {
            *self.by_profile.entry(p.clone()).or_default() += 1;
        }
        if let Some(o) = row.organisation.as_ref().filter(|o| !o.is_empty()) {
            *self.by_organisation.entry(o.clone()).or_default() += 1;
        }
        if let Some(p) = &row.patient {
            self.patients.insert(p.clone());
        }
        let event: Value = serde_json::from_str(&row.event).unwrap_or(Value::Null);
        let details = event
            .get("entity")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("detail").and_then(Value::as_array))
            .flatten();
        let mut segments = BTreeSet::new();
        for d in details {
            let (Some(t), Some(v)) = (
                d.get("type").and_then(Value::as_str),
                d.get("valueString").and_then(Value::as_str),
            ) else {
                continue;
            };
            let n = v.parse::<u64>().unwrap_or(0);
            if let Some(p) = t.strip_prefix("shared:") {
                *self.by_placement.entry(p.to_owned()).or_default() += n;
                if let Some((segment, _)) = p.rsplit_once('-') {
                    segments.insert(segment.to_owned());
                }
            } else if let Some(reason) = t.strip_prefix("withheld:") {
                *self.withheld.entry(reason.to_owned()).or_default() += n;
            }
        }
        for s in segments {
            *self.by_segment.entry(s).or_default() += 1;
        }
    }

    /// The report. `with_permit` and `with_opt_out` are the numbers of
    /// patients accessed who have a recorded permit or opt-out.
    pub fn report(&self, generated: &str, with_permit: u64, with_opt_out: u64) -> Value {
        let accessed = self.patients.len() as u64;
        let rate = |n: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                // Four decimal places are plenty for a rate.
                ((n as f64 / of as f64) * 10_000.0).round() / 10_000.0
            }
        };
        json!({
            "generated": generated,
            "accesses": self.accesses,
            "by_profile": self.by_profile,
            "by_organisation": self.by_organisation,
            "by_segment": self.by_segment,
            "by_placement": self.by_placement,
            "withheld_by_reason": self.withheld,
            "consent": {
                "patients_accessed": accessed,
                "patients_with_permit": with_permit,
                "patients_with_opt_out": with_opt_out,
                "consent_rate": rate(with_permit, accessed),
                "opt_out_rate": rate(with_opt_out, accessed),
            },
            "break_glass": {"count": self.break_glass, "rate": rate(self.break_glass, self.accesses)},
        })
    }

    /// Patients counted (to ask the consent store about, never reported).
    pub fn patients(&self) -> impl Iterator<Item = &str> {
        self.patients.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Audit;
    use tiergate_core::Viewer;

    fn row(audit: &Audit<'_>) -> MetricRow {
        let r = audit.build();
        MetricRow {
            organisation: r.organisation,
            profile: r.profile,
            patient: r.patient,
            action: r.action,
            status: r.status,
            break_glass: u8::from(r.break_glass),
            event: r.event,
        }
    }

    #[test]
    fn counts_shared_entries_and_rates_with_no_patient_identifiers() {
        let v = Viewer::from_json(br#"{"user_id": "u", "organisation": "R9A", "profile": "6", "purpose": "direct-care", "training": null}"#).unwrap();
        let mut m = Metrics::default();
        let base = Audit {
            request_id: "r",
            recorded: "2026-11-25T12:00:00Z",
            viewer: Some(&v),
            action: "operation",
            patient: Some("joe-patient"),
            status: 200,
            released: true,
            shared: vec!["summary-1".into(), "summary-2".into(), "summary-2".into()],
            policy: "sha256:x",
            ..Audit::default()
        };
        m.add(&row(&base));
        m.add(&row(&Audit {
            patient: Some("susan-patient"),
            break_glass: Some(("unconscious", None)),
            shared: vec!["hospitals-2".into()],
            ..base.clone()
        }));
        m.add(&row(&Audit {
            action: "refused",
            status: 403,
            ..base.clone()
        }));
        let r = m.report("2026-11-25T13:00:00Z", 1, 0);
        assert_eq!(r["accesses"], 2);
        assert_eq!(r["by_placement"]["summary-2"], 2);
        assert_eq!(r["by_segment"]["summary"], 1);
        assert_eq!(r["by_segment"]["hospitals"], 1);
        assert_eq!(r["by_profile"]["6"], 2);
        assert_eq!(r["break_glass"]["count"], 1);
        assert_eq!(r["break_glass"]["rate"], 0.5);
        assert_eq!(r["consent"]["patients_accessed"], 2);
        assert_eq!(r["consent"]["consent_rate"], 0.5);
        let text = r.to_string();
        assert!(!text.contains("joe-patient") && !text.contains("susan-patient"));
    }
}
