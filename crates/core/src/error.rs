//! Error types, one per operation. Messages name JSON paths and rule ids,
//! never record content.

use std::fmt;

use serde::Serialize;

/// One problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON pointer to the offending value (`/profiles/3/access/community`).
    pub path: String,
    /// The id of the rule, profile or category the problem belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// What is wrong, in lower case.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            rule: None,
            message: message.into(),
        }
    }

    pub(crate) fn in_rule(mut self, rule: &str) -> Self {
        self.rule = Some(rule.to_owned());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)?;
        if let Some(rule) = &self.rule {
            write!(f, " (in `{rule}`)")?;
        }
        Ok(())
    }
}

/// A policy document that cannot be used. Holds every problem found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("policy is invalid: {} problem(s), first {}", .problems.len(), first(.problems))]
pub struct PolicyError {
    /// Every problem, in document order.
    pub problems: Vec<Problem>,
}

impl PolicyError {
    pub(crate) fn at_root(message: String) -> Self {
        Self {
            problems: vec![Problem::new("", message)],
        }
    }
}

fn first(problems: &[Problem]) -> String {
    problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// A viewer description that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewerError {
    /// The viewer JSON does not have the expected shape.
    #[error("viewer: `{path}`: {message}")]
    Shape { path: String, message: String },
    /// The viewer names a profile the policy does not define.
    #[error("viewer: `/profile`: unknown profile `{profile}`")]
    UnknownProfile { profile: String },
    /// A date in the viewer is not a FHIR date or RFC 3339 date-time.
    #[error("viewer: `{path}`: not a date or date-time")]
    BadDate { path: String },
    /// The viewer holds a proxy scope the policy does not define.
    #[error("viewer: `/proxy_scopes`: unknown proxy scope `{scope}`")]
    UnknownProxyScope { scope: String },
    /// The viewer's profile does not allow break glass (an own-record view).
    #[error("viewer: `/break_glass`: profile `{profile}` may not use break glass")]
    BreakGlassNotApplicable { profile: String },
}

/// Break glass that the policy does not accept: the request is refused and no
/// record data is released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakGlassError {
    #[error("break glass refused: a reason is required")]
    ReasonRequired,
    #[error("break glass refused: reason `{code}` is not in the policy's reason list")]
    UnknownReason { code: String },
    #[error("break glass refused: the access window has expired")]
    Expired,
    #[error("break glass refused: the access window starts in the future")]
    NotStarted,
}

/// Consent directives that cannot be understood. Fail closed: the request is
/// refused rather than guessing what the person asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("consent: `{path}`: {message}")]
pub struct ConsentError {
    pub path: String,
    pub message: String,
}

impl ConsentError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Why a record could not be redacted. Every variant means no record data
/// is released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedactError {
    #[error("record: expected FHIR JSON")]
    NotJson,
    #[error("record: malformed JSON at line {line}, column {column}")]
    MalformedJson { line: usize, column: usize },
    #[error("record: nested deeper than the limit")]
    TooDeep,
    #[error("record: {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("record: `{path}`: {message}")]
    Structure { path: String, message: String },
    #[error(transparent)]
    Viewer(#[from] ViewerError),
    #[error(transparent)]
    Consent(#[from] ConsentError),
    #[error(transparent)]
    BreakGlass(#[from] BreakGlassError),
    #[error("request: `now` is not an RFC 3339 date-time")]
    BadNow,
    #[error("request: unknown default setting `{setting}`")]
    UnknownSetting { setting: String },
}

/// Describes a serde error without quoting input content: quoted fragments
/// are replaced, so a message can never carry a value from a record.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quote = false;
    for ch in message.chars() {
        if ch == '"' {
            if !in_quote {
                out.push_str("\"…\"");
            }
            in_quote = !in_quote;
        } else if !in_quote {
            out.push(ch);
        }
    }
    // "unknown variant `x`" and "unknown field `x`" (and "duplicate field")
    // quote the input in
    // backticks; the names serde expects (later in the message) are ours.
    for prefix in ["unknown variant `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = out.strip_prefix(prefix) {
            if let Some(end) = rest.find('`') {
                let tail = rest.get(end..).unwrap_or_default().to_owned();
                out = format!("{prefix}…{tail}");
            }
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_quoted_values() {
        let m = scrub("invalid type: string \"HIV viral load\", expected u8");
        assert_eq!(m, "invalid type: string \"…\", expected u8");
        assert!(!m.contains("HIV"));
        let m = scrub("unknown variant `HIV positive`, expected `permit` or `deny`");
        assert_eq!(m, "unknown variant `…`, expected `permit` or `deny`");
        let m = scrub("unknown field `hiv_status`, expected one of `id`, `kind`");
        assert_eq!(m, "unknown field `…`, expected one of `id`, `kind`");
        assert_eq!(scrub("missing field `profile`"), "missing field `profile`");
    }
}
