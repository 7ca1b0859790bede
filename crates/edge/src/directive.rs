//! Consent directives recorded at the edge, stored as FHIR R4 `Consent`
//! resources (the form core reads, see `docs/consent.md`).
//!
//! Two ways in:
//! * **consent at the point of care**: a practitioner records that the
//!   patient permits sharing with the practitioner's own organisation
//!   (optionally narrowed to profiles, a scope and a period);
//! * **opt-out**: a deny of a scope (the whole record, a segment or tier,
//!   a content line, an exclusion category or one entry), optionally for
//!   some actors only, recorded by the patient, an authorised proxy, or a
//!   practitioner on the patient's behalf; the Consent names who recorded
//!   it;
//! * **a patient's sharing choice** ([`choice`]): a permit or deny the
//!   patient makes for whom they choose.
//!
//! Every directive is checked by core before it is stored, and the FHIR
//! resource built for it is read back by core and must give the same
//! directive, so what is stored always means what was asked.

use serde::Deserialize;
use serde_json::{json, Value};
use tiergate_core::{
    Actors, ConsentDirective, ConsentSet, DirectiveKind, Period, Policy, Scope, Viewer,
};

use crate::outcome::Refusal;

/// Body of `POST /consent/Patient/{id}` (permit for the caller's organisation).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitRequest {
    /// Profiles within the organisation; empty means every profile.
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub period: Option<Period>,
}

/// Body of `POST /consent/Patient/{id}/opt-out`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    /// Who the opt-out applies to; empty means everyone.
    #[serde(default)]
    pub actors: Actors,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub period: Option<Period>,
}

/// A directive ready to store.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub directive: ConsentDirective,
    /// The FHIR `Consent`, compact JSON.
    pub resource: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    if body.len() > 16 * 1024 {
        return Err(Refusal::BadRequest);
    }
    serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)
}

/// Consent at the point of care: a permit for the recorder's organisation.
pub fn permit(
    body: &[u8],
    patient: &str,
    recorder: &Viewer,
    id: &str,
    now: &str,
    policy: &Policy,
) -> Result<Recorded, Refusal> {
    let req: PermitRequest = parse(body)?;
    let directive = ConsentDirective {
        id: id.to_owned(),
        kind: DirectiveKind::Permit,
        recorded: now.to_owned(),
        period: req.period,
        actors: Actors {
            organisations: vec![recorder.organisation.clone()],
            profiles: req.profiles,
            users: Vec::new(),
        },
        scope: req.scope,
        withdraws: None,
        reason: None,
    };
    finish(directive, patient, recorder, policy)
}

/// A sharing choice made by the patient (or a proxy permitted to manage
/// sharing): a permit or a deny of a scope for the actors named (none
/// named: everyone). Body as [`OptOutRequest`].
pub fn choice(
    body: &[u8],
    kind: DirectiveKind,
    patient: &str,
    recorder: &Viewer,
    id: &str,
    now: &str,
    policy: &Policy,
) -> Result<Recorded, Refusal> {
    let req: OptOutRequest = parse(body)?;
    let directive = ConsentDirective {
        id: id.to_owned(),
        kind,
        recorded: now.to_owned(),
        period: req.period,
        actors: req.actors,
        scope: req.scope,
        withdraws: None,
        reason: None,
    };
    finish(directive, patient, recorder, policy)
}

/// Body of `POST /consent/Patient/{id}/withdraw`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// The id of the opt-out withdrawn.
    pub opt_out: String,
    /// Why: required when a professional records the person's withdrawal.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a withdrawal is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    /// The patient's current set: the opt-out must be one of its denies.
    pub directives: &'a ConsentSet,
    /// For a professional recording the person's withdrawal (with their
    /// reason): the opt-outs in force that restrict them, named only by
    /// their [`restriction_handle`]s. `None` for the person or a proxy
    /// managing their sharing, who name opt-outs by id.
    pub professional: Option<&'a [(String, time::OffsetDateTime)]>,
}

/// The neutral name a professional sees for an opt-out that restricts
/// them: stable for the patient and the opt-out, saying nothing of either.
pub fn restriction_handle(patient: &str, opt_out: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(patient.as_bytes())
        .chain_update([0u8])
        .chain_update(opt_out.as_bytes())
        .finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("restriction-{hex}")
}

