//! Break-glass investigation (framework 6.2, 6.3): every break glass opens
//! a case. The professional who broke glass records an explanation of the
//! decision they took; a privacy officer reviews it and closes the case as
//! appropriate or escalates it. Every step is kept in the case's history
//! (and audited by the worker).
//!
//! ```text
//! awaiting-explanation --explain--> awaiting-review --review--> closed-appropriate
//!          |                              |    ^                     or escalated
//!          +-------- review: escalate ----+----+ (explain again before review)
//! ```

use serde::{Deserialize, Serialize};

use crate::outcome::Refusal;

/// Longest explanation or review note, in characters.
pub const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    AwaitingExplanation,
    AwaitingReview,
    ClosedAppropriate,
    Escalated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingExplanation => "awaiting-explanation",
            Self::AwaitingReview => "awaiting-review",
            Self::ClosedAppropriate => "closed-appropriate",
            Self::Escalated => "escalated",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, Self::AwaitingExplanation | Self::AwaitingReview)
    }
}

/// One step in a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub time: String,
    /// User id of who acted.
    pub actor: String,
    /// `opened`, `explained`, `reviewed:appropriate`, `reviewed:escalate`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A break-glass case. Holds audit metadata and the professionals' own
/// words, never record content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    pub organisation: String,
    pub profile: String,
    pub patient: String,
    /// The policy's reason code, and its display text.
    pub reason: String,
    pub reason_display: String,
    /// The professional's free text at the time (sanitised).
    #[serde(default)]
    pub detail: Option<String>,
    pub opened: String,
    pub expires: String,
    pub status: Status,
    #[serde(default)]
    pub explanation: Option<String>,
    #[serde(default)]
    pub explained_at: Option<String>,
    #[serde(default)]
    pub reviewer: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
    #[serde(default)]
    pub review_note: Option<String>,
    #[serde(default)]
    pub reviewed_at: Option<String>,
    #[serde(default)]
    pub history: Vec<Step>,
}

/// What opens a case.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub user_name: Option<&'a str>,
    pub organisation: &'a str,
    pub profile: &'a str,
    pub patient: &'a str,
    pub reason: &'a str,
    pub reason_display: &'a str,
    pub detail: Option<&'a str>,
    pub opened: &'a str,
    pub expires: &'a str,
}

