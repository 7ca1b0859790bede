//! The built-in demo: an origin serving the synthetic demo patients of
//! `tiergate-demo` (with their consents as baseline directives), the demo
//! users, and the demo-only signing key for the demo login, all as they
//! stand on the day the demo runs (see [`tiergate_demo::Demo::at`]).
//!
//! Everything here is synthetic. The demo key is public (committed): its
//! tokens are accepted only when the worker runs with `DEMO=on`, and only
//! with the demo issuer.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use tiergate_core::{ConsentDirective, ConsentSet, Policy, Viewer};

use crate::route::{parse_query, NHS_NUMBER_SYSTEM};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    #[error("demo file `{0}` does not parse")]
    Data(String),
}

pub use crate::demo_people::{Patient, User};

/// The demo, parsed once per process or isolate.
#[derive(Debug, Clone)]
pub struct Demo {
    /// Whole days every date moved from the data files (see
    /// [`tiergate_demo::Demo::at`]).
    pub days: i64,
    pub patients: Vec<Patient>,
    pub users: Vec<User>,
    /// People signing in as themselves (or as a carer).
    pub citizens: Vec<User>,
    pub grants: Vec<crate::proxy::Grant>,
    pub key: p256::ecdsa::SigningKey,
    pub kid: String,
    pub issuer: String,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

impl Demo {
    /// The demo as it stands at `now`.
    pub fn at(policy: &Policy, now: time::OffsetDateTime) -> Result<Self, DemoError> {
        Self::load(policy, &tiergate_demo::Demo::at(now))
    }

    /// The demo as its files are written (at [`tiergate_demo::ANCHOR`]).
    pub fn as_written(policy: &Policy) -> Result<Self, DemoError> {
        Self::load(policy, &tiergate_demo::Demo::moved(0))
    }

