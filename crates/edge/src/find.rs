//! Patient finding: Summary tier 1 demographics of matching patients only.
//!
//! The origin's search result is cut down to a fixed list of demographic
//! elements (NHS number, name, gender, birth date, postcode and town,
//! care-setting tag and security labels), then redacted by core as
//! Summary tier 1 under a consent that permits exactly Summary tier 1: so
//! the viewer's profile, training and purpose are checked by the same
//! engine, and a patient core would withhold (e.g. a restricted security
//! label) is not found. More than [`FIND_CAP`] matches is refused as too
//! broad, so the search cannot be used to trawl.

use serde_json::{json, Map, Value};
use tiergate_core::{ConsentSet, Decisions, Policy, Request, Viewer};

use crate::outcome::Refusal;
use crate::route::{FIND_CAP, NHS_NUMBER_SYSTEM};

/// One Patient reduced to demographics.
fn project(p: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("resourceType".into(), "Patient".into());
    if let Some(id) = p.get("id") {
        out.insert("id".into(), id.clone());
    }
    let mut meta = Map::new();
    if let Some(m) = p.get("meta").and_then(Value::as_object) {
        for key in ["tag", "security"] {
            if let Some(v) = m.get(key) {
                meta.insert(key.into(), v.clone());
            }
        }
    }
    if !meta.is_empty() {
        out.insert("meta".into(), Value::Object(meta));
    }
    let nhs: Vec<Value> = p
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM))
        .map(|i| json!({"system": NHS_NUMBER_SYSTEM, "value": i.get("value").cloned().unwrap_or(Value::Null)}))
        .collect();
    if !nhs.is_empty() {
        out.insert("identifier".into(), Value::Array(nhs));
    }
    let names: Vec<Value> = p
        .get("name")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|n| {
            let mut m = Map::new();
            for key in ["use", "family", "given", "prefix"] {
                if let Some(v) = n.get(key) {
                    m.insert(key.into(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    if !names.is_empty() {
        out.insert("name".into(), Value::Array(names));
    }
    for key in ["gender", "birthDate"] {
        if let Some(v) = p.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let addresses: Vec<Value> = p
        .get("address")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            let mut m = Map::new();
            for key in ["use", "city", "postalCode"] {
                if let Some(v) = a.get(key) {
                    m.insert(key.into(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    if !addresses.is_empty() {
        out.insert("address".into(), Value::Array(addresses));
    }
    Value::Object(out)
}

/// What patient finding returns: the body and the decisions (for audit).
#[derive(Debug, Clone)]
pub struct Found {
    pub body: Vec<u8>,
    pub decisions: Decisions,
}

/// Reduces an origin search result to demographics the viewer may see.
pub fn find(
    origin: &Value,
    viewer: &Viewer,
    now: time::OffsetDateTime,
    policy: &Policy,
) -> Result<Found, Refusal> {
    if origin.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(Refusal::BadGateway);
    }
    let patients: Vec<Value> = match origin.get("entry") {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries
            .iter()
            .filter_map(|e| e.get("resource").and_then(Value::as_object))
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
            .map(project)
            .collect(),
        Some(_) => return Err(Refusal::BadGateway),
    };
    if patients.len() > FIND_CAP {
        return Err(Refusal::TooCostly);
    }
    let entries: Vec<Value> = patients
        .into_iter()
        .map(|r| json!({"resource": r, "search": {"mode": "match"}}))
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries});
    let consent = ConsentSet::from_value(
        &json!({"directives": [{"id": "patient-finding", "kind": "permit", "recorded": "1970-01-01T00:00:00Z",
                "scope": {"segments": [{"segment": "summary", "tier": 1}]}}]}),
        policy,
    )
    .and_then(|c| c.compile(policy))
    .map_err(|_| Refusal::BadGateway)?;
    let request = Request {
        viewer,
        consent: &consent,
        now,
        default_setting: Some("primary_care"),
        holding_organisation: None,
    };
    let red = policy
        .redact_value(&bundle, &request)
        .map_err(|_| Refusal::BadGateway)?;
    Ok(Found {
        body: red.body,
        decisions: red.decisions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn viewer(profile: &str, training: &str) -> Viewer {
        Viewer::from_json(format!(r#"{{"user_id": "u", "organisation": "R9A", "profile": "{profile}", "purpose": "direct-care", "training": {training}}}"#).as_bytes()).unwrap()
    }

    fn origin() -> Value {
        let joe = tiergate_demo::PATIENTS
            .iter()
            .find(|p| p.key == "joe")
            .unwrap();
        let joe: Value = serde_json::from_str(joe.record).unwrap();
        let patient = joe["entry"][0]["resource"].clone();
        json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": patient}]})
    }

    #[test]
    fn demographics_only() {
        let p = Policy::default_policy().unwrap();
        let f = find(
            &origin(),
            &viewer("5", r#"{"expires": "2029-01-01"}"#),
            datetime!(2026-11-25 12:00 UTC),
            &p,
        )
        .unwrap();
        let body = String::from_utf8(f.body).unwrap();
        assert!(body.contains("9990000018"), "{body}");
        assert!(body.contains("Whitfield"));
        assert!(body.contains("PR8 2BQ"));
        for gone in [
            "Lulworth",
            "generalPractitioner",
            "managingOrganization",
            "telecom",
        ] {
            assert!(!body.contains(gone), "{gone}");
        }
        assert_eq!(f.decisions.summary.allowed, 1);
    }

    #[test]
    fn no_training_finds_nothing() {
        let p = Policy::default_policy().unwrap();
        let f = find(
            &origin(),
            &viewer("5", "null"),
            datetime!(2026-11-25 12:00 UTC),
            &p,
        )
        .unwrap();
        assert!(!String::from_utf8(f.body).unwrap().contains("9990000018"));
    }

    #[test]
    fn too_many_matches_are_refused() {
        let p = Policy::default_policy().unwrap();
        let one = origin()["entry"][0].clone();
        let many = json!({"resourceType": "Bundle", "type": "searchset", "entry": vec![one; FIND_CAP + 1]});
        assert_eq!(
            find(
                &many,
                &viewer("5", r#"{"expires": "2029-01-01"}"#),
                datetime!(2026-11-25 12:00 UTC),
                &p
            )
            .unwrap_err(),
            Refusal::TooCostly
        );
        assert_eq!(
            find(
                &json!({"resourceType": "Patient"}),
                &viewer("5", "null"),
                datetime!(2026-11-25 12:00 UTC),
                &p
            )
            .unwrap_err(),
            Refusal::BadGateway
        );
    }
}
