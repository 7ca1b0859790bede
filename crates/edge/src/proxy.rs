//! Proxy access: a patient grants a named person (a carer, a parent) access
//! to chosen parts of their record for a limited time.
//!
//! A grant names the grantee by their sign-in subject, the policy's proxy
//! scopes it covers (what they may see, and whether they may book or
//! change sharing choices) and an expiry date. Grants are stored at the
//! edge (D1 `proxy_grants`), checked on every request a proxy makes, and
//! every change is audited. A proxy's view is the patient's own view
//! narrowed by core to the granted scopes, so a proxy never sees an entry
//! no grant covers.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::outcome::Refusal;

/// Longest a grant may run, in days.
pub const MAX_GRANT_DAYS: i64 = 366;

/// Body of `POST /proxy/Patient/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The grantee's sign-in subject (`sub` claim).
    pub grantee: String,
    /// How the patient knows them ("Anne Whitfield, my daughter").
    pub grantee_name: String,
    /// Proxy scope ids from the policy.
    pub scopes: Vec<String>,
    /// Exclusion categories (Appendix 1) the patient shares with them by
    /// name; without one they see no entry in an exclusion category.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Last day of access (FHIR date, inclusive).
    pub expires: String,
}

/// Who made a grant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MadeBy {
    /// The person, through their own portal.
    #[default]
    Patient,
    /// Someone else for them: a parent at registration, the practice.
    Other,
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub patient: String,
    pub grantee: String,
    pub grantee_name: String,
    /// The patient's name as they gave it when granting, so the proxy can
    /// tell whose record is whose without reading it.
    #[serde(default)]
    pub patient_name: Option<String>,
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Last day of access (FHIR date, inclusive).
    pub expires: String,
    pub granted: String,
    #[serde(default)]
    pub made_by: MadeBy,
    /// When the person agreed to or renewed a grant someone else made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed: Option<String>,
    #[serde(default)]
    pub revoked: Option<String>,
}

/// Text a person typed, trimmed: not empty, at most `max` characters, no
/// control or invisible format characters.
pub(crate) fn plain(text: &str, max: usize) -> Result<String, Refusal> {
    let t = text.trim();
    if t.is_empty()
        || t.chars().count() > max
        || t.chars()
            .any(|c| c.is_control() || crate::breakglass::is_invisible_format(c))
    {
        return Err(Refusal::BadRequest);
    }
    Ok(t.to_owned())
}

/// Checks a grant request: a grantee subject, a name, known scopes (no
/// duplicates, at least one), known exclusion categories (no duplicates)
/// and an expiry from today up to [`MAX_GRANT_DAYS`] ahead. The person
/// makes it themself.
pub fn grant(
    body: &[u8],
    patient: &str,
    patient_name: Option<&str>,
    id: &str,
    now: OffsetDateTime,
    known: Known<'_>,
) -> Result<Grant, Refusal> {
    if body.len() > 4096 {
        return Err(Refusal::BadRequest);
    }
    let req: GrantRequest = serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)?;
    let grantee = plain(&req.grantee, 256)?;
    let grantee_name = plain(&req.grantee_name, 120)?;
    let mut scopes = req.scopes;
    let count = scopes.len();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty()
        || scopes.len() != count
        || scopes.iter().any(|s| !known.scopes.contains(&s.as_str()))
    {
        return Err(Refusal::BadRequest);
    }
    let mut categories = req.categories;
    let count = categories.len();
    categories.sort();
    categories.dedup();
    if categories.len() != count
        || categories
            .iter()
            .any(|c| !known.categories.contains(&c.as_str()))
    {
        return Err(Refusal::BadRequest);
    }
    let expires = parse_date(&req.expires).ok_or(Refusal::BadRequest)?;
    let today = now.date();
    if expires < today || (expires - today).whole_days() > MAX_GRANT_DAYS {
        return Err(Refusal::BadRequest);
    }
    Ok(Grant {
        id: id.to_owned(),
        patient: patient.to_owned(),
        grantee,
        grantee_name,
        patient_name: patient_name.map(str::to_owned),
        scopes,
        categories,
        expires: req.expires,
        granted: tiergate_core::fhirtime::format(now),
        made_by: MadeBy::Patient,
        agreed: None,
        revoked: None,
    })
}

/// The policy's proxy scope and exclusion category ids.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub scopes: &'a [&'a str],
    pub categories: &'a [&'a str],
}

fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

