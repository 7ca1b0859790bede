//! Facts the audit rules need about an access (framework 6.3), taken from
//! the origin's record and the patient's directives at the time of access:
//! the viewer organisation's legitimate relationships with the patient
//! (an encounter it provided, a referral it made or received, care-team
//! membership, a recorded consent), the segments the request reached, and
//! the segments the patient had opted out of for this viewer.
//!
//! These go into the audit event as ids, codes and times only.

use tiergate_core::audit::RelationshipKind;
use tiergate_core::json::Value;
use tiergate_core::{CompiledConsent, Decisions, Policy, Viewer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const ODS_SYSTEM: &str = "https://fhir.nhs.uk/Id/ods-organization-code";

/// One relationship fact: kind and when (RFC 3339).
pub type Fact = (RelationshipKind, String);

fn resources<'a>(record: &'a Value<'a>) -> Vec<&'a Value<'a>> {
    match record.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => record
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("resource"))
            .collect(),
        Some(_) => vec![record],
        None => Vec::new(),
    }
}

/// The ODS code an organisation reference names, directly (logical
/// identifier) or through an `Organization` resource in the record.
fn ods_of<'a>(reference: &'a Value, record: &[&'a Value]) -> Option<&'a str> {
    if reference
        .pointer("/identifier/system")
        .and_then(Value::as_str)
        == Some(ODS_SYSTEM)
    {
        return reference
            .pointer("/identifier/value")
            .and_then(Value::as_str);
    }
    let id = reference
        .get("reference")
        .and_then(Value::as_str)?
        .strip_prefix("Organization/")?;
    let org = record.iter().find(|r| {
        r.get("resourceType").and_then(Value::as_str) == Some("Organization")
            && r.get("id").and_then(Value::as_str) == Some(id)
    })?;
    org.get("identifier")
        .and_then(Value::as_array)?
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(ODS_SYSTEM))?
        .get("value")
        .and_then(Value::as_str)
}

fn time_at(r: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|p| {
        let s = r.pointer(p).and_then(Value::as_str)?;
        tiergate_core::fhirtime::parse(s, tiergate_core::fhirtime::Edge::Start)
            .and_then(|t| t.format(&Rfc3339).ok())
    })
}

/// Relationships between `organisation` and the patient that the record
/// shows, plus a consent permit in force for the viewer.
pub fn relationships(
    record: &Value,
    viewer: &Viewer,
    consent: &CompiledConsent,
    now: OffsetDateTime,
) -> Vec<Fact> {
    let all = resources(record);
    let org = viewer.organisation.as_str();
    let mut out = Vec::new();
    let names_org = |refs: Vec<&Value>| refs.into_iter().any(|r| ods_of(r, &all) == Some(org));
    for r in &all {
        let list = |key: &str| -> Vec<&Value> {
            match r.get(key) {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(v) => vec![v],
                None => Vec::new(),
            }
        };
        let fact = match r.get("resourceType").and_then(Value::as_str) {
            Some("Encounter") if names_org(list("serviceProvider")) => {
                time_at(r, &["/period/start", "/period/end", "/meta/lastUpdated"])
                    .map(|t| (RelationshipKind::Encounter, t))
            }
            Some("ServiceRequest" | "ReferralRequest") => {
                let mut refs = list("requester");
                refs.extend(list("performer"));
                let nested: Vec<&Value> = refs
                    .iter()
                    .filter_map(|x| x.get("agent").or(x.get("onBehalfOf")))
                    .collect();
                refs.extend(nested);
                names_org(refs)
                    .then(|| time_at(r, &["/authoredOn", "/meta/lastUpdated"]))
                    .flatten()
                    .map(|t| (RelationshipKind::Referral, t))
            }
            Some("CareTeam") => {
                let mut refs = list("managingOrganization");
                refs.extend(
                    list("participant")
                        .into_iter()
                        .filter_map(|p| p.get("member").or(p.get("onBehalfOf"))),
                );
                names_org(refs)
                    .then(|| time_at(r, &["/period/start", "/meta/lastUpdated"]))
                    .flatten()
                    .map(|t| (RelationshipKind::CareTeam, t))
            }
            _ => None,
        };
        out.extend(fact);
    }
    if let Some(t) = consent
        .latest_permit(viewer, now)
        .and_then(|t| t.format(&Rfc3339).ok())
    {
        out.push((RelationshipKind::Consent, t));
    }
    out
}