    /// The demo from its files, already moved to a day.
    pub fn load(policy: &Policy, files: &tiergate_demo::Demo) -> Result<Self, DemoError> {
        let mut patients = Vec::new();
        for tiergate_demo::Patient {
            key,
            record,
            consent,
        } in &files.patients
        {
            let record: Value =
                serde_json::from_str(record).map_err(|_| DemoError::Data((*key).into()))?;
            let patient = record
                .get("entry")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("resource"))
                .find(|r| r.get("resourceType").and_then(Value::as_str) == Some("Patient"))
                .cloned()
                .ok_or_else(|| DemoError::Data((*key).into()))?;
            let consent = ConsentSet::from_json(consent.as_bytes(), policy)
                .map_err(|_| DemoError::Data(format!("consents/{key}")))?;
            let nhs = patient
                .get("identifier")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM))
                .and_then(|i| i.get("value"))
                .map(s)
                .unwrap_or_default();
            let family = patient
                .get("name")
                .and_then(|n| n.get(0))
                .and_then(|n| n.get("family"))
                .map(s)
                .unwrap_or_default();
            patients.push(Patient {
                key: (*key).to_owned(),
                id: patient.get("id").map(s).unwrap_or_default(),
                nhs_number: nhs,
                family,
                birth_date: patient.get("birthDate").map(s).unwrap_or_default(),
                record,
                consent: consent.directives,
            });
        }
        // Professionals sign in; break glass is stated per request, so the
        // viewer file that shows it is not a user of its own, and the
        // patient-portal viewers are people, below.
        let mut users = Vec::new();
        for (key, json) in &files.viewers {
            let viewer = Viewer::from_json(json.as_bytes())
                .map_err(|_| DemoError::Data(format!("viewers/{key}")))?;
            if viewer.break_glass.is_some() || viewer.profile == "patient" {
                continue;
            }
            users.push(User {
                key: (*key).to_owned(),
                viewer,
            });
        }
        let mut citizens = Vec::new();
        for (key, json) in &files.citizens {
            let viewer = Viewer::from_json(json.as_bytes())
                .map_err(|_| DemoError::Data(format!("citizens/{key}")))?;
            citizens.push(User {
                key: (*key).to_owned(),
                viewer,
            });
        }
        let grants =
            serde_json::from_str(&files.grants).map_err(|_| DemoError::Data("grants".into()))?;
        let keyfile: Value = serde_json::from_str(tiergate_demo::SIGNING_KEY)
            .map_err(|_| DemoError::Data("key".into()))?;
        let d = keyfile
            .get("d")
            .and_then(Value::as_str)
            .and_then(|d| URL_SAFE_NO_PAD.decode(d).ok())
            .ok_or_else(|| DemoError::Data("key".into()))?;
        let key =
            p256::ecdsa::SigningKey::from_slice(&d).map_err(|_| DemoError::Data("key".into()))?;
        Ok(Self {
            days: files.days,
            patients,
            users,
            citizens,
            grants,
            key,
            kid: keyfile.get("kid").map(s).unwrap_or_default(),
            issuer: keyfile.get("issuer").map(s).unwrap_or_default(),
        })
    }

    /// The public JWKS of the demo key.
    pub fn jwks(&self) -> crate::jwt::Jwks {
        let set = json!({"keys": [crate::jwt::es256_public_jwk(&self.key, &self.kid)]});
        crate::jwt::Jwks::from_json(set.to_string().as_bytes()).unwrap_or_default()
    }

    /// A demo token for a demo user, valid for an hour from `now` (Unix seconds).
    pub fn token(&self, user: &str, audience: &str, now: i64) -> Option<String> {
        let u = self
            .users
            .iter()
            .chain(&self.citizens)
            .find(|u| u.key == user)?;
        let mut claims = crate::claims::claims_for(&u.viewer);
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("aud".into(), audience.into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + 3600).into());
        Some(crate::jwt::sign_es256(
            &Value::Object(claims),
            &self.kid,
            &self.key,
        ))
    }

    /// Baseline consent directives of a demo patient.
    pub fn consent(&self, patient: &str) -> &[ConsentDirective] {
        self.patients
            .iter()
            .find(|p| p.id == patient)
            .map_or(&[], |p| p.consent.as_slice())
    }

    /// Answers an origin request (`upstream` as built by [`crate::route`]):
    /// status and body.
    pub fn respond(&self, upstream: &str) -> (u16, Vec<u8>) {
        self.respond_with(upstream, &[])
    }

    /// As [`Demo::respond`], with resources the demo origin was sent for
    /// the request's patient (bookings, plans): they join the patient's
    /// record, replacing a resource of the same type and id.
    pub fn respond_with(&self, upstream: &str, writes: &[Value]) -> (u16, Vec<u8>) {
        let not_found = || (404, tiergate_core::not_found_body());
        let (path, query) = upstream.split_once('?').unwrap_or((upstream, ""));
        let Ok(params) = parse_query(query) else {
            return (400, tiergate_core::not_found_body());
        };
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let segments: Vec<&str> = path.split('/').collect();
        let ok = |v: &Value| (200, serde_json::to_vec(v).unwrap_or_default());
        let searchset = |resources: Vec<&Value>| {
            let entries: Vec<Value> = resources
                .into_iter()
                .map(|r| json!({"resource": r, "search": {"mode": "match"}}))
                .collect();
            json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
        };
        match segments.as_slice() {
            ["Patient"] => {
                let matches: Vec<&Value> = self
                    .patients
                    .iter()
                    .filter(|p| match param("identifier") {
                        Some(i) => i.rsplit('|').next() == Some(p.nhs_number.as_str()),
                        None => {
                            param("family").is_some_and(|f| f.eq_ignore_ascii_case(&p.family))
                                && param("birthdate") == Some(p.birth_date.as_str())
                        }
                    })
                    .filter_map(|p| p.record.get("entry")?.get(0)?.get("resource"))
                    .collect();
                ok(&searchset(matches))
            }
            ["Patient", id, "$everything"] => match self.patients.iter().find(|p| p.id == *id) {
                Some(p) if writes.is_empty() => ok(&p.record),
                Some(p) => ok(&with_writes(&p.record, writes)),
                None => not_found(),
            },
            [t] => {
                let Some(p) =
                    param("patient").and_then(|id| self.patients.iter().find(|p| p.id == id))
                else {
                    return ok(&searchset(Vec::new()));
                };
                let record = with_writes(&p.record, writes);
                let matches = resources(&record)
                    .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some(t))
                    .collect();
                ok(&searchset(matches))
            }
            [t, id] | [t, id, "_history"] | [t, id, "_history", "1"] => {
                let found = self
                    .patients
                    .iter()
                    .flat_map(|p| resources(&p.record))
                    .find(|r| {
                        r.get("resourceType").and_then(Value::as_str) == Some(t)
                            && r.get("id").and_then(Value::as_str) == Some(id)
                    });
                match (found, segments.len()) {
                    (None, _) => not_found(),
                    (Some(r), 3) => ok(
                        &json!({"resourceType": "Bundle", "type": "history", "total": 1,
                        "entry": [{"resource": r, "request": {"method": "PUT", "url": format!("{t}/{id}")}}]}),
                    ),
                    (Some(r), _) => ok(r),
                }
            }
            _ => not_found(),
        }
    }
}