impl Grant {
    /// When the person made, renewed or agreed to this grant, if they did.
    pub fn agreed_by_patient(&self) -> Option<&str> {
        match self.made_by {
            MadeBy::Patient => Some(&self.granted),
            MadeBy::Other => self.agreed.as_deref(),
        }
    }

    /// [`Grant::agreed_by_patient`] as an instant (`None` when unreadable).
    pub fn agreed_at(&self) -> Option<OffsetDateTime> {
        self.agreed_by_patient()
            .and_then(|a| tiergate_core::fhirtime::parse(a, tiergate_core::fhirtime::Edge::Start))
    }

    /// In force on `now`: not revoked and not past its last day.
    pub fn in_force(&self, now: OffsetDateTime) -> bool {
        self.revoked.is_none() && parse_date(&self.expires).is_some_and(|d| now.date() <= d)
    }
}

/// What a proxy holds for a patient on a day, before the policy's age
/// rules (core applies them with the patient's birth date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The union of the scopes of the grants in force.
    pub scopes: Vec<String>,
    /// The union of the exclusion categories they share.
    pub categories: Vec<String>,
    /// The person's agreement: the earliest among the grants in force, and
    /// none if any of them lacks one (one agreement never widens another
    /// grant).
    pub agreed: Option<String>,
}

/// What `grantee` holds for `patient` on `now`, or `None` when no grant is
/// in force.
pub fn held(grants: &[Grant], grantee: &str, patient: &str, now: OffsetDateTime) -> Option<Held> {
    let in_force: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.grantee == grantee && g.patient == patient && g.in_force(now))
        .collect();
    let mut scopes: Vec<String> = in_force.iter().flat_map(|g| g.scopes.clone()).collect();
    if scopes.is_empty() {
        return None;
    }
    scopes.sort();
    scopes.dedup();
    let mut categories: Vec<String> = in_force.iter().flat_map(|g| g.categories.clone()).collect();
    categories.sort();
    categories.dedup();
    let agreements: Option<Vec<OffsetDateTime>> = in_force.iter().map(|g| g.agreed_at()).collect();
    let agreed = agreements
        .and_then(|a| a.into_iter().min())
        .map(tiergate_core::fhirtime::format);
    Some(Held {
        scopes,
        categories,
        agreed,
    })
}

/// The scopes `grantee` holds for `patient` on `now` (the union of the
/// grants in force), or `None` when no grant is in force.
pub fn scopes_for(
    grants: &[Grant],
    grantee: &str,
    patient: &str,
    now: OffsetDateTime,
) -> Option<Vec<String>> {
    held(grants, grantee, patient, now).map(|h| h.scopes)
}