/// The withdrawal of a standing opt-out, by name: only the person (or a
/// proxy allowed to manage their sharing) withdraws one, or a professional
/// recording the person's explicit withdrawal with a reason. Anything but
/// one of the patient's opt-outs is refused.
pub fn withdraw(
    body: &[u8],
    standing: Standing<'_>,
    patient: &str,
    recorder: &Viewer,
    id: &str,
    now: &str,
    policy: &Policy,
) -> Result<Recorded, Refusal> {
    let req: WithdrawRequest = parse(body)?;
    let reason = req
        .reason
        .filter(|r| !r.trim().is_empty())
        .map(|r| crate::proxy::plain(&r, 500))
        .transpose()?;
    if standing.professional.is_some() && reason.is_none() {
        return Err(Refusal::BadRequest);
    }
    let opt_out = match standing.professional {
        None => standing
            .directives
            .directives
            .iter()
            .find(|d| d.kind == DirectiveKind::Deny && d.id == req.opt_out)
            .map(|d| d.id.clone()),
        Some(restricting) => restricting
            .iter()
            .find(|(id, _)| restriction_handle(patient, id) == req.opt_out)
            .map(|(id, _)| id.clone()),
    };
    let Some(opt_out) = opt_out else {
        return Err(Refusal::NotFound);
    };
    let directive = ConsentDirective {
        id: id.to_owned(),
        kind: DirectiveKind::Withdraw,
        recorded: now.to_owned(),
        period: None,
        actors: Actors::default(),
        scope: Scope::default(),
        withdraws: Some(opt_out),
        reason,
    };
    finish(directive, patient, recorder, policy)
}

/// What a professional may read of a patient's directives (framework 6.2:
/// consent is between the person and those they share with): the permits
/// in force for them, and, in neutral words, whether a choice of the
/// person's restricts what they see, never what it is about. Each such
/// opt-out is a bare `Consent` (a deny, when it was recorded) under its
/// [`restriction_handle`], which is how a professional names it to record
/// the person's withdrawal. `resources` are the patient's Consent
/// resources (JSON texts).
pub fn professional_view(
    resources: &[String],
    compiled: &tiergate_core::CompiledConsent,
    viewer: &Viewer,
    patient: &str,
    now: time::OffsetDateTime,
) -> Value {
    let permits = compiled.permits_in_force(viewer, now);
    let shown: Vec<String> = resources
        .iter()
        .filter(|r| {
            serde_json::from_str::<Value>(r)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .is_some_and(|id| permits.contains(&id))
        })
        .cloned()
        .collect();
    let restrictions: Vec<String> = compiled
        .restricting(viewer, now)
        .iter()
        .map(|(id, recorded)| {
            json!({
                "resourceType": "Consent",
                "id": restriction_handle(patient, id),
                "meta": {"tag": [{"system": RESTRICTED_SYSTEM, "code": "restricted"}]},
                "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": format!("Patient/{patient}")},
                "dateTime": tiergate_core::fhirtime::format(*recorded),
                "provision": {"type": "deny"}
            })
            .to_string()
        })
        .collect();
    let mut out = bundle(&[shown, restrictions].concat());
    if compiled.restricts(viewer, now) {
        if let Some(map) = out.as_object_mut() {
            map.insert(
                "meta".into(),
                json!({"tag": [{
                    "system": RESTRICTED_SYSTEM,
                    "code": "restricted",
                    "display": "The person has chosen not to share part of their record with you"
                }]}),
            );
        }
    }
    out
}

/// The tag of a professional's view of consent that says the person's
/// choices restrict what they see.
pub const RESTRICTED_SYSTEM: &str = "https://fhir.tiergate.example/CodeSystem/consent-view";

/// An opt-out, recorded on the patient's behalf: a [`choice`] to deny.
pub fn opt_out(
    body: &[u8],
    patient: &str,
    recorder: &Viewer,
    id: &str,
    now: &str,
    policy: &Policy,
) -> Result<Recorded, Refusal> {
    choice(
        body,
        DirectiveKind::Deny,
        patient,
        recorder,
        id,
        now,
        policy,
    )
}

fn finish(
    directive: ConsentDirective,
    patient: &str,
    recorder: &Viewer,
    policy: &Policy,
) -> Result<Recorded, Refusal> {
    let set = ConsentSet {
        directives: vec![directive.clone()],
    };
    set.compile(policy).map_err(|_| Refusal::BadRequest)?;
    let resource = to_fhir(&directive, patient, recorder, policy);
    // What is stored must read back as exactly what was asked.
    let back = ConsentSet::from_value(&resource, policy).map_err(|_| Refusal::BadRequest)?;
    if back.directives != vec![directive.clone()] {
        return Err(Refusal::BadRequest);
    }
    Ok(Recorded {
        directive,
        resource: resource.to_string(),
    })
}