/// Segments the request reached: those of every entry judged, returned or
/// withheld (what was asked for, in effect).
pub fn segments(decisions: &Decisions) -> Vec<String> {
    let mut out: Vec<String> = decisions
        .entries
        .iter()
        .flat_map(|e| e.placements.iter().map(|p| p.segment.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Placements (`summary-2`) of the entries released, one per entry: what
/// monitoring counts as shared.
pub fn released_placements(decisions: &Decisions) -> Vec<String> {
    decisions
        .entries
        .iter()
        .filter(|e| e.decision == tiergate_core::Verdict::Allow)
        .filter_map(|e| e.allowed_by.clone())
        .filter(|a| a.contains('-'))
        .collect()
}

/// The segments the patient opted out of for this viewer.
pub fn opted_out(
    consent: &CompiledConsent,
    viewer: &Viewer,
    now: OffsetDateTime,
    policy: &Policy,
) -> Vec<String> {
    consent.opted_out_segments(viewer, now, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tiergate_core::ConsentSet;
    use time::macros::datetime;

    #[test]
    fn relationships_come_from_the_record_and_consent() {
        let p = Policy::default_policy().unwrap();
        let v = Viewer::from_json(br#"{"user_id": "u", "organisation": "R9A", "profile": "6", "purpose": "direct-care", "training": null}"#).unwrap();
        let record = json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"resource": {"resourceType": "Organization", "id": "aed", "identifier": [{"system": ODS_SYSTEM, "value": "R9A"}]}},
            {"resource": {"resourceType": "Encounter", "id": "e1", "serviceProvider": {"reference": "Organization/aed"}, "period": {"start": "2026-11-24T21:00:00Z"}}},
            {"resource": {"resourceType": "Encounter", "id": "e2", "serviceProvider": {"identifier": {"system": ODS_SYSTEM, "value": "N99005"}}, "period": {"start": "2026-10-01"}}},
            {"resource": {"resourceType": "ServiceRequest", "id": "s1", "requester": {"identifier": {"system": ODS_SYSTEM, "value": "R9A"}}, "authoredOn": "2026-11-01"}},
            {"resource": {"resourceType": "CareTeam", "id": "t1", "participant": [{"member": {"identifier": {"system": ODS_SYSTEM, "value": "R9A"}}}], "period": {"start": "2026-09-01"}}}
        ]});
        let consent = ConsentSet::from_json(
            br#"{"directives": [{"id": "c", "kind": "permit", "recorded": "2026-11-24T21:30:00Z", "actors": {"organisations": ["R9A"]}}]}"#,
            &p,
        )
        .unwrap()
        .compile(&p)
        .unwrap();
        let facts = relationships(
            &Value::from_serde(&record),
            &v,
            &consent,
            datetime!(2026-11-25 12:00 UTC),
        );
        let kinds: Vec<RelationshipKind> = facts.iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                RelationshipKind::Encounter,
                RelationshipKind::Referral,
                RelationshipKind::CareTeam,
                RelationshipKind::Consent
            ]
        );
        assert_eq!(facts[0].1, "2026-11-24T21:00:00Z");
        let stranger = Viewer {
            organisation: "X99".into(),
            ..v
        };
        assert!(relationships(
            &Value::from_serde(&record),
            &stranger,
            &consent,
            datetime!(2026-11-25 12:00 UTC)
        )
        .is_empty());
    }
}
