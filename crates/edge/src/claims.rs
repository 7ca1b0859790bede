//! The viewer a verified token describes.
//!
//! Claims (all strings unless noted):
//!
//! | claim | viewer | |
//! | --- | --- | --- |
//! | `sub` | `user_id` | required |
//! | `name` | `name` | optional |
//! | `org` | `organisation` (ODS code) | required |
//! | `profile` | `profile` (a table 6 id) | required unless `job_role` is given |
//! | `job_role` | a national job-role code, mapped by the policy's `job_roles` | used when `profile` is absent |
//! | `purpose_of_use` | `purpose` | required |
//! | `training_expires` | `training.expires` (FHIR date) | absent: no training, nothing shared |
//! | `training_completed` | `training.completed` | optional |
//! | `patient` | `patient` (own Patient id) | for people reading their own record |
//!
//! `org` is required except for a profile the policy marks `own_record`
//! (a person signing in as themselves); their own record is the one named
//! by `patient`, and any other needs a proxy grant checked by the worker.
//!
//! A job role the policy does not map is refused
//! ([`ClaimsError::JobRoleUnmapped`]) rather than guessed; `profile` wins
//! when both are given.

use serde_json::{Map, Value};
use tiergate_core::{Policy, Training, Viewer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error("claim `{claim}` missing or not a string")]
    Missing { claim: &'static str },
    #[error("claim `{claim}` is too long or has control characters")]
    Bad { claim: &'static str },
    #[error("claim `profile` names no profile of the policy")]
    UnknownProfile,
    #[error("claim `job_role` names a job role the policy does not map to a profile")]
    JobRoleUnmapped,
    #[error("claim `training_expires` is not a date")]
    BadTraining,
}

fn text<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, ClaimsError> {
    match claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
                Err(ClaimsError::Bad { claim })
            } else {
                Ok(Some(s.as_str()))
            }
        }
        Some(_) => Err(ClaimsError::Bad { claim }),
    }
}

fn required<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, ClaimsError> {
    text(claims, claim)?.ok_or(ClaimsError::Missing { claim })
}

/// Maps verified claims to a core [`Viewer`] (without break glass, which
/// comes from the request) and validates it against the policy.
pub fn viewer_from_claims(
    claims: &Map<String, Value>,
    policy: &Policy,
) -> Result<Viewer, ClaimsError> {
    let user_id = required(claims, "sub")?.to_owned();
    let profile = match (text(claims, "profile")?, text(claims, "job_role")?) {
        (Some(p), _) => p.to_owned(),
        (None, Some(role)) => policy
            .profile_for_job_role(role)
            .ok_or(ClaimsError::JobRoleUnmapped)?
            .to_owned(),
        (None, None) => return Err(ClaimsError::Missing { claim: "profile" }),
    };
    let own_record = policy
        .profile(&profile)
        .ok_or(ClaimsError::UnknownProfile)?
        .properties
        .own_record;
    // People reading their own record (or acting for someone) sign in as
    // themselves, not for an organisation.
    let organisation = match text(claims, "org")? {
        Some(org) => org.to_owned(),
        None if own_record => String::new(),
        None => return Err(ClaimsError::Missing { claim: "org" }),
    };
    let purpose = required(claims, "purpose_of_use")?.to_owned();
    let training = match text(claims, "training_expires")? {
        None => None,
        Some(expires) => Some(Training {
            completed: text(claims, "training_completed")?.map(str::to_owned),
            expires: expires.to_owned(),
        }),
    };
    let viewer = Viewer {
        user_id,
        name: text(claims, "name")?.map(str::to_owned),
        organisation,
        profile,
        purpose,
        training,
        break_glass: None,
        patient: text(claims, "patient")?.map(str::to_owned),
        proxy_scopes: None,
        proxy_categories: None,
        proxy_agreed: None,
        approvals: Vec::new(),
    };
    viewer
        .validate(policy)
        .map_err(|_| ClaimsError::BadTraining)?;
    Ok(viewer)
}

