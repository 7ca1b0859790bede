//! Individual approvals (framework 7.2): "wider access" to community
//! information is "defined on an individual case basis, subject to all
//! relevant legal and information governance processes". The policy
//! names the placements that need one (`approvals.required`); the privacy
//! officer records an approval for one user and one patient, for at most
//! `approvals.max_days`, with the governance reason, and may end it early.
//! The edge attaches the approvals in force to the viewer on every record
//! request; the engine opens nothing with one that is expired, revoked or
//! for another patient.

use serde::{Deserialize, Serialize};
use tiergate_core::{fhirtime, Policy};
use time::OffsetDateTime;

use crate::breakglass::sanitise;
use crate::outcome::Refusal;

/// Response header: `required` when an individual approval would show
/// more of the record.
pub const HEADER: &str = "x-tiergate-approval";
/// Response header: when the approval that opened part of the record
/// ends (RFC 3339; the earliest, when several did).
pub const EXPIRES_HEADER: &str = "x-tiergate-approval-expires";

/// Whether an approval would change what this viewer is shown.
pub fn required(decisions: &tiergate_core::Decisions) -> bool {
    decisions
        .summary
        .withheld_by_reason
        .get(&tiergate_core::Reason::ApprovalRequired.code())
        .is_some_and(|n| *n > 0)
}

/// When the earliest of the approvals that opened part of the record ends.
pub fn used_until(
    decisions: &tiergate_core::Decisions,
    approvals: &[tiergate_core::Approval],
) -> Option<String> {
    approvals
        .iter()
        .filter(|a| decisions.summary.approvals.contains(&a.id))
        .filter_map(|a| fhirtime::parse(&a.expires, fhirtime::Edge::End))
        .min()
        .map(fhirtime::format)
}

/// Longest governance reason kept.
pub const MAX_REASON: usize = 500;
/// Longest user id accepted.
pub const MAX_USER: usize = 128;

/// One approval as stored (the `approvals` table) and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    pub user_id: String,
    /// The user's organisation (ODS code): a user id is only unique
    /// within the organisation that vouches for it.
    pub organisation: String,
    pub patient: String,
    pub segment: String,
    pub tier: u8,
    /// The information governance reason, as the officer gave it.
    pub reason: String,
    pub recorded_by: String,
    pub starts: String,
    pub expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
}

/// What the privacy officer submits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recording {
    user_id: String,
    organisation: String,
    patient: String,
    reason: String,
    days: u32,
    #[serde(default)]
    segment: Option<String>,
    #[serde(default)]
    tier: Option<u8>,
}

fn plain_id(s: &str, max: usize) -> Result<String, Refusal> {
    let t = s.trim();
    if t.is_empty()
        || t.chars().count() > max
        || t.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Refusal::BadRequest);
    }
    Ok(t.to_owned())
}

/// Reads and checks a recording: a user id, a patient id, a reason, a
/// number of days up to the policy's maximum, and (optionally) which of
/// the policy's reserved placements; the first one when not given.
pub fn record(
    body: &[u8],
    policy: &Policy,
    id: &str,
    officer: &str,
    now: OffsetDateTime,
) -> Result<Stored, Refusal> {
    let r: Recording = serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)?;
    let rules = &policy.document().approvals;
    let reserved = rules.required.first().ok_or(Refusal::NotFound)?;
    let segment = r.segment.unwrap_or_else(|| reserved.segment.clone());
    let tier = r.tier.unwrap_or(reserved.tier);
    let known = policy
        .placement(&segment, tier)
        .is_some_and(|p| policy.needs_approval(p));
    if !known {
        return Err(Refusal::BadRequest);
    }
    if r.days == 0 || r.days > rules.max_days {
        return Err(Refusal::BadRequest);
    }
    let reason = sanitise(&r.reason, MAX_REASON);
    if reason.is_empty() {
        return Err(Refusal::BadRequest);
    }
    let patient = crate::route::fhir_id(r.patient.trim())
        .map_err(|_| Refusal::BadRequest)?
        .to_owned();
    let expires = now + time::Duration::days(i64::from(r.days));
    Ok(Stored {
        id: id.to_owned(),
        user_id: plain_id(&r.user_id, MAX_USER)?,
        organisation: plain_id(&r.organisation, 16)?,
        patient,
        segment,
        tier,
        reason,
        recorded_by: officer.to_owned(),
        starts: fhirtime::format(now),
        expires: fhirtime::format(expires),
        revoked: None,
        revoked_by: None,
    })
}