/// What a grant gives its proxy on `now`, for `/me`: the scopes in force
/// by the policy's age rules (for a patient born on `birth_date`; `None`
/// is the strictest) and the person's agreement, and the granted scopes
/// that wait for the person to agree.
pub fn acting_for(
    g: &Grant,
    birth_date: Option<&str>,
    policy: &tiergate_core::Policy,
    now: OffsetDateTime,
) -> serde_json::Value {
    let today = policy.proxy_scopes_at(&g.scopes, g.agreed_at(), birth_date, now);
    let waiting: Vec<&String> = g.scopes.iter().filter(|s| !today.contains(s)).collect();
    serde_json::json!({
        "patient": g.patient,
        "patient_name": g.patient_name,
        "scopes": today,
        "granted_scopes": g.scopes,
        "awaiting_agreement": waiting,
        "expires": g.expires,
        "grant": g.id
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_parent_acts_for_a_teenager_only_as_far_as_the_age_rules_and_the_agreement_allow() {
        let policy = tiergate_core::Policy::default_policy().unwrap();
        let mut g = ok(
            r#"{"grantee": "grace", "grantee_name": "Grace", "scopes": ["appointments", "booking", "record"], "expires": "2027-01-31"}"#,
        );
        g.scopes.push("sharing".into());
        g.made_by = MadeBy::Other;
        let child = acting_for(&g, Some("2019-06-14"), &policy, NOW);
        assert_eq!(
            child["scopes"],
            serde_json::json!(["appointments", "booking", "record", "sharing"])
        );
        assert_eq!(child["awaiting_agreement"], serde_json::json!([]));
        // 14: appointments and booking; the record waits for the young
        // person's own agreement; sharing is not a parent's at that age.
        let teen = acting_for(&g, Some("2012-03-01"), &policy, NOW);
        assert_eq!(
            teen["scopes"],
            serde_json::json!(["appointments", "booking"])
        );
        assert_eq!(
            teen["awaiting_agreement"],
            serde_json::json!(["record", "sharing"])
        );
        g.agreed = Some("2026-11-20T10:00:00Z".into());
        let agreed = acting_for(&g, Some("2012-03-01"), &policy, NOW);
        assert_eq!(
            agreed["scopes"],
            serde_json::json!(["appointments", "booking", "record"])
        );
        // No birth date: the strictest band.
        g.agreed = None;
        let unknown = acting_for(&g, None, &policy, NOW);
        assert_eq!(unknown["scopes"], serde_json::json!([]));
        assert_eq!(
            unknown["granted_scopes"],
            serde_json::json!(["appointments", "booking", "record", "sharing"])
        );
    }

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);
    const KNOWN: Known<'static> = Known {
        scopes: &["appointments", "booking", "record"],
        categories: &["hiv_aids", "complaints"],
    };

    fn ok(body: &str) -> Grant {
        grant(
            body.as_bytes(),
            "joe-patient",
            Some("Joe"),
            "g1",
            NOW,
            KNOWN,
        )
        .unwrap()
    }

    #[test]
    fn a_grant_is_checked_and_normalised() {
        let g = ok(
            r#"{"grantee": "anne", "grantee_name": " Anne ", "scopes": ["booking", "appointments"], "expires": "2027-01-31"}"#,
        );
        assert_eq!(g.scopes, ["appointments", "booking"]);
        assert_eq!(g.grantee_name, "Anne");
        assert!(g.in_force(NOW));
        assert!(!g.in_force(datetime!(2027-02-01 00:00 UTC)));
        assert!(g.in_force(datetime!(2027-01-31 23:59 UTC)));
    }

    #[test]
    fn bad_grants_are_refused() {
        for body in [
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["everything"], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": [], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record", "record"], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "expires": "2026-11-24"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "expires": "2028-11-25"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "expires": "soon"}"#,
            r#"{"grantee": "", "grantee_name": "Anne", "scopes": ["record"], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "A\nB", "scopes": ["record"], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "expires": "2027-01-31", "admin": true}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "categories": ["hiv"], "expires": "2027-01-31"}"#,
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "categories": ["complaints", "complaints"], "expires": "2027-01-31"}"#,
        ] {
            assert_eq!(
                grant(body.as_bytes(), "joe-patient", None, "g", NOW, KNOWN).unwrap_err(),
                Refusal::BadRequest,
                "{body}"
            );
        }
    }

    #[test]
    fn scopes_are_the_union_of_grants_in_force_for_that_patient() {
        let mut a = ok(
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["appointments"], "expires": "2027-01-31"}"#,
        );
        let b = ok(
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["booking"], "expires": "2026-12-01"}"#,
        );
        let grants = vec![a.clone(), b.clone()];
        assert_eq!(
            scopes_for(&grants, "anne", "joe-patient", NOW).unwrap(),
            ["appointments", "booking"]
        );
        assert_eq!(scopes_for(&grants, "anne", "susan-patient", NOW), None);
        assert_eq!(scopes_for(&grants, "bob", "joe-patient", NOW), None);
        assert_eq!(
            scopes_for(
                &grants,
                "anne",
                "joe-patient",
                datetime!(2026-12-02 09:00 UTC)
            )
            .unwrap(),
            ["appointments"]
        );
        let mut c = ok(
            r#"{"grantee": "anne", "grantee_name": "Anne", "scopes": ["record"], "categories": ["hiv_aids"], "expires": "2027-01-31"}"#,
        );
        c.made_by = MadeBy::Other;
        let h = held(&[a.clone(), c.clone()], "anne", "joe-patient", NOW).unwrap();
        assert_eq!(h.categories, ["hiv_aids"]);
        assert_eq!(h.agreed, None, "one grant the person never agreed to");
        c.agreed = Some("2026-11-20T10:00:00Z".into());
        let h = held(&[a.clone(), c], "anne", "joe-patient", NOW).unwrap();
        assert_eq!(h.agreed.as_deref(), Some("2026-11-20T10:00:00Z"));
        a.revoked = Some("2026-11-25T13:00:00Z".into());
        assert_eq!(
            scopes_for(
                &[a, b],
                "anne",
                "joe-patient",
                datetime!(2026-12-02 09:00 UTC)
            ),
            None
        );
    }
}