/// The claims a token for `viewer` carries (used by the demo login).
pub fn claims_for(viewer: &Viewer) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("sub".into(), viewer.user_id.clone().into());
    if let Some(n) = &viewer.name {
        m.insert("name".into(), n.clone().into());
    }
    if !viewer.organisation.is_empty() {
        m.insert("org".into(), viewer.organisation.clone().into());
    }
    if let Some(p) = &viewer.patient {
        m.insert("patient".into(), p.clone().into());
    }
    m.insert("profile".into(), viewer.profile.clone().into());
    m.insert("purpose_of_use".into(), viewer.purpose.clone().into());
    if let Some(t) = &viewer.training {
        m.insert("training_expires".into(), t.expires.clone().into());
        if let Some(c) = &t.completed {
            m.insert("training_completed".into(), c.clone().into());
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        Policy::default_policy().unwrap()
    }

    fn base() -> Map<String, Value> {
        json!({"sub": "u1", "name": "Dr A", "org": "R9A", "profile": "6",
               "purpose_of_use": "direct-care", "training_expires": "2029-03-31"})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn maps_claims() {
        let v = viewer_from_claims(&base(), &policy()).unwrap();
        assert_eq!(v.user_id, "u1");
        assert_eq!(v.organisation, "R9A");
        assert_eq!(v.profile, "6");
        assert_eq!(v.training.unwrap().expires, "2029-03-31");
        assert!(v.break_glass.is_none());
        let back = claims_for(&viewer_from_claims(&base(), &policy()).unwrap());
        assert_eq!(viewer_from_claims(&back, &policy()).unwrap().user_id, "u1");
    }

    #[test]
    fn a_token_cannot_carry_an_approval() {
        // Approvals (7.2) come only from the privacy officer's record at
        // the edge, never from what a token says.
        let mut c = base();
        c.insert("profile".into(), "1b".into());
        c.insert(
            "approvals".into(),
            json!([{"id": "a", "patient": "p", "segment": "community", "tier": 3,
                    "starts": "2020-01-01", "expires": "2099-01-01"}]),
        );
        assert!(viewer_from_claims(&c, &policy())
            .unwrap()
            .approvals
            .is_empty());
    }

    #[test]
    fn no_training_claim_means_no_training() {
        let mut c = base();
        c.remove("training_expires");
        assert!(viewer_from_claims(&c, &policy())
            .unwrap()
            .training
            .is_none());
    }

    #[test]
    fn refusals() {
        let p = policy();
        for (claim, value, err) in [
            ("sub", Value::Null, ClaimsError::Missing { claim: "sub" }),
            ("org", json!(5), ClaimsError::Bad { claim: "org" }),
            (
                "org",
                json!("R9A\r\nX-Evil: 1"),
                ClaimsError::Bad { claim: "org" },
            ),
            ("profile", json!("99"), ClaimsError::UnknownProfile),
            (
                "purpose_of_use",
                Value::Null,
                ClaimsError::Missing {
                    claim: "purpose_of_use",
                },
            ),
            ("training_expires", json!("soon"), ClaimsError::BadTraining),
        ] {
            let mut c = base();
            c.insert(claim.into(), value);
            assert_eq!(viewer_from_claims(&c, &p), Err(err), "{claim}");
        }
        let mut c = base();
        c.remove("profile");
        assert_eq!(
            viewer_from_claims(&c, &p),
            Err(ClaimsError::Missing { claim: "profile" })
        );
        c.insert("job_role".into(), json!("R8000"));
        assert_eq!(
            viewer_from_claims(&c, &p),
            Err(ClaimsError::JobRoleUnmapped)
        );
        // A mapped national job role (R0260, General Medical Practitioner) gives its profile.
        c.insert("job_role".into(), json!("R0260"));
        assert_eq!(
            viewer_from_claims(&c, &p).map(|v| v.profile),
            Ok("1b".to_owned())
        );
    }
}
