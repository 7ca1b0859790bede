//! Break glass at the edge (framework 6.2): the caller states a reason
//! from the policy's list and free text, in request headers
//! (`X-Tiergate-Break-Glass: <reason code>`,
//! `X-Tiergate-Break-Glass-Detail: <free text>`).
//!
//! Header text is sanitised before it goes anywhere: control characters
//! (CR, LF, tabs, ...) removed, whitespace collapsed, length capped. A
//! break-glass window lasts the policy's `max_minutes` from its start; a
//! request inside an open window for the same user, patient and reason
//! continues it, otherwise a new window starts (and is audited as such).

use tiergate_core::{BreakGlass, Policy};
use time::OffsetDateTime;

/// The header naming the reason code.
pub const REASON_HEADER: &str = "x-tiergate-break-glass";
/// The header carrying the professional's free-text justification.
pub const DETAIL_HEADER: &str = "x-tiergate-break-glass-detail";
/// Response header: when the caller's break-glass window closes (RFC 3339).
pub const EXPIRES_HEADER: &str = "x-tiergate-break-glass-expires";
/// Longest free text kept.
pub const MAX_DETAIL: usize = 500;
/// Longest reason code kept.
pub const MAX_REASON: usize = 64;

/// What the caller stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Empty when no reason was given (core refuses it).
    pub reason: String,
    pub detail: Option<String>,
}

pub use tiergate_core::text::is_invisible_format;

/// Printable text only, whitespace collapsed, at most `max` characters.
pub fn sanitise(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in text.chars() {
        if is_invisible_format(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if out.chars().count() >= max {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out.chars().take(max).collect()
}

/// Reads the break-glass headers. `None` when neither is present.
pub fn from_headers(reason: Option<&str>, detail: Option<&str>) -> Option<Statement> {
    if reason.is_none() && detail.is_none() {
        return None;
    }
    let reason = sanitise(reason.unwrap_or(""), MAX_REASON);
    let detail = detail
        .map(|d| sanitise(d, MAX_DETAIL))
        .filter(|d| !d.is_empty());
    Some(Statement { reason, detail })
}

/// When the window for this statement starts: the open window's start if
/// one (for the same reason) is still open at `now`, else `now`.
pub fn window_start(
    open: Option<OffsetDateTime>,
    now: OffsetDateTime,
    policy: &Policy,
) -> OffsetDateTime {
    let max = time::Duration::minutes(i64::from(policy.document().break_glass.max_minutes));
    match open {
        Some(start) if start <= now && now < start + max => start,
        _ => now,
    }
}

/// The core break glass for a statement and window start.
pub fn to_core(s: &Statement, started: OffsetDateTime) -> BreakGlass {
    BreakGlass {
        reason: Some(s.reason.clone()).filter(|r| !r.is_empty()),
        detail: s.detail.clone(),
        started: tiergate_core::fhirtime::format(started),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn headers_are_sanitised() {
        let s = from_headers(
            Some(" unconscious\r\n"),
            Some("Brought in\r\nX-Evil: 1\t\u{0}  unresponsive"),
        )
        .unwrap();
        assert_eq!(s.reason, "unconscious");
        assert_eq!(
            s.detail.as_deref(),
            Some("Brought in X-Evil: 1 unresponsive")
        );
        let long = from_headers(Some("r"), Some(&"x".repeat(2000))).unwrap();
        assert_eq!(long.detail.unwrap().len(), MAX_DETAIL);
        assert_eq!(from_headers(None, None), None);
        let no_reason = from_headers(None, Some("help")).unwrap();
        assert_eq!(no_reason.reason, "");
        assert_eq!(
            from_headers(Some("x"), Some(" \r\n ")).unwrap().detail,
            None
        );
    }

    #[test]
    fn windows() {
        let p = Policy::default_policy().unwrap();
        let now = datetime!(2026-11-25 12:00 UTC);
        assert_eq!(window_start(None, now, &p), now);
        let open = datetime!(2026-11-25 10:00 UTC);
        assert_eq!(window_start(Some(open), now, &p), open);
        let old = datetime!(2026-11-25 07:59 UTC);
        assert_eq!(window_start(Some(old), now, &p), now);
        let future = datetime!(2026-11-25 13:00 UTC);
        assert_eq!(window_start(Some(future), now, &p), now);
    }

    #[test]
    fn core_refuses_what_it_should() {
        let p = Policy::default_policy().unwrap();
        let now = datetime!(2026-11-25 12:00 UTC);
        let mut v = tiergate_core::Viewer::from_json(br#"{"user_id": "u", "organisation": "R9A", "profile": "6", "purpose": "direct-care", "training": {"expires": "2029-01-01"}}"#).unwrap();
        v.break_glass = Some(to_core(
            &from_headers(Some("unconscious"), Some("x")).unwrap(),
            now,
        ));
        assert!(v.break_glass_at(&p, now).unwrap().is_some());
        v.break_glass = Some(to_core(&from_headers(None, Some("x")).unwrap(), now));
        assert!(v.break_glass_at(&p, now).is_err());
        v.break_glass = Some(to_core(&from_headers(Some("bored"), None).unwrap(), now));
        assert!(v.break_glass_at(&p, now).is_err());
    }

    #[test]
    fn invisible_format_characters_are_removed() {
        let s = sanitise("scan of \u{202E}\u{FEFF}gnp.exe\u{200B} done", 100);
        assert_eq!(s, "scan of gnp.exe done");
    }
}
