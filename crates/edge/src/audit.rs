//! Audit (framework 6.3): one FHIR R4 `AuditEvent` per request.
//!
//! An event records who asked (user, organisation, profile, purpose), for
//! which patient, what happened (interaction, status, outcome), what was
//! returned (resource ids only), how many entries were withheld for each
//! reason, break glass (flag, reason code and the professional's stated
//! justification), the policy hash and the request id. It never records
//! record content: no codes, no text, no search parameter values, and no
//! ids of withheld entries.

use serde_json::{json, Map, Value};
use tiergate_core::{Decisions, Verdict, Viewer};

/// SQLite (D1) schema for audit, consent and break-glass windows.
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS audit_events (\
 id TEXT PRIMARY KEY, recorded TEXT NOT NULL, user_id TEXT, organisation TEXT, profile TEXT,\
 patient TEXT, action TEXT NOT NULL, status INTEGER NOT NULL, outcome TEXT NOT NULL,\
 break_glass INTEGER NOT NULL, investigate INTEGER NOT NULL, policy TEXT NOT NULL, event TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS audit_events_patient ON audit_events (patient, recorded);\
CREATE TABLE IF NOT EXISTS consents (\
 id TEXT PRIMARY KEY, patient TEXT NOT NULL, recorded TEXT NOT NULL, kind TEXT NOT NULL,\
 recorded_by TEXT NOT NULL, resource TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS consents_patient ON consents (patient, recorded);\
CREATE TABLE IF NOT EXISTS break_glass (\
 id TEXT PRIMARY KEY, user_id TEXT NOT NULL, patient TEXT NOT NULL, reason TEXT NOT NULL,\
 detail TEXT, started TEXT NOT NULL, expires TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS break_glass_user ON break_glass (user_id, patient, started);\
CREATE TABLE IF NOT EXISTS proxy_grants (\
 id TEXT PRIMARY KEY, patient TEXT NOT NULL, grantee TEXT NOT NULL, grant_json TEXT NOT NULL,\
 expires TEXT NOT NULL, revoked TEXT);\
CREATE INDEX IF NOT EXISTS proxy_grants_grantee ON proxy_grants (grantee, patient);\
CREATE INDEX IF NOT EXISTS proxy_grants_patient ON proxy_grants (patient);\
CREATE TABLE IF NOT EXISTS outbox (\
 id TEXT PRIMARY KEY, recorded TEXT NOT NULL, recipient TEXT NOT NULL, channel TEXT NOT NULL,\
 message TEXT NOT NULL);\
CREATE TABLE IF NOT EXISTS demo_writes (\
 patient TEXT NOT NULL, reference TEXT NOT NULL, recorded TEXT NOT NULL, resource TEXT NOT NULL,\
 PRIMARY KEY (patient, reference));\
CREATE TABLE IF NOT EXISTS cases (\
 id TEXT PRIMARY KEY, user_id TEXT NOT NULL, organisation TEXT NOT NULL, patient TEXT NOT NULL,\
 status TEXT NOT NULL, opened TEXT NOT NULL, json TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS cases_user ON cases (user_id, opened);\
CREATE TABLE IF NOT EXISTS alerts (\
 id TEXT PRIMARY KEY, rule TEXT NOT NULL, time TEXT NOT NULL, user_id TEXT NOT NULL,\
 organisation TEXT NOT NULL, patient TEXT, status TEXT NOT NULL, json TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS alerts_time ON alerts (time);\
CREATE TABLE IF NOT EXISTS scan_state (key TEXT PRIMARY KEY, value REAL NOT NULL);\
CREATE TABLE IF NOT EXISTS approvals (\
 id TEXT PRIMARY KEY, user_id TEXT NOT NULL, patient TEXT NOT NULL, recorded TEXT NOT NULL,\
 expires TEXT NOT NULL, revoked TEXT, json TEXT NOT NULL);\
CREATE INDEX IF NOT EXISTS approvals_user ON approvals (user_id, patient);";

/// Everything one audit event says.
#[derive(Debug, Clone, Default)]
pub struct Audit<'a> {
    pub request_id: &'a str,
    /// RFC 3339.
    pub recorded: &'a str,
    /// `None` when the caller could not be authenticated.
    pub viewer: Option<&'a Viewer>,
    /// FHIR restful interaction or edge action (`read`, `search-type`,
    /// `operation`, `consent-permit`, `consent-opt-out`, `consent-read`,
    /// `login`, `refused`).
    pub action: &'a str,
    pub patient: Option<&'a str>,
    pub status: u16,
    /// `None` on success; else the refusal's name.
    pub failure: Option<crate::outcome::Refusal>,
    /// Decisions behind a released (or withheld) record.
    pub decisions: Option<&'a Decisions>,
    /// Whether the record was released (a withheld read is not).
    pub released: bool,
    /// Break glass stated: reason code and sanitised free text.
    pub break_glass: Option<(&'a str, Option<&'a str>)>,
    /// Other resources the action concerned (e.g. a recorded `Consent/..`).
    pub entities: Vec<String>,
    /// A proxy acting for the patient: the proxy is the viewer, the patient
    /// is recorded as the person on whose behalf they act.
    pub on_behalf_of: Option<&'a str>,
    /// Segments the request reached (for the opted-out-segment rule).
    pub segments: Vec<String>,
    /// Segments the patient had opted out of for this viewer.
    pub opted_out: Vec<String>,
    /// The viewer organisation's relationships with the patient; `None`
    /// when nobody looked.
    pub relationships: Option<Vec<crate::relation::Fact>>,
    /// Placement (`summary-2`) of each entry released, for monitoring.
    pub shared: Vec<String>,
    /// An individual approval recorded or ended (7.2): its id, the user it
    /// is for and when it ends.
    pub approval: Option<(&'a str, &'a str, &'a str)>,
    pub policy: &'a str,
}

/// One row of the `audit_events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: String,
    pub recorded: String,
    pub user_id: Option<String>,
    pub organisation: Option<String>,
    pub profile: Option<String>,
    pub patient: Option<String>,
    pub action: String,
    pub status: u16,
    pub outcome: String,
    pub break_glass: bool,
    pub investigate: bool,
    pub policy: String,
    /// The AuditEvent, compact JSON.
    pub event: String,
}

const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
const DETAIL_SYSTEM: &str = "https://fhir.tiergate.example/CodeSystem/audit-detail";

fn detail(kind: &str, value: impl Into<String>) -> Value {
    json!({"type": kind, "valueString": value.into()})
}

/// Ids (`Type/id`) of what a released record contains.
pub fn returned(decisions: &Decisions) -> Vec<String> {
    decisions
        .entries
        .iter()
        .filter(|e| e.decision == Verdict::Allow)
        .filter_map(|e| {
            Some(format!(
                "{}/{}",
                e.resource_type.as_deref()?,
                e.id.as_deref()?
            ))
        })
        .collect()
}

impl Audit<'_> {
    /// Builds the AuditEvent and its row.
    pub fn build(&self) -> AuditRow {
        let outcome = self.failure.map_or("0", |f| f.audit_outcome());
        let bg = self.break_glass.is_some()
            || self
                .decisions
                .is_some_and(|d| d.summary.break_glass.is_some());
        let investigate = bg || self.decisions.is_some_and(|d| d.summary.investigate);
        let mut purpose = Vec::new();
        if let Some(v) = self.viewer {
            purpose.push(json!({"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/purpose-of-use", "code": v.purpose}]}));
        }
        if bg {
            purpose.push(json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "BTG", "display": "break the glass"}]}));
        }
        let mut agents = Vec::new();
        match self.viewer {
            Some(v) => {
                let mut who = Map::new();
                who.insert(
                    "identifier".into(),
                    json!({"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": v.user_id}),
                );
                if let Some(n) = &v.name {
                    who.insert("display".into(), n.clone().into());
                }
                agents.push(json!({
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "humanuser"}]},
                    "who": Value::Object(who),
                    "requestor": true,
                    "role": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/profile", "code": v.profile}]}],
                    "purposeOfUse": [{"coding": [{"system": "https://fhir.tiergate.example/CodeSystem/purpose-of-use", "code": v.purpose}]}]
                }));
                agents.push(json!({
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "code": "dataprocessor"}]},
                    "who": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": v.organisation}},
                    "requestor": false
                }));
            }
            None => agents.push(json!({"who": {"display": "unauthenticated"}, "requestor": true})),
        }
        if let Some(p) = self.on_behalf_of {
            // The person the proxy acts for (FHIR: an agent who is not the
            // requestor, role "patient"; the proxy is the requestor).
            agents.push(json!({
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "PAT", "display": "patient"}]},
                "who": {"reference": format!("Patient/{p}")},
                "requestor": false
            }));
        }
        let mut entity = Vec::new();
        if let Some(p) = self.patient {
            entity.push(json!({
                "what": {"reference": format!("Patient/{p}")},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"}
            }));
        }
        if self.released {
            if let Some(d) = self.decisions {
                for r in returned(d) {
                    entity.push(json!({
                        "what": {"reference": r},
                        "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                        "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"}
                    }));
                }
            }
        }
        for e in &self.entities {
            entity.push(
                json!({"what": {"reference": e}, "type": {"system": ENTITY_TYPE, "code": "2"}}),
            );
        }
        let mut details = vec![
            detail("request-id", self.request_id),
            detail("policy", self.policy),
            detail("status", self.status.to_string()),
        ];
        if let Some(f) = self.failure {
            details.push(detail("failure", f.name()));
        }
        if let Some(d) = self.decisions {
            let s = &d.summary;
            details.push(detail("entries", s.entries.to_string()));
            details.push(detail(
                "returned",
                if self.released { s.allowed } else { 0 }.to_string(),
            ));
            // By reason class: never which category or label (audit is read
            // by people who may not know what the record holds).
            let mut classes: std::collections::BTreeMap<&str, usize> = Default::default();
            for (reason, n) in &s.withheld_by_reason {
                *classes
                    .entry(tiergate_core::audit::withheld_class(reason))
                    .or_default() += n;
            }
            for (class, n) in classes {
                details.push(detail(&format!("withheld:{class}"), n.to_string()));
            }
            // Which individual approvals (7.2) opened what was released.
            if self.released {
                for id in &s.approvals {
                    details.push(detail("approval", id.as_str()));
                }
            }
            if s.allowed_by_break_glass > 0 {
                details.push(detail(
                    "allowed-by-break-glass",
                    s.allowed_by_break_glass.to_string(),
                ));
            }
        }
        if let Some((reason, free)) = self.break_glass {
            details.push(detail("break-glass", "true"));
            details.push(detail("break-glass-reason", reason));
            if let Some(f) = free {
                details.push(detail("break-glass-detail", f));
            }
        }
        if let Some((id, user, until)) = self.approval {
            details.push(detail("approval", id));
            details.push(detail("approved-user", user));
            details.push(detail("approved-until", until));
        }
        if investigate {
            details.push(detail("investigate", "true"));
        }
        if let Some(p) = self.on_behalf_of {
            details.push(detail("on-behalf-of", format!("Patient/{p}")));
        }
        for s in &self.segments {
            details.push(detail("segment", s.as_str()));
        }
        for s in &self.opted_out {
            details.push(detail("opted-out", s.as_str()));
        }
        match &self.relationships {
            Some(facts) if facts.is_empty() => details.push(detail("relationships", "none")),
            Some(facts) => {
                for (kind, time) in facts {
                    let kind = serde_json::to_value(kind)
                        .ok()
                        .and_then(|k| k.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    details.push(detail(&format!("relationship:{kind}"), time.as_str()));
                }
            }
            None => {}
        }
        let mut shared: std::collections::BTreeMap<&str, usize> = Default::default();
        if self.released {
            for p in &self.shared {
                *shared.entry(p.as_str()).or_default() += 1;
            }
        }
        for (placement, n) in shared {
            details.push(detail(&format!("shared:{placement}"), n.to_string()));
        }
        entity.push(json!({
            "type": {"system": DETAIL_SYSTEM, "code": "tiergate-decision"},
            "detail": details
        }));
        let subtype =
            json!([{"system": "http://hl7.org/fhir/restful-interaction", "code": self.action}]);
        let action = match self.action {
            "consent-permit" | "consent-opt-out" | "consent-withdraw" | "proxy-grant" | "book"
            | "plan-update" | "notify" | "approval-grant" => "C",
            "proxy-agree" => "U",
            "proxy-revoke" | "approval-revoke" => "D",
            "operation" | "login" => "E",
            _ => "R",
        };
        let mut event = json!({
            "resourceType": "AuditEvent",
            "id": self.request_id,
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
            "subtype": subtype,
            "action": action,
            "recorded": self.recorded,
            "outcome": outcome,
            "agent": agents,
            "source": {"observer": {"display": "tiergate-edge"}, "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "3", "display": "Web Server"}]},
            "entity": entity
        });
        if let Some(obj) = event.as_object_mut() {
            if let Some(f) = self.failure {
                obj.insert("outcomeDesc".into(), f.name().into());
            }
            if !purpose.is_empty() {
                obj.insert("purposeOfEvent".into(), Value::Array(purpose));
            }
        }
        AuditRow {
            id: self.request_id.to_owned(),
            recorded: self.recorded.to_owned(),
            user_id: self.viewer.map(|v| v.user_id.clone()),
            organisation: self.viewer.map(|v| v.organisation.clone()),
            profile: self.viewer.map(|v| v.profile.clone()),
            patient: self.patient.map(str::to_owned),
            action: self.action.to_owned(),
            status: self.status,
            outcome: outcome.to_owned(),
            break_glass: bg,
            investigate,
            policy: self.policy.to_owned(),
            event: event.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Refusal;
    use tiergate_core::{ConsentSet, Limits, Policy, Request};

    const RECORD: &[u8] = br#"{"resourceType": "Bundle", "type": "searchset", "entry": [
      {"resource": {"resourceType": "AllergyIntolerance", "id": "a1",
        "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
        "code": {"text": "Penicillin"}}},
      {"resource": {"resourceType": "Condition", "id": "c2",
        "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
        "code": {"coding": [{"system": "http://read.info/readv2", "code": "A788.", "display": "AIDS"}]}}}
    ]}"#;

    fn viewer() -> Viewer {
        Viewer::from_json(br#"{"user_id": "u1", "name": "Dr A", "organisation": "R9A", "profile": "6", "purpose": "direct-care", "training": {"expires": "2029-01-01"}}"#).unwrap()
    }

    #[test]
    fn records_who_what_and_counts_but_no_content() {
        let p = Policy::default_policy().unwrap();
        let v = viewer();
        let consent = ConsentSet::from_json(
            br#"{"directives": [{"id": "c", "kind": "permit", "recorded": "2026-01-01"}]}"#,
            &p,
        )
        .unwrap()
        .compile(&p)
        .unwrap();
        let req = Request {
            viewer: &v,
            consent: &consent,
            now: time::macros::datetime!(2026-11-25 12:00 UTC),
            default_setting: None,
            holding_organisation: None,
        };
        let red = p.redact(RECORD, &req, Limits::default()).unwrap();
        let row = Audit {
            request_id: "r1",
            recorded: "2026-11-25T12:00:00Z",
            viewer: Some(&v),
            action: "search-type",
            patient: Some("p1"),
            status: 200,
            decisions: Some(&red.decisions),
            released: true,
            policy: p.hash(),
            ..Audit::default()
        }
        .build();
        assert_eq!(row.user_id.as_deref(), Some("u1"));
        assert_eq!(row.outcome, "0");
        assert!(!row.break_glass);
        let e: Value = serde_json::from_str(&row.event).unwrap();
        assert_eq!(e["resourceType"], "AuditEvent");
        assert!(row.event.contains("\"AllergyIntolerance/a1\""));
        assert!(row.event.contains("\"withheld:excluded\""));
        assert!(!row.event.contains("hiv_aids"), "the category is not named");
        assert!(row.event.contains(p.hash()));
        for leak in ["A788", "AIDS", "Penicillin", "Condition/c2"] {
            assert!(!row.event.contains(leak), "{leak}");
        }
    }

    #[test]
    fn unauthenticated_and_break_glass() {
        let row = Audit {
            request_id: "r2",
            recorded: "2026-11-25T12:00:00Z",
            action: "refused",
            status: 401,
            failure: Some(Refusal::Unauthenticated),
            policy: "sha256:x",
            ..Audit::default()
        }
        .build();
        assert_eq!(row.user_id, None);
        assert_eq!(row.outcome, "4");
        assert!(row.event.contains("unauthenticated"));
        let v = viewer();
        let row = Audit {
            request_id: "r3",
            recorded: "2026-11-25T12:00:00Z",
            viewer: Some(&v),
            action: "operation",
            patient: Some("p1"),
            status: 200,
            break_glass: Some(("unconscious", Some("found collapsed"))),
            policy: "sha256:x",
            ..Audit::default()
        }
        .build();
        assert!(row.break_glass && row.investigate);
        assert!(row.event.contains("BTG") && row.event.contains("found collapsed"));
    }

    #[test]
    fn core_reads_the_facts_back_and_its_rules_fire_on_them() {
        use tiergate_core::audit::{self as core_audit, RelationshipKind};
        let p = Policy::default_policy().unwrap();
        let v = viewer();
        let row = Audit {
            request_id: "r9",
            recorded: "2026-11-25T12:00:00Z",
            viewer: Some(&v),
            action: "operation",
            patient: Some("joe-patient"),
            status: 200,
            released: true,
            segments: vec!["diagnostics".into(), "summary".into()],
            opted_out: vec!["diagnostics".into()],
            relationships: Some(Vec::new()),
            shared: vec!["summary-1".into(), "summary-1".into(), "summary-2".into()],
            policy: "sha256:x",
            ..Audit::default()
        }
        .build();
        let fhir: Value = serde_json::from_str(&row.event).unwrap();
        let event = core_audit::AuditEvent::from_fhir(&fhir, 1)
            .unwrap()
            .unwrap();
        assert_eq!(event.segments, ["diagnostics", "summary"]);
        assert_eq!(event.opted_out, ["diagnostics"]);
        assert_eq!(event.relationships, Some(Vec::new()));
        assert!(row
            .event
            .contains(r#""type":"shared:summary-1","valueString":"2""#));
        let alerts = core_audit::scan(p.audit_rules(), [event]).unwrap();
        let rules: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
        assert!(rules.contains(&"opted-out-segment"), "{rules:?}");
        assert!(rules.contains(&"no-relationship"), "{rules:?}");
        // With a relationship, the no-relationship rule stays quiet.
        let row = Audit {
            request_id: "r10",
            recorded: "2026-11-25T12:00:00Z",
            viewer: Some(&v),
            action: "operation",
            patient: Some("joe-patient"),
            status: 200,
            relationships: Some(vec![(
                RelationshipKind::Encounter,
                "2026-11-24T21:00:00Z".into(),
            )]),
            policy: "sha256:x",
            ..Audit::default()
        }
        .build();
        let fhir: Value = serde_json::from_str(&row.event).unwrap();
        let event = core_audit::AuditEvent::from_fhir(&fhir, 1)
            .unwrap()
            .unwrap();
        let alerts = core_audit::scan(p.audit_rules(), [event]).unwrap();
        assert!(alerts.iter().all(|a| a.rule != "no-relationship"));
    }
}