/// The FHIR R4 `Consent` for a directive.
pub fn to_fhir(d: &ConsentDirective, patient: &str, recorder: &Viewer, policy: &Policy) -> Value {
    let fhir = &policy.document().consent.fhir;
    let ods = fhir.organisation_systems.first().map_or(
        "https://fhir.nhs.uk/Id/ods-organization-code",
        String::as_str,
    );
    let ident = |system: &str, value: &str| json!({"reference": {"identifier": {"system": system, "value": value}}});
    let mut actor: Vec<Value> = Vec::new();
    actor.extend(d.actors.organisations.iter().map(|o| ident(ods, o)));
    actor.extend(
        d.actors
            .profiles
            .iter()
            .map(|p| ident(&fhir.profile_system, p)),
    );
    actor.extend(
        d.actors
            .users
            .iter()
            .map(|u| ident("https://fhir.nhs.uk/Id/sds-user-id", u)),
    );
    let mut code: Vec<Value> = Vec::new();
    for s in &d.scope.segments {
        let c = match s.tier {
            Some(t) => format!("{}-{t}", s.segment),
            None => s.segment.clone(),
        };
        code.push(json!({"coding": [{"system": fhir.placement_system, "code": c}]}));
    }
    for c in &d.scope.content {
        code.push(json!({"coding": [{"system": fhir.content_system, "code": c}]}));
    }
    for c in &d.scope.categories {
        code.push(json!({"coding": [{"system": fhir.category_system, "code": c}]}));
    }
    let data: Vec<Value> = d
        .scope
        .entries
        .iter()
        .map(|e| json!({"meaning": "instance", "reference": {"reference": e}}))
        .collect();
    let (kind, rule) = match d.kind {
        DirectiveKind::Permit => ("permit", "OPTIN"),
        DirectiveKind::Deny => ("deny", "OPTOUT"),
        DirectiveKind::Withdraw => return withdrawal_fhir(d, patient, recorder, ods),
    };
    let mut provision = serde_json::Map::new();
    provision.insert("type".into(), kind.into());
    if let Some(p) = &d.period {
        provision.insert(
            "period".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    if !actor.is_empty() {
        provision.insert("actor".into(), Value::Array(actor));
    }
    provision.insert(
        "action".into(),
        json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}]}]),
    );
    if !code.is_empty() {
        provision.insert("code".into(), Value::Array(code));
    }
    if !data.is_empty() {
        provision.insert("data".into(), Value::Array(data));
    }
    json!({
        "resourceType": "Consent",
        "id": d.id,
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": d.recorded,
        "performer": [{"identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": recorder.user_id}}],
        "organization": [{"identifier": {"system": ods, "value": recorder.organisation}}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": rule}]},
        "provision": Value::Object(provision),
    })
}

/// A recorded directive as a professional may read it back: a withdrawal
/// names the opt-out by its [`restriction_handle`], never by its id.
pub fn as_professional_sees(recorded: &Recorded, patient: &str) -> String {
    let Some(opt_out) = recorded.directive.withdraws.as_deref() else {
        return recorded.resource.clone();
    };
    let mut v: Value = serde_json::from_str(&recorded.resource).unwrap_or(Value::Null);
    let handle = format!("Consent/{}", restriction_handle(patient, opt_out));
    if let Some(ext) = v.get_mut("extension").and_then(Value::as_array_mut) {
        for e in ext {
            if e.get("url").and_then(Value::as_str)
                == Some(tiergate_core::consent_fhir::WITHDRAWS_URL)
            {
                e["valueReference"] = json!({"reference": handle});
            }
        }
    }
    v.to_string()
}

/// The Consent that withdraws an opt-out (see `docs/consent.md`).
fn withdrawal_fhir(d: &ConsentDirective, patient: &str, recorder: &Viewer, ods: &str) -> Value {
    let mut extension = vec![json!({
        "url": tiergate_core::consent_fhir::WITHDRAWS_URL,
        "valueReference": {"reference": format!("Consent/{}", d.withdraws.as_deref().unwrap_or_default())}
    })];
    if let Some(r) = &d.reason {
        extension.push(json!({"url": tiergate_core::consent_fhir::REASON_URL, "valueString": r}));
    }
    json!({
        "resourceType": "Consent",
        "id": d.id,
        "extension": extension,
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{patient}")},
        "dateTime": d.recorded,
        "performer": [{"identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": recorder.user_id}}],
        "organization": [{"identifier": {"system": ods, "value": recorder.organisation}}],
    })
}

