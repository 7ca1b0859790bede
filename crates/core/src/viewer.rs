//! Who is asking: user, organisation, profile, purpose, training and any
//! break glass.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{BreakGlassError, ViewerError};
use crate::fhirtime::{self, Edge};
use crate::policy::Policy;

/// The viewer of a record. Every field but `name` and `break_glass` must be
/// present (`training` may be `null`, which withholds everything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Viewer {
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The employing organisation's code (ODS).
    pub organisation: String,
    /// A profile id from the policy (table 6).
    pub profile: String,
    /// Purpose of use (`direct-care`).
    pub purpose: String,
    /// Mandatory training attestation (framework 6.5).
    #[serde(deserialize_with = "Option::deserialize")]
    pub training: Option<Training>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
    /// For an own-record profile: the id of the Patient whose record this
    /// viewer may see (the person themself, or the patient a proxy acts
    /// for). Without it an own-record viewer sees nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// For a proxy: the proxy scope ids the patient granted. Entries whose
    /// content line no granted scope covers are withheld; an unknown scope
    /// id refuses the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_scopes: Option<Vec<String>>,
    /// For a proxy: the exclusion categories (Appendix 1) the person
    /// granted to them by name. Without one, a proxy sees no entry in an
    /// exclusion category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_categories: Option<Vec<String>>,
    /// For a proxy: when the person themself made, renewed or agreed to the
    /// grant (RFC 3339). Absent when someone else made it and the person
    /// has not agreed; the policy's age bands decide what that gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_agreed: Option<String>,
    /// Individual approvals the privacy officer recorded for this user
    /// (framework 7.2): each opens one placement the policy reserves for
    /// them, for one patient, until it expires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
}

/// A privacy officer's time-limited approval for one user to see one
/// patient's record at a placement the policy reserves for approvals
/// (`approvals.required`), and every tier of that segment below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub id: String,
    /// The Patient id it is for; a record of anyone else gains nothing.
    pub patient: String,
    pub segment: String,
    pub tier: u8,
    /// RFC 3339 or FHIR date (a date starts at midnight UTC).
    pub starts: String,
    /// RFC 3339 or FHIR date (a date includes the whole day).
    pub expires: String,
}

/// A training attestation and when it runs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<String>,
    /// FHIR date or RFC 3339; a date includes the whole day.
    pub expires: String,
}

/// An emergency override of the need for consent (framework 6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlass {
    /// A reason code from the policy's list.
    #[serde(default)]
    pub reason: Option<String>,
    /// Free text the professional gives; goes to audit, never to logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When the access began (RFC 3339).
    pub started: String,
}

/// Break glass that the policy accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveBreakGlass {
    pub reason: Option<String>,
    pub started: String,
    pub expires: String,
}

/// Training state at the time of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrainingState {
    Current,
    Missing,
    Expired,
}

