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
    /// The viewer names a profile the policy does not define (the message
    /// does not repeat it).
    #[error("viewer: `/profile`: not a profile of the policy")]
    UnknownProfile { profile: String },
    /// A date in the viewer is not a FHIR date or RFC 3339 date-time.
    #[error("viewer: `{path}`: not a date or date-time")]
    BadDate { path: String },
    /// The viewer holds a proxy scope the policy does not define.
    #[error("viewer: `/proxy_scopes`: not a proxy scope of the policy")]
    UnknownProxyScope { scope: String },
    /// The viewer's profile does not allow break glass (an own-record view).
    #[error("viewer: `/break_glass`: this profile may not use break glass")]
    BreakGlassNotApplicable { profile: String },
}

/// Break glass that the policy does not accept: the request is refused and no
/// record data is released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakGlassError {
    #[error("break glass refused: a reason is required")]
    ReasonRequired,
    #[error("break glass refused: the reason is not in the policy's reason list")]
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
    #[error("request: the default setting is not one of the policy's")]
    UnknownSetting { setting: String },
}

/// Our own wording for a serde_json message about a value of the wrong
/// shape (its position already removed): the kind of problem, and what was
/// expected where serde says (the names of our own types and fields, which
/// serde always puts last, after `, expected `). Never a value or a key
/// from the input: a message that is not one of serde's known forms is
/// described as an invalid value.
pub(crate) fn describe(message: &str) -> String {
    // A field name of ours, in backticks after `prefix`.
    let field = |prefix: &str| {
        let name = message.strip_prefix(prefix)?.split('`').next()?;
        let ours = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ours.then(|| name.to_owned())
    };
    let expected = || {
        let at = message.rfind(", expected ")?;
        let tail = message.get(at + ", expected ".len()..)?;
        let ours = tail.len() <= 400
            && tail
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " _`,.-:()".contains(c));
        ours.then(|| tail.to_owned())
    };
    let with_expected = |kind: &str| match expected() {
        Some(e) => format!("{kind}, expected {e}"),
        None => kind.to_owned(),
    };
    if let Some(name) = field("missing field `") {
        format!("missing field `{name}`")
    } else if message.starts_with("duplicate field `") {
        // The pointer names it; which one the author meant is theirs to say.
        "duplicate field".to_owned()
    } else if message.starts_with("unknown field `") {
        if message.ends_with(", there are no fields") {
            "unknown field, there are no fields".to_owned()
        } else {
            with_expected("unknown field")
        }
    } else if message.starts_with("unknown variant `") {
        if message.ends_with(", there are no variants") {
            "unknown variant".to_owned()
        } else {
            with_expected("unknown variant")
        }
    } else if let Some(rest) = message.strip_prefix("invalid type: ") {
        with_expected(&what_was_found("invalid type", rest))
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        with_expected(&what_was_found("invalid value", rest))
    } else if let Some(rest) = message.strip_prefix("invalid length ") {
        // How many items there were: a count, not content.
        let count: String = rest.chars().take_while(char::is_ascii_digit).collect();
        with_expected(&format!("invalid length {count}"))
    } else if OUR_MESSAGES.contains(&message) {
        message.to_owned()
    } else {
        "invalid value".to_owned()
    }
}

/// `kind: type` for the kind of value serde found (`integer`, `string`,
/// `map`...), never the value itself.
fn what_was_found(kind: &str, rest: &str) -> String {
    const FOUND: [&str; 17] = [
        "boolean",
        "integer",
        "floating point",
        "character",
        "string",
        "byte array",
        "unit value",
        "Option value",
        "newtype struct",
        "sequence",
        "map",
        "enum",
        "unit variant",
        "newtype variant",
        "tuple variant",
        "struct variant",
        "null",
    ];
    match FOUND.iter().find(|f| rest.starts_with(*f)) {
        Some(found) => format!("{kind}: {found}"),
        None => kind.to_owned(),
    }
}

/// Messages our own deserialisers give (`de::Error::custom`).
const OUR_MESSAGES: [&str; 2] = ["not an RFC 3339 date-time", "number out of range"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_keeps_our_words_only() {
        let cases = [
            (
                "invalid type: string \"HIV viral load\", expected u8",
                "invalid type: string, expected u8",
            ),
            (
                "unknown variant `HIV positive`, expected `permit` or `deny`",
                "unknown variant, expected `permit` or `deny`",
            ),
            (
                "unknown field `hiv_status`, expected one of `id`, `kind`",
                "unknown field, expected one of `id`, `kind`",
            ),
            ("missing field `profile`", "missing field `profile`"),
            ("duplicate field `profile`", "duplicate field"),
            // Quotes inside quotes: the value ends at the last quote, not the first.
            (
                "invalid value: string \"HIV\\\" positive on 3 May\", expected a date",
                "invalid value: string, expected a date",
            ),
            // A key that looks like serde's own words.
            (
                "unknown field `a, expected secret notes`, there are no fields",
                "unknown field, there are no fields",
            ),
            (
                "invalid length 3, expected a tuple of size 2",
                "invalid length 3, expected a tuple of size 2",
            ),
            ("not an RFC 3339 date-time", "not an RFC 3339 date-time"),
            ("something HIV-ish serde may say one day", "invalid value"),
            (
                "invalid type: string \"x\", expected `a` \"quoted\"",
                "invalid type: string",
            ),
            (
                "invalid type: integer `3`, expected a string",
                "invalid type: integer, expected a string",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(describe(input), want, "{input}");
        }
    }
}