/// Opens the case for a new break-glass window.
pub fn open(o: &Opening<'_>) -> Case {
    Case {
        id: o.id.to_owned(),
        user_id: o.user_id.to_owned(),
        user_name: o.user_name.map(str::to_owned),
        organisation: o.organisation.to_owned(),
        profile: o.profile.to_owned(),
        patient: o.patient.to_owned(),
        reason: o.reason.to_owned(),
        reason_display: o.reason_display.to_owned(),
        detail: o.detail.map(str::to_owned),
        opened: o.opened.to_owned(),
        expires: o.expires.to_owned(),
        status: Status::AwaitingExplanation,
        explanation: None,
        explained_at: None,
        reviewer: None,
        decision: None,
        review_note: None,
        reviewed_at: None,
        history: vec![Step {
            time: o.opened.to_owned(),
            actor: o.user_id.to_owned(),
            action: "opened".into(),
            note: None,
        }],
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplanationBody {
    explanation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    decision: String,
    #[serde(default)]
    note: Option<String>,
}

/// Free text from a professional: trimmed, at most [`MAX_TEXT`]
/// characters, line breaks kept, other control characters refused.
fn words(text: &str) -> Result<String, Refusal> {
    let t = text.trim();
    if t.is_empty()
        || t.chars().count() > MAX_TEXT
        || t.chars()
            .any(|c| (c.is_control() && c != '\n') || crate::breakglass::is_invisible_format(c))
    {
        return Err(Refusal::BadRequest);
    }
    Ok(t.to_owned())
}

/// The professional who broke glass explains their decision. Only they
/// may; not once the case is closed.
pub fn explain(case: &mut Case, user_id: &str, body: &[u8], now: &str) -> Result<(), Refusal> {
    if body.len() > 16 * 1024 {
        return Err(Refusal::BadRequest);
    }
    let b: ExplanationBody = serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)?;
    let text = words(&b.explanation)?;
    if case.user_id != user_id {
        return Err(Refusal::NotPermitted);
    }
    if !case.status.is_open() {
        return Err(Refusal::Conflict);
    }
    case.explanation = Some(text);
    case.explained_at = Some(now.to_owned());
    case.status = Status::AwaitingReview;
    case.history.push(Step {
        time: now.to_owned(),
        actor: user_id.to_owned(),
        action: "explained".into(),
        note: None,
    });
    Ok(())
}

/// A privacy officer reviews: `appropriate` closes the case (an
/// explanation is needed first), `escalate` escalates it at any point
/// while open. Nobody reviews their own break glass.
pub fn review(case: &mut Case, reviewer: &str, body: &[u8], now: &str) -> Result<(), Refusal> {
    if body.len() > 16 * 1024 {
        return Err(Refusal::BadRequest);
    }
    let b: ReviewBody = serde_json::from_slice(body).map_err(|_| Refusal::BadRequest)?;
    let note = b.note.as_deref().map(words).transpose()?;
    let status = match b.decision.as_str() {
        "appropriate" => Status::ClosedAppropriate,
        "escalate" => Status::Escalated,
        _ => return Err(Refusal::BadRequest),
    };
    if case.user_id == reviewer {
        return Err(Refusal::NotPermitted);
    }
    if !case.status.is_open() || (status == Status::ClosedAppropriate && case.explanation.is_none())
    {
        return Err(Refusal::Conflict);
    }
    case.status = status;
    case.reviewer = Some(reviewer.to_owned());
    case.decision = Some(b.decision.clone());
    case.review_note = note.clone();
    case.reviewed_at = Some(now.to_owned());
    case.history.push(Step {
        time: now.to_owned(),
        actor: reviewer.to_owned(),
        action: format!("reviewed:{}", b.decision),
        note,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        open(&Opening {
            id: "case-1",
            user_id: "dr.a",
            user_name: Some("Dr A"),
            organisation: "R9A",
            profile: "6",
            patient: "joe-patient",
            reason: "unconscious",
            reason_display: "Patient unconscious",
            detail: Some("arrived by ambulance"),
            opened: "2026-11-25T10:00:00Z",
            expires: "2026-11-25T14:00:00Z",
        })
    }

    #[test]
    fn explained_then_closed_as_appropriate_with_history() {
        let mut c = case();
        assert_eq!(c.status, Status::AwaitingExplanation);
        let early = review(
            &mut c,
            "po",
            br#"{"decision": "appropriate"}"#,
            "2026-11-25T11:00:00Z",
        );
        assert_eq!(early, Err(Refusal::Conflict), "no explanation yet");
        assert_eq!(
            explain(
                &mut c,
                "someone.else",
                br#"{"explanation": "x"}"#,
                "2026-11-25T11:00:00Z"
            ),
            Err(Refusal::NotPermitted)
        );
        explain(
            &mut c,
            "dr.a",
            br#"{"explanation": "Unconscious on arrival; needed medication history."}"#,
            "2026-11-25T11:00:00Z",
        )
        .unwrap();
        assert_eq!(c.status, Status::AwaitingReview);
        assert_eq!(
            review(
                &mut c,
                "dr.a",
                br#"{"decision": "appropriate"}"#,
                "2026-11-25T12:00:00Z"
            ),
            Err(Refusal::NotPermitted),
            "nobody reviews their own break glass"
        );
        review(
            &mut c,
            "po",
            br#"{"decision": "appropriate", "note": "Clinically justified."}"#,
            "2026-11-25T12:00:00Z",
        )
        .unwrap();
        assert_eq!(c.status, Status::ClosedAppropriate);
        let actions: Vec<&str> = c.history.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(actions, ["opened", "explained", "reviewed:appropriate"]);
        assert_eq!(
            explain(
                &mut c,
                "dr.a",
                br#"{"explanation": "more"}"#,
                "2026-11-25T13:00:00Z"
            ),
            Err(Refusal::Conflict),
            "closed"
        );
    }

    #[test]
    fn escalation_needs_no_explanation_and_bad_bodies_are_refused() {
        let mut c = case();
        for body in [
            &br#"{"decision": "ignore"}"#[..],
            br#"{"decision": "escalate", "note": "a\u0007b"}"#,
            br#"{"decision": "escalate", "extra": 1}"#,
            b"not json",
        ] {
            assert_eq!(
                review(&mut c, "po", body, "2026-11-25T12:00:00Z"),
                Err(Refusal::BadRequest)
            );
        }
        review(
            &mut c,
            "po",
            br#"{"decision": "escalate"}"#,
            "2026-11-25T12:00:00Z",
        )
        .unwrap();
        assert_eq!(c.status, Status::Escalated);
        let long = format!(r#"{{"explanation": "{}"}}"#, "x".repeat(MAX_TEXT + 1));
        assert_eq!(
            explain(&mut case(), "dr.a", long.as_bytes(), "t"),
            Err(Refusal::BadRequest)
        );
    }
}
