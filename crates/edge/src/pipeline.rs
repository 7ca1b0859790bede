//! The record path between the origin's answer and the response: accept
//! (or refuse) what the origin returned, then decide and redact with core.
//! Every failure releases nothing.

use tiergate_core::json::Value;
use tiergate_core::{ConsentSet, Decisions, Outcome, Policy, Request, Viewer};
use time::OffsetDateTime;

use crate::outcome::Refusal;
use crate::route::Route;

/// Default largest origin body accepted (bytes).
pub const DEFAULT_MAX_ORIGIN_BYTES: usize = 16 * 1024 * 1024;

/// What to send back for a record request.
#[derive(Debug, Clone)]
pub struct Served {
    pub status: u16,
    pub body: Vec<u8>,
    pub decisions: Decisions,
    /// Whether record data was released (a withheld read is a 404).
    pub released: bool,
}

/// Checks an origin answer: status, content type, size, JSON, and that it
/// belongs to the request's one patient. Returns the record and patient.
pub fn accept_origin<'a>(
    status: u16,
    content_type: Option<&str>,
    body: &'a [u8],
    route: &Route,
    max_bytes: usize,
) -> Result<(Value<'a>, String), Refusal> {
    match status {
        200 => {}
        404 | 410 => return Err(Refusal::NotFound),
        _ => return Err(Refusal::BadGateway),
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if !(ct.starts_with("application/fhir+json") || ct.starts_with("application/json")) {
        return Err(Refusal::BadGateway);
    }
    if body.len() > max_bytes {
        return Err(Refusal::BadGateway);
    }
    // Core's record tree: parsed once, here, for the checks, the audit facts
    // and redaction alike.
    let record = tiergate_core::parse_tree(body).map_err(|_| Refusal::BadGateway)?;
    match record.get("resourceType").and_then(Value::as_str) {
        None | Some("OperationOutcome") => return Err(Refusal::BadGateway),
        Some(_) => {}
    }
    let patient = crate::context::record_patient(&record, route.patient.as_deref())?;
    Ok((record, patient))
}

/// Response header set when entries were withheld only for want of consent
/// for the viewer's organisation and context.
pub const CONSENT_HEADER: &str = "x-tiergate-consent";

/// Whether recording consent at the point of care would change what this
/// viewer is shown.
pub fn consent_required(decisions: &Decisions) -> bool {
    decisions
        .summary
        .withheld_by_reason
        .get(&tiergate_core::Reason::NoConsent.code())
        .is_some_and(|n| *n > 0)
}

/// Checks break glass against the policy before anything is fetched.
pub fn check_break_glass(
    viewer: &Viewer,
    policy: &Policy,
    now: OffsetDateTime,
) -> Result<(), Refusal> {
    viewer
        .break_glass_at(policy, now)
        .map(|_| ())
        .map_err(|_| Refusal::BreakGlassRefused)
}

/// What the edge knows of the origin system, for entries that say nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    /// Its care setting (`ORIGIN_SETTING`).
    pub setting: Option<&'a str>,
    /// The organisation that runs it and holds what it records
    /// (`ORIGIN_ORGANISATION`): own-organisation pass-through.
    pub organisation: Option<&'a str>,
}