/// A searchset Bundle of stored Consent resources (compact JSON texts).
pub fn bundle(resources: &[String]) -> Value {
    let entries: Vec<Value> = resources
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .map(|r| json!({"resource": r, "search": {"mode": "match"}}))
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries})
}

/// Reads stored Consent resources (and any baseline directives, e.g. the
/// demo's) into one set. An unreadable stored directive is an error: the
/// request releases nothing.
pub fn load(
    baseline: &[ConsentDirective],
    stored: &[String],
    policy: &Policy,
) -> Result<ConsentSet, Refusal> {
    let mut directives = baseline.to_vec();
    for s in stored {
        let v: Value = serde_json::from_str(s).map_err(|_| Refusal::BadGateway)?;
        let set = ConsentSet::from_value(&v, policy).map_err(|_| Refusal::BadGateway)?;
        directives.extend(set.directives);
    }
    Ok(ConsentSet { directives })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiergate_core::SegmentScope;

    fn policy() -> Policy {
        Policy::default_policy().unwrap()
    }

    fn recorder() -> Viewer {
        Viewer::from_json(br#"{"user_id": "u1", "organisation": "R9A", "profile": "6", "purpose": "direct-care", "training": {"expires": "2029-01-01"}}"#).unwrap()
    }

    #[test]
    fn permit_for_own_organisation_round_trips() {
        let p = policy();
        let body = br#"{"profiles": ["6"], "scope": {"segments": [{"segment": "summary", "tier": 2}]}, "period": {"end": "2027-11-20"}}"#;
        let r = permit(
            body,
            "joe-patient",
            &recorder(),
            "c-1",
            "2026-11-25T12:00:00Z",
            &p,
        )
        .unwrap();
        assert_eq!(r.directive.actors.organisations, vec!["R9A"]);
        assert_eq!(r.directive.actors.profiles, vec!["6"]);
        assert_eq!(
            r.directive.scope.segments,
            vec![SegmentScope {
                segment: "summary".into(),
                tier: Some(2)
            }]
        );
        let v: Value = serde_json::from_str(&r.resource).unwrap();
        assert_eq!(v["resourceType"], "Consent");
        assert_eq!(v["patient"]["reference"], "Patient/joe-patient");
        assert_eq!(v["provision"]["type"], "permit");
        let loaded = load(&[], std::slice::from_ref(&r.resource), &p).unwrap();
        assert_eq!(loaded.directives, vec![r.directive]);
    }

    #[test]
    fn a_professional_sees_a_restriction_by_a_neutral_name_and_records_its_withdrawal_by_it() {
        let p = policy();
        let now = time::macros::datetime!(2026-11-25 12:00 UTC);
        let person = Viewer::from_json(br#"{"user_id": "joe", "organisation": "", "profile": "patient", "purpose": "direct-care", "training": null, "patient": "p1"}"#).unwrap();
        let hiv = opt_out(
            br#"{"scope": {"categories": ["hiv_aids"]}}"#,
            "p1",
            &person,
            "o-hiv-opt-out",
            "2026-11-20T09:00:00Z",
            &p,
        )
        .unwrap();
        let set = load(&[], std::slice::from_ref(&hiv.resource), &p).unwrap();
        let compiled = set.compile(&p).unwrap();
        let doctor = recorder();
        let view = professional_view(
            std::slice::from_ref(&hiv.resource),
            &compiled,
            &doctor,
            "p1",
            now,
        );
        let text = view.to_string();
        assert!(
            !text.contains("hiv"),
            "the view names what it protects: {text}"
        );
        assert!(!text.contains("o-hiv-opt-out"));
        let handle = restriction_handle("p1", "o-hiv-opt-out");
        assert_eq!(view["entry"][0]["resource"]["id"], handle.as_str());
        assert_eq!(view["entry"][0]["resource"]["provision"]["type"], "deny");

        let restricting = compiled.restricting(&doctor, now);
        let standing = Standing {
            directives: &set,
            professional: Some(&restricting),
        };
        let body = |opt_out: &str, reason: Option<&str>| {
            serde_json::to_vec(&json!({"opt_out": opt_out, "reason": reason})).unwrap()
        };
        let at = "2026-11-25T12:00:00Z";
        // A reason is required; the real id is not a professional's to name.
        assert_eq!(
            withdraw(&body(&handle, None), standing, "p1", &doctor, "w", at, &p).err(),
            Some(Refusal::BadRequest)
        );
        assert_eq!(
            withdraw(
                &body("o-hiv-opt-out", Some("asked")),
                standing,
                "p1",
                &doctor,
                "w",
                at,
                &p
            )
            .err(),
            Some(Refusal::NotFound)
        );
        // Another patient's handle names nothing here.
        let other = restriction_handle("p2", "o-hiv-opt-out");
        assert_eq!(
            withdraw(
                &body(&other, Some("asked")),
                standing,
                "p1",
                &doctor,
                "w",
                at,
                &p
            )
            .err(),
            Some(Refusal::NotFound)
        );
        let w = withdraw(
            &body(&handle, Some("Told me he wants it shared again")),
            standing,
            "p1",
            &doctor,
            "w",
            at,
            &p,
        )
        .unwrap();
        assert_eq!(w.directive.withdraws.as_deref(), Some("o-hiv-opt-out"));
        // What the professional is answered names the handle, not the id.
        let answer = as_professional_sees(&w, "p1");
        assert!(!answer.contains("o-hiv-opt-out"), "{answer}");
        assert!(answer.contains(&handle));
        assert!(
            w.resource.contains("o-hiv-opt-out"),
            "the stored withdrawal names the opt-out"
        );
        // The person names their own opt-out by its id.
        let mine = Standing {
            directives: &set,
            professional: None,
        };
        assert!(withdraw(
            &body("o-hiv-opt-out", None),
            mine,
            "p1",
            &person,
            "w2",
            at,
            &p
        )
        .is_ok());
    }

    #[test]
    fn opt_out_of_category_entry_and_segment() {
        let p = policy();
        let body = br#"{"scope": {"categories": ["hiv_aids"], "entries": ["Condition/c-41"], "segments": [{"segment": "community"}]}}"#;
        let r = opt_out(body, "p1", &recorder(), "o-1", "2026-11-25T12:00:00Z", &p).unwrap();
        assert_eq!(r.directive.kind, DirectiveKind::Deny);
        assert!(r.directive.actors.organisations.is_empty());
        assert!(r.resource.contains("OPTOUT"));
        let whole = opt_out(b"{}", "p1", &recorder(), "o-2", "2026-11-25T12:00:00Z", &p).unwrap();
        assert_eq!(whole.directive.scope, Scope::default());
    }

    #[test]
    fn bad_directives_are_refused() {
        let p = policy();
        let r = recorder();
        let now = "2026-11-25T12:00:00Z";
        for body in [
            &b"not json"[..],
            br#"{"scope": {"segments": [{"segment": "nowhere"}]}}"#,
            br#"{"scope": {"segments": [{"segment": "summary", "tier": 9}]}}"#,
            br#"{"profiles": ["99"]}"#,
            br#"{"scope": {"categories": ["hiv_aids"]}}"#,
            br#"{"organisations": ["OTHER"]}"#,
            br#"{"period": {"end": "whenever"}}"#,
        ] {
            assert_eq!(
                permit(body, "p1", &r, "c", now, &p).unwrap_err(),
                Refusal::BadRequest
            );
        }
        assert!(opt_out(
            br#"{"scope": {"categories": ["nope"]}}"#,
            "p1",
            &r,
            "o",
            now,
            &p
        )
        .is_err());
        assert!(permit(&vec![b' '; 20_000], "p1", &r, "c", now, &p).is_err());
    }

    #[test]
    fn load_merges_baseline_and_stored_and_refuses_garbage() {
        let p = policy();
        let base = ConsentSet::from_json(
            br#"{"directives": [{"id": "b", "kind": "permit", "recorded": "2026-01-01"}]}"#,
            &p,
        )
        .unwrap();
        let r = opt_out(b"{}", "p1", &recorder(), "o", "2026-11-25T12:00:00Z", &p).unwrap();
        let set = load(&base.directives, &[r.resource], &p).unwrap();
        assert_eq!(set.directives.len(), 2);
        assert_eq!(
            load(&[], &["{".into()], &p).unwrap_err(),
            Refusal::BadGateway
        );
        let b = bundle(&["{\"resourceType\":\"Consent\",\"id\":\"x\"}".into()]);
        assert_eq!(b["total"], 1);
    }
}