fn reference(r: &Value) -> (Option<&str>, Option<&str>) {
    (
        r.get("resourceType").and_then(Value::as_str),
        r.get("id").and_then(Value::as_str),
    )
}

/// A record with written resources added (or replacing same type and id).
fn with_writes(record: &Value, writes: &[Value]) -> Value {
    let mut out = record.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    let mut n = None;
    if let Some(entries) = obj.get_mut("entry").and_then(Value::as_array_mut) {
        for w in writes {
            let key = reference(w);
            match entries
                .iter_mut()
                .find(|e| e.get("resource").map(reference) == Some(key))
            {
                Some(e) => *e = json!({"resource": w, "search": {"mode": "match"}}),
                None => entries.push(json!({"resource": w, "search": {"mode": "match"}})),
            }
        }
        n = Some(entries.len());
    }
    if let Some(n) = n {
        obj.insert("total".into(), n.into());
    }
    out
}

fn resources(record: &Value) -> impl Iterator<Item = &Value> {
    record
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("resource"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Demo {
        Demo::as_written(&Policy::default_policy().unwrap()).unwrap()
    }

    fn body(r: (u16, Vec<u8>)) -> (u16, Value) {
        (r.0, serde_json::from_slice(&r.1).unwrap())
    }

    #[test]
    fn loads_every_patient_user_and_the_key() {
        let d = demo();
        assert_eq!(d.patients.len(), 9);
        assert_eq!(d.users.len(), 18);
        assert_eq!(d.citizens.len(), 5);
        assert!(d.citizens.iter().all(|c| c.viewer.profile == "patient"));
        assert_eq!(d.grants.len(), 3);
        assert!(d
            .patients
            .iter()
            .all(|p| p.nhs_number.len() == 10 && !p.id.is_empty()));
        assert!(!d.consent("joe-patient").is_empty());
        assert!(d.consent("nobody").is_empty());
        assert!(!d.jwks().is_empty());
    }

    #[test]
    fn demo_tokens_verify_against_the_demo_key_only() {
        let d = demo();
        let t = d.token("aed-doctor-6", "tiergate", 1_790_000_000).unwrap();
        let expect = crate::jwt::Expectations {
            issuer: &d.issuer,
            audience: "tiergate",
            now: 1_790_000_100,
        };
        let claims = crate::jwt::verify(&t, &d.jwks(), &expect).unwrap();
        assert_eq!(claims["profile"], "6");
        let empty = crate::jwt::Jwks::default();
        assert!(crate::jwt::verify(&t, &empty, &expect).is_err());
        assert!(d.token("nobody", "tiergate", 0).is_none());
    }

    #[test]
    fn origin_answers() {
        let d = demo();
        let (s, v) = body(d.respond("Patient/joe-patient/$everything"));
        assert_eq!(s, 200);
        let joe = d.patients.iter().find(|p| p.id == "joe-patient").unwrap();
        let n = joe.record["entry"].as_array().unwrap().len();
        assert!(n > 30);
        assert_eq!(v["entry"].as_array().unwrap().len(), n);
        let (s, v) = body(d.respond("Patient/joe-patient"));
        assert_eq!((s, v["id"].as_str()), (200, Some("joe-patient")));
        let (s, v) = body(d.respond("AllergyIntolerance/joe-allergy/_history"));
        assert_eq!((s, v["type"].as_str()), (200, Some("history")));
        let (s, v) = body(d.respond("Condition?patient=joe-patient"));
        assert_eq!(s, 200);
        assert!(v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["resource"]["resourceType"] == "Condition"));
        let (_, v) = body(d.respond(
            "Patient?identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000018&_count=11",
        ));
        assert_eq!(v["total"], 1);
        let (_, v) = body(d.respond("Patient?family=whitfield&birthdate=1963-04-12&_count=11"));
        assert_eq!(v["total"], 1);
        let (_, v) = body(d.respond("Patient?family=whitfield&birthdate=1963-04-13&_count=11"));
        assert_eq!(v["total"], 0);
        assert_eq!(d.respond("Observation/nope").0, 404);
        let booked = json!({"resourceType": "Appointment", "id": "b1", "status": "proposed"});
        let (_, v) = body(d.respond_with(
            "Patient/joe-patient/$everything",
            std::slice::from_ref(&booked),
        ));
        assert_eq!(v["entry"].as_array().unwrap().len(), n + 1);
        assert_eq!(v["total"], n + 1);
        let (_, v) = body(d.respond_with("Appointment?patient=joe-patient", &[booked]));
        assert!(v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource"]["id"] == "b1"));
        assert_eq!(d.respond("Patient/nobody/$everything").0, 404);
    }
}