impl Viewer {
    /// Parses a viewer from JSON; errors name the JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ViewerError> {
        crate::shape::from_slice(bytes).map_err(|e| ViewerError::Shape {
            path: e.path,
            message: e.message,
        })
    }

    /// Checks the viewer against the policy: the profile must exist, dates
    /// must parse, proxy scopes must be the policy's, and break glass must
    /// be open to the profile.
    pub fn validate(&self, policy: &Policy) -> Result<(), ViewerError> {
        let Some(profile) = policy.profile(&self.profile) else {
            return Err(ViewerError::UnknownProfile {
                profile: self.profile.clone(),
            });
        };
        if let Some(scopes) = &self.proxy_scopes {
            if let Some(unknown) = scopes.iter().find(|s| policy.proxy_scope(s).is_none()) {
                return Err(ViewerError::UnknownProxyScope {
                    scope: unknown
                        .chars()
                        .take(64)
                        .filter(|c| !c.is_control())
                        .collect(),
                });
            }
        }
        if self.proxy_scopes.is_none()
            && (self.proxy_categories.is_some() || self.proxy_agreed.is_some())
        {
            return Err(ViewerError::Shape {
                path: "/proxy_scopes".into(),
                message: "proxy grant details without proxy scopes".into(),
            });
        }
        if let Some(categories) = &self.proxy_categories {
            if categories
                .iter()
                .any(|c| policy.category_index(c).is_none())
            {
                return Err(ViewerError::Shape {
                    path: "/proxy_categories".into(),
                    message: "not an exclusion category of the policy".into(),
                });
            }
        }
        if let Some(agreed) = &self.proxy_agreed {
            if fhirtime::parse(agreed, Edge::Start).is_none() {
                return Err(ViewerError::BadDate {
                    path: "/proxy_agreed".into(),
                });
            }
        }
        if self.break_glass.is_some() && !profile.properties.break_glass {
            return Err(ViewerError::BreakGlassNotApplicable {
                profile: self.profile.clone(),
            });
        }
        if let Some(t) = &self.training {
            if fhirtime::parse(&t.expires, Edge::End).is_none() {
                return Err(ViewerError::BadDate {
                    path: "/training/expires".into(),
                });
            }
        }
        if let Some(bg) = &self.break_glass {
            if fhirtime::parse(&bg.started, Edge::Start).is_none() {
                return Err(ViewerError::BadDate {
                    path: "/break_glass/started".into(),
                });
            }
        }
        if !self.approvals.is_empty() && profile.properties.own_record {
            return Err(ViewerError::Shape {
                path: "/approvals".into(),
                message: "approvals are for professionals".into(),
            });
        }
        for (i, a) in self.approvals.iter().enumerate() {
            let base = format!("/approvals/{i}");
            if a.id.trim().is_empty() || a.patient.trim().is_empty() {
                return Err(ViewerError::Shape {
                    path: base,
                    message: "an approval needs an id and a patient".into(),
                });
            }
            if policy.placement(&a.segment, a.tier).is_none() {
                return Err(ViewerError::Shape {
                    path: format!("{base}/tier"),
                    message: "not a segment and tier of the policy".into(),
                });
            }
            if fhirtime::parse(&a.starts, Edge::Start).is_none() {
                return Err(ViewerError::BadDate {
                    path: format!("{base}/starts"),
                });
            }
            if fhirtime::parse(&a.expires, Edge::End).is_none() {
                return Err(ViewerError::BadDate {
                    path: format!("{base}/expires"),
                });
            }
        }
        Ok(())
    }

    /// The approvals in force at `now` for `patient`, as placements.
    pub(crate) fn approvals_at(
        &self,
        policy: &Policy,
        patient: Option<&str>,
        now: OffsetDateTime,
    ) -> Vec<(crate::segment::Placement, String)> {
        let Some(patient) = patient.filter(|p| !p.trim().is_empty()) else {
            return Vec::new();
        };
        self.approvals
            .iter()
            .filter(|a| a.patient == patient)
            .filter(|a| {
                let starts = fhirtime::parse(&a.starts, Edge::Start);
                let expires = fhirtime::parse(&a.expires, Edge::End);
                matches!((starts, expires), (Some(s), Some(e)) if s <= now && now < e)
            })
            .filter_map(|a| Some((policy.placement(&a.segment, a.tier)?, a.id.clone())))
            .collect()
    }

    pub(crate) fn training_state(&self, now: OffsetDateTime) -> TrainingState {
        match &self.training {
            None => TrainingState::Missing,
            Some(t) => match fhirtime::parse(&t.expires, Edge::End) {
                Some(end) if now < end => TrainingState::Current,
                _ => TrainingState::Expired,
            },
        }
    }

    /// Checks break glass against the policy. `Ok(None)` when there is none.
    pub fn break_glass_at(
        &self,
        policy: &Policy,
        now: OffsetDateTime,
    ) -> Result<Option<ActiveBreakGlass>, BreakGlassError> {
        let Some(bg) = &self.break_glass else {
            return Ok(None);
        };
        let rules = &policy.document.break_glass;
        let reason = bg
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        match reason {
            None if rules.reason_required => return Err(BreakGlassError::ReasonRequired),
            Some(code) if !rules.reasons.iter().any(|r| r.code == code) => {
                return Err(BreakGlassError::UnknownReason {
                    code: code.chars().take(64).filter(|c| !c.is_control()).collect(),
                })
            }
            _ => {}
        }
        let started = fhirtime::parse(&bg.started, Edge::Start).ok_or(BreakGlassError::Expired)?;
        let expires = started + time::Duration::minutes(i64::from(rules.max_minutes));
        if now < started {
            return Err(BreakGlassError::NotStarted);
        }
        if now >= expires {
            return Err(BreakGlassError::Expired);
        }
        Ok(Some(ActiveBreakGlass {
            reason: reason.map(str::to_owned),
            started: fhirtime::format(started),
            expires: fhirtime::format(expires),
        }))
    }
}