/// Ends an approval now. One already ended, or past its expiry, is a
/// conflict: there is nothing left to end.
pub fn revoke(a: &mut Stored, officer: &str, now: OffsetDateTime) -> Result<(), Refusal> {
    if a.revoked.is_some() || !in_force(a, now) {
        return Err(Refusal::Conflict);
    }
    a.revoked = Some(fhirtime::format(now));
    a.revoked_by = Some(officer.to_owned());
    Ok(())
}

/// Whether `a` is in force at `now`.
pub fn in_force(a: &Stored, now: OffsetDateTime) -> bool {
    let starts = fhirtime::parse(&a.starts, fhirtime::Edge::Start);
    let expires = fhirtime::parse(&a.expires, fhirtime::Edge::End);
    a.revoked.is_none() && matches!((starts, expires), (Some(s), Some(e)) if s <= now && now < e)
}

/// The approvals in force for a viewer of `organisation` (the engine
/// checks the patient and the dates again).
pub fn for_viewer(
    stored: &[Stored],
    organisation: &str,
    now: OffsetDateTime,
) -> Vec<tiergate_core::Approval> {
    stored
        .iter()
        .filter(|a| a.organisation == organisation && in_force(a, now))
        .map(|a| tiergate_core::Approval {
            id: a.id.clone(),
            patient: a.patient.clone(),
            segment: a.segment.clone(),
            tier: a.tier,
            starts: a.starts.clone(),
            expires: a.expires.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    fn policy() -> Policy {
        Policy::default_policy().unwrap()
    }

    fn body(v: serde_json::Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    #[test]
    fn an_approval_is_for_the_reserved_placement_and_no_longer_than_the_policy_allows() {
        let p = policy();
        let a = record(
            &body(serde_json::json!({"user_id": "dr.okafor", "organisation": "N99005", "patient": "susan-patient", "reason": "MDT case review IG-2026-31", "days": 30})),
            &p,
            "ap-1",
            "po",
            NOW,
        )
        .unwrap();
        assert_eq!((a.segment.as_str(), a.tier), ("community", 3));
        assert_eq!(a.starts, "2026-11-25T12:00:00Z");
        assert_eq!(a.expires, "2026-12-25T12:00:00Z");
        assert!(in_force(&a, NOW));
        assert!(!in_force(&a, datetime!(2026-12-25 12:00 UTC)));
        assert_eq!(for_viewer(std::slice::from_ref(&a), "N99005", NOW).len(), 1);
        assert!(
            for_viewer(std::slice::from_ref(&a), "RVY", NOW).is_empty(),
            "the same user id at another organisation"
        );

        let max = p.document().approvals.max_days;
        for bad in [
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": 0}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": max + 1}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": " \n ", "days": 3}),
            serde_json::json!({"user_id": "", "organisation": "N99005", "patient": "p", "reason": "r", "days": 3}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "../p", "reason": "r", "days": 3}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": 3, "segment": "summary", "tier": 3}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": 3, "tier": 2}),
            serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": 3, "extra": 1}),
            serde_json::json!({"user_id": "u", "patient": "p", "reason": "r", "days": 3}),
            serde_json::json!({"user_id": "u", "organisation": "", "patient": "p", "reason": "r", "days": 3}),
        ] {
            assert_eq!(
                record(&body(bad.clone()), &p, "x", "po", NOW),
                Err(Refusal::BadRequest),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_revoked_approval_opens_nothing_and_cannot_be_revoked_twice() {
        let p = policy();
        let mut a = record(
            &body(serde_json::json!({"user_id": "u", "organisation": "N99005", "patient": "p", "reason": "r", "days": 1})),
            &p,
            "ap-2",
            "po",
            NOW,
        )
        .unwrap();
        revoke(&mut a, "po", NOW).unwrap();
        assert!(!in_force(&a, NOW));
        assert!(for_viewer(&[a.clone()], "N99005", NOW).is_empty());
        assert_eq!(revoke(&mut a, "po", NOW), Err(Refusal::Conflict));
    }
}
