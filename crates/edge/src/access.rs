//! "Who has looked at my record": a person's own access log, built from
//! the audit table.
//!
//! Each line says who (name and user id), in what role (the policy's
//! profile name), from which organisation, when, what they did, whether
//! they broke glass and why (the reason code's display), and whether they
//! acted as someone's proxy. Only actions that touched the record or the
//! person's sharing choices are listed; refused requests released nothing
//! and are left out.

use serde::Deserialize;
use serde_json::{json, Value};
use tiergate_core::Policy;

/// The audit columns the log needs.
#[derive(Debug, Clone, Deserialize)]
pub struct LogRow {
    pub recorded: String,
    pub user_id: Option<String>,
    pub organisation: Option<String>,
    pub profile: Option<String>,
    pub action: String,
    pub status: u16,
    pub break_glass: u8,
    pub event: String,
}

/// What an audited action means to the person, or `None` when it is not
/// part of their access log.
pub fn describe(action: &str) -> Option<&'static str> {
    Some(match action {
        "read" | "vread" | "history-instance" | "search-type" | "operation" => {
            "Looked at your record"
        }
        "patient-find" => "Found you in a patient search",
        "consent-read" => "Looked at your sharing choices",
        "consent-permit" => "Recorded your consent to share",
        "consent-opt-out" => "Recorded an opt-out",
        "consent-withdraw" => "Withdrew an opt-out",
        "proxy-grant" => "Gave someone access to your record",
        "proxy-revoke" => "Removed someone's access",
        "proxy-agree" => "Agreed to someone's access",
        "book" => "Asked for an appointment",
        "plan-update" => "Updated your plan",
        "access-log" => "Looked at this access log",
        "approval-grant" => "Approved a professional to see your wider community record",
        "approval-revoke" => "Ended a professional's approval to see your wider community record",
        _ => return None,
    })
}

fn detail<'a>(event: &'a Value, kind: &str) -> Option<&'a str> {
    event
        .get("entity")?
        .as_array()?
        .iter()
        .filter_map(|e| e.get("detail")?.as_array())
        .flatten()
        .find(|d| d.get("type").and_then(Value::as_str) == Some(kind))?
        .get("valueString")?
        .as_str()
}

/// One line of the log, or `None` for rows that are not part of it.
pub fn entry(row: &LogRow, policy: &Policy) -> Option<Value> {
    if !(200..300).contains(&row.status) {
        return None;
    }
    let what = describe(&row.action)?;
    let event: Value = serde_json::from_str(&row.event).unwrap_or(Value::Null);
    let name = event
        .pointer("/agent/0/who/display")
        .and_then(Value::as_str);
    let role = row
        .profile
        .as_deref()
        .and_then(|p| policy.profile(p))
        .map(|p| p.name.as_str());
    let reason = detail(&event, "break-glass-reason").map(|code| {
        policy
            .document()
            .break_glass
            .reasons
            .iter()
            .find(|r| r.code == code)
            .map_or(code, |r| r.display.as_str())
    });
    Some(json!({
        "when": row.recorded,
        "who": name.or(row.user_id.as_deref()),
        "user_id": row.user_id,
        "role": role,
        "profile": row.profile,
        "organisation": row.organisation,
        "what": what,
        "action": row.action,
        "break_glass": row.break_glass != 0,
        "break_glass_reason": reason,
        "as_proxy": detail(&event, "on-behalf-of").is_some(),
        "approved_user": detail(&event, "approved-user"),
        "approved_until": detail(&event, "approved-until"),
        "by_approval": row.action != "approval-grant"
            && row.action != "approval-revoke"
            && detail(&event, "approval").is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Audit;
    use tiergate_core::Viewer;

    fn row(audit: &Audit<'_>) -> LogRow {
        let r = audit.build();
        LogRow {
            recorded: r.recorded,
            user_id: r.user_id,
            organisation: r.organisation,
            profile: r.profile,
            action: r.action,
            status: r.status,
            break_glass: u8::from(r.break_glass),
            event: r.event,
        }
    }

    #[test]
    fn lines_say_who_in_what_role_and_whether_glass_was_broken() {
        let p = Policy::default_policy().unwrap();
        let v = Viewer::from_json(br#"{"user_id": "u1", "name": "Dr Amir Shah", "organisation": "RAE", "profile": "6", "purpose": "direct-care", "training": null}"#).unwrap();
        let line = entry(
            &row(&Audit {
                request_id: "r1",
                recorded: "2026-11-25T10:00:00Z",
                viewer: Some(&v),
                action: "operation",
                patient: Some("joe-patient"),
                status: 200,
                released: true,
                break_glass: Some(("unconscious", Some("brought in by ambulance"))),
                policy: "sha256:x",
                ..Audit::default()
            }),
            &p,
        )
        .unwrap();
        assert_eq!(line["who"], "Dr Amir Shah");
        assert_eq!(line["role"], p.profile("6").unwrap().name.as_str());
        assert_eq!(line["organisation"], "RAE");
        assert_eq!(line["what"], "Looked at your record");
        assert_eq!(line["break_glass"], true);
        assert_eq!(
            line["break_glass_reason"],
            "Patient unconscious or otherwise unable to consent"
        );
        // The professional's free text is for the investigation, not the log.
        assert!(!line.to_string().contains("ambulance"));
    }

    #[test]
    fn an_approval_and_the_reads_it_opened_are_in_the_persons_log() {
        let p = Policy::default_policy().unwrap();
        let officer = Viewer::from_json(br#"{"user_id": "po", "name": "Privacy officer", "organisation": "R9P", "profile": "privacy-officer", "purpose": "direct-care", "training": null}"#).unwrap();
        let line = entry(
            &row(&Audit {
                recorded: "2026-11-25T10:00:00Z",
                viewer: Some(&officer),
                action: "approval-grant",
                patient: Some("susan-patient"),
                status: 201,
                approval: Some(("ap-1", "dr.okafor", "2026-12-25T10:00:00Z")),
                ..Audit::default()
            }),
            &p,
        )
        .unwrap();
        assert_eq!(
            line["what"],
            "Approved a professional to see your wider community record"
        );
        assert_eq!(line["approved_user"], "dr.okafor");
        assert_eq!(line["approved_until"], "2026-12-25T10:00:00Z");
        assert_eq!(line["by_approval"], false);
    }

    #[test]
    fn refusals_and_other_actions_are_not_listed() {
        let p = Policy::default_policy().unwrap();
        let refused = Audit {
            action: "refused",
            status: 401,
            ..Audit::default()
        };
        assert!(entry(&row(&refused), &p).is_none());
        let login = Audit {
            action: "login",
            status: 200,
            ..Audit::default()
        };
        assert!(entry(&row(&login), &p).is_none());
    }
}