/// Decides and redacts a record (as accepted by [`accept_origin`]) for a
/// viewer.
pub fn redact(
    record: &Value<'_>,
    viewer: &Viewer,
    consent: &ConsentSet,
    now: OffsetDateTime,
    policy: &Policy,
    origin: Origin<'_>,
) -> Result<Served, Refusal> {
    check_break_glass(viewer, policy, now)?;
    let compiled = consent.compile(policy).map_err(|_| Refusal::BadGateway)?;
    let request = Request {
        viewer,
        consent: &compiled,
        now,
        default_setting: origin.setting,
        holding_organisation: origin.organisation,
    };
    let red = policy
        .redact_parsed(record, &request)
        .map_err(|_| Refusal::BadGateway)?;
    Ok(match red.outcome {
        Outcome::Document => Served {
            status: 200,
            body: red.body,
            decisions: red.decisions,
            released: true,
        },
        Outcome::NotFound => Served {
            status: 404,
            body: Refusal::NotFound.body(),
            decisions: red.decisions,
            released: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::Demo;
    use crate::route::route;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-25 12:00 UTC);

    struct Fixture {
        policy: Policy,
        demo: Demo,
    }

    fn fixture() -> Fixture {
        let policy = Policy::default_policy().unwrap();
        let demo = Demo::at(&policy, NOW).unwrap();
        Fixture { policy, demo }
    }

    impl Fixture {
        fn viewer(&self, key: &str) -> Viewer {
            self.demo
                .users
                .iter()
                .find(|u| u.key == key)
                .unwrap()
                .viewer
                .clone()
        }

        /// Route -> demo origin -> accept -> redact, as the worker does.
        fn get(&self, path: &str, query: Option<&str>, viewer: &Viewer) -> Result<Served, Refusal> {
            let r = route("GET", path, query)?;
            let (status, body) = self.demo.respond(&r.upstream);
            let (record, patient) = accept_origin(
                status,
                Some("application/fhir+json"),
                &body,
                &r,
                DEFAULT_MAX_ORIGIN_BYTES,
            )?;
            let consent = ConsentSet {
                directives: self.demo.consent(&patient).to_vec(),
            };
            redact(
                &record,
                viewer,
                &consent,
                NOW,
                &self.policy,
                Origin::default(),
            )
        }
    }

    fn ids(s: &Served) -> Vec<String> {
        crate::audit::returned(&s.decisions)
    }

    #[test]
    fn per_profile_everything() {
        let f = fixture();
        let aed = f
            .get(
                "/fhir/Patient/joe-patient/$everything",
                None,
                &f.viewer("aed-doctor-6"),
            )
            .unwrap();
        let clerk = f
            .get(
                "/fhir/Patient/joe-patient/$everything",
                None,
                &f.viewer("admin-clerk-5"),
            )
            .unwrap();
        let gp = f
            .get(
                "/fhir/Patient/joe-patient/$everything",
                None,
                &f.viewer("gp-1b"),
            )
            .unwrap();
        assert_eq!(aed.status, 200);
        assert!(
            ids(&aed).len() > ids(&clerk).len(),
            "{:?} {:?}",
            ids(&aed),
            ids(&clerk)
        );
        assert!(ids(&aed).contains(&"AllergyIntolerance/joe-allergy".to_owned()));
        assert!(!ids(&clerk).contains(&"AllergyIntolerance/joe-allergy".to_owned()));
        // A GP at another practice with no consent sees nothing of Joe's.
        assert_eq!(gp.decisions.summary.allowed, 0);
        // The complaint (Appendix 1) never leaves.
        let body = String::from_utf8(aed.body).unwrap();
        assert!(!body.contains("9U"));
    }

    #[test]
    fn withheld_read_is_a_missing_read() {
        let f = fixture();
        let gp = f.viewer("gp-1b");
        let withheld = f
            .get("/fhir/AllergyIntolerance/joe-allergy", None, &gp)
            .unwrap();
        assert_eq!(withheld.status, 404);
        let missing = f
            .get("/fhir/AllergyIntolerance/no-such", None, &gp)
            .unwrap_err();
        assert_eq!(missing, Refusal::NotFound);
        assert_eq!(withheld.body, missing.body());
        let aed = f
            .get(
                "/fhir/AllergyIntolerance/joe-allergy",
                None,
                &f.viewer("aed-doctor-6"),
            )
            .unwrap();
        assert_eq!(aed.status, 200);
    }

    #[test]
    fn history_of_one_resource() {
        let f = fixture();
        let aed = f
            .get(
                "/fhir/AllergyIntolerance/joe-allergy/_history",
                None,
                &f.viewer("aed-doctor-6"),
            )
            .unwrap();
        assert_eq!(aed.status, 200);
        assert_eq!(ids(&aed), vec!["AllergyIntolerance/joe-allergy".to_owned()]);
        let gp = f
            .get(
                "/fhir/AllergyIntolerance/joe-allergy/_history",
                None,
                &f.viewer("gp-1b"),
            )
            .unwrap();
        assert!(ids(&gp).is_empty());
        assert!(!String::from_utf8(gp.body).unwrap().contains("joe-allergy"));
    }

    #[test]
    fn break_glass() {
        let f = fixture();
        let mut v = f.viewer("ed-doctor-phil-6");
        let before = f
            .get("/fhir/Patient/joe-patient/$everything", None, &v)
            .unwrap();
        let s = crate::breakglass::from_headers(Some("unconscious"), Some("collapsed")).unwrap();
        v.break_glass = Some(crate::breakglass::to_core(&s, NOW));
        let after = f
            .get("/fhir/Patient/joe-patient/$everything", None, &v)
            .unwrap();
        assert!(after.decisions.summary.allowed > before.decisions.summary.allowed);
        assert!(after.decisions.summary.break_glass.is_some());
        let s = crate::breakglass::from_headers(None, Some("collapsed")).unwrap();
        v.break_glass = Some(crate::breakglass::to_core(&s, NOW));
        assert_eq!(
            f.get("/fhir/Patient/joe-patient/$everything", None, &v)
                .unwrap_err(),
            Refusal::BreakGlassRefused
        );
    }

    #[test]
    fn origin_failures_release_nothing() {
        let r = route("GET", "/fhir/Patient/p1/$everything", None).unwrap();
        let ok = br#"{"resourceType": "Bundle", "type": "searchset"}"#;
        let json = Some("application/fhir+json");
        assert!(accept_origin(200, json, ok, &r, 1000).is_ok());
        assert_eq!(
            accept_origin(500, json, ok, &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(404, json, ok, &r, 1000).unwrap_err(),
            Refusal::NotFound
        );
        assert_eq!(
            accept_origin(200, Some("text/html"), b"<html>", &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(200, None, ok, &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(200, json, b"{\"resourceType\":", &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(200, json, ok, &r, 10).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(200, json, b"[]", &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
        assert_eq!(
            accept_origin(
                200,
                json,
                br#"{"resourceType": "OperationOutcome"}"#,
                &r,
                1000
            )
            .unwrap_err(),
            Refusal::BadGateway
        );
        let other = br#"{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceType": "Patient", "id": "p2"}}]}"#;
        assert_eq!(
            accept_origin(200, json, other, &r, 1000).unwrap_err(),
            Refusal::BadGateway
        );
    }

    #[test]
    fn the_origins_organisation_holds_what_names_no_holder() {
        let f = fixture();
        let gp = f.viewer("gp-1b");
        let r = route("GET", "/fhir/Patient/joe-patient/$everything", None).unwrap();
        let (s, b) = f.demo.respond(&r.upstream);
        let (record, _) = accept_origin(
            s,
            Some("application/json"),
            &b,
            &r,
            DEFAULT_MAX_ORIGIN_BYTES,
        )
        .unwrap();
        let none = ConsentSet::default();
        let elsewhere = redact(&record, &gp, &none, NOW, &f.policy, Origin::default()).unwrap();
        let held = Origin {
            setting: None,
            organisation: Some(gp.organisation.as_str()),
        };
        let at_home = redact(&record, &gp, &none, NOW, &f.policy, held).unwrap();
        let own = |s: &Served| {
            s.decisions
                .entries
                .iter()
                .filter(|e| e.allowed_by.as_deref() == Some("own_organisation"))
                .count()
        };
        assert_eq!(
            own(&elsewhere),
            0,
            "the GP holds none of Joe's tagged entries"
        );
        assert!(
            own(&at_home) > 0,
            "the GP's own system holds the untagged entries"
        );
        // An entry tagged as another organisation's stays theirs.
        assert!(at_home
            .decisions
            .entries
            .iter()
            .filter(|e| e.id.as_deref() == Some("joe-adt"))
            .all(|e| e.decision == tiergate_core::Verdict::Withhold));
    }

    #[test]
    fn recorded_consent_and_opt_out_are_honoured() {
        let f = fixture();
        let gp = f.viewer("gp-1b");
        let r = route("GET", "/fhir/Patient/joe-patient/$everything", None).unwrap();
        let (s, b) = f.demo.respond(&r.upstream);
        let (record, _) = accept_origin(
            s,
            Some("application/json"),
            &b,
            &r,
            DEFAULT_MAX_ORIGIN_BYTES,
        )
        .unwrap();
        let before = redact(
            &record,
            &gp,
            &ConsentSet::default(),
            NOW,
            &f.policy,
            Origin::default(),
        )
        .unwrap();
        let permit = crate::directive::permit(
            br#"{}"#,
            "joe-patient",
            &gp,
            "c1",
            "2026-11-25T11:00:00Z",
            &f.policy,
        )
        .unwrap();
        let set =
            crate::directive::load(&[], std::slice::from_ref(&permit.resource), &f.policy).unwrap();
        let after = redact(&record, &gp, &set, NOW, &f.policy, Origin::default()).unwrap();
        assert!(after.decisions.summary.allowed > before.decisions.summary.allowed);
        let out = crate::directive::opt_out(
            br#"{"scope": {"segments": [{"segment": "summary"}]}}"#,
            "joe-patient",
            &gp,
            "o1",
            "2026-11-25T11:30:00Z",
            &f.policy,
        )
        .unwrap();
        let set = crate::directive::load(&[], &[permit.resource, out.resource], &f.policy).unwrap();
        let opted = redact(&record, &gp, &set, NOW, &f.policy, Origin::default()).unwrap();
        assert!(opted
            .decisions
            .summary
            .withheld_by_reason
            .contains_key("opted_out"));
        assert!(opted.decisions.summary.allowed < after.decisions.summary.allowed);
    }
}
