//! Test oracles shared by core's integration tests and the fuzz targets.
//!
//! One question is asked of every redacted output, by the corpus replay
//! (`crates/core/tests/corpus.rs`), the leak property tests
//! (`crates/core/tests/leaks.rs`) and the `redact` fuzz target: *does this
//! output still name an excluded code or term?* [`leaks`] answers it, once,
//! so the three cannot drift apart.
//!
//! It is an oracle written independently of the redactor, from the policy's
//! public lookups only ([`Policy::exclusion_categories_of`] and
//! [`Policy::term_categories_of`]), and it walks every string in the value:
//!
//! * a `code` is looked up with the `system` beside it; a `valueCode` with
//!   no system (it has none in FHIR);
//! * an attachment's `data` (an object with a `contentType`, or a resource
//!   such as `Binary`) is base64-decoded and its text searched for terms;
//! * every other string is searched for terms, except the elements in
//!   [`SKIP_TEXT`] (ids, references, URLs, systems: identifiers, not
//!   clinical text), the same list the default policy's
//!   `free_text.skip_elements` gives.
//!
//! ```
//! use serde_json::json;
//! use tiergate_core::Policy;
//!
//! let policy = Policy::default_policy().unwrap();
//! let out = json!({"resourceType": "Condition", "note": [{"text": "known HIV"}]});
//! let found = tiergate_testkit::leaks(&policy, &out);
//! assert!(!found.is_empty());
//! assert!(found[0].to_string().starts_with("term in `text`"));
//! assert!(tiergate_testkit::leaks(&policy, &json!({"note": [{"text": "asthma"}]})).is_empty());
//! ```
//!
//! It says what leaked (a code and its category, or the element a term was
//! found in), never more of the record than that.

use std::fmt;

use serde_json::{Map, Value};
use tiergate_core::Policy;

/// Elements whose strings are identifiers rather than clinical text: not
/// searched for terms.
pub const SKIP_TEXT: [&str; 12] = [
    "id",
    "reference",
    "fullUrl",
    "url",
    "system",
    "version",
    "profile",
    "div_id",
    "contentType",
    "language",
    "uri",
    "source",
];

/// Something in an output that names an exclusion category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leak {
    /// An excluded code (in a `code` or `valueCode` element).
    Code { code: String, category: String },
    /// A term of an exclusion category in the text of `element` (`data`
    /// for a decoded attachment).
    Term { element: String, category: String },
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code { code, category } => write!(f, "code {code} ({category})"),
            Self::Term { element, category } => write!(f, "term in `{element}` ({category})"),
        }
    }
}

/// The object holding a value, if any.
type Parent<'a> = Option<&'a Map<String, Value>>;

/// One string in a JSON value.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    /// The element it is the value of (an array's items take the array's
    /// name; the root string, if any, has `""`).
    pub element: &'a str,
    pub text: &'a str,
    /// The object holding it.
    pub parent: Parent<'a>,
}

/// Every string anywhere in `value`, depth first, without recursion (so a
/// deeply nested output cannot overflow the test's stack).
pub fn strings(value: &Value) -> Vec<Text<'_>> {
    let mut out = Vec::new();
    let mut stack: Vec<(&str, &Value, Parent<'_>)> = vec![("", value, None)];
    while let Some((element, v, parent)) = stack.pop() {
        match v {
            Value::Object(m) => stack.extend(m.iter().map(|(k, c)| (k.as_str(), c, Some(m)))),
            Value::Array(items) => stack.extend(items.iter().map(|c| (element, c, parent))),
            Value::String(text) => out.push(Text {
                element,
                text,
                parent,
            }),
            _ => {}
        }
    }
    out
}

/// Every excluded code or term anywhere in `value`, in no particular order;
/// empty when nothing leaks. See the [crate docs](crate) for what is
/// searched.
pub fn leaks(policy: &Policy, value: &Value) -> Vec<Leak> {
    let mut found = Vec::new();
    for t in strings(value) {
        scan(policy, t.element, t.text, t.parent, &mut found);
    }
    found
}

fn scan(policy: &Policy, key: &str, text: &str, parent: Parent<'_>, found: &mut Vec<Leak>) {
    let code = |code: &str, category: &str| Leak::Code {
        code: code.to_owned(),
        category: category.to_owned(),
    };
    let term = |category: &str| Leak::Term {
        element: key.to_owned(),
        category: category.to_owned(),
    };
    match key {
        "code" => {
            let system = parent.and_then(|p| p.get("system")).and_then(Value::as_str);
            for c in policy.exclusion_categories_of(system, text) {
                found.push(code(text, c));
            }
        }
        "valueCode" => {
            for c in policy.exclusion_categories_of(None, text) {
                found.push(code(text, c));
            }
        }
        "data"
            if parent.is_some_and(|p| {
                p.contains_key("contentType") || p.contains_key("resourceType")
            }) =>
        {
            let decoded = String::from_utf8_lossy(&base64(text)).into_owned();
            for c in policy.term_categories_of(&decoded) {
                found.push(term(c));
            }
        }
        _ if SKIP_TEXT.contains(&key) => {}
        _ => {
            for c in policy.term_categories_of(text) {
                found.push(term(c));
            }
        }
    }
}

/// Decodes base64, standard or URL-safe, leniently: characters outside both
/// alphabets (white space, padding) are skipped.
fn base64(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut bits, mut n) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => continue,
        };
        bits = (bits << 6 | u32::from(v)) & 0xff_ffff;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.extend(u8::try_from((bits >> n) & 0xff));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use serde_json::json;

    use super::*;

    fn policy() -> Policy {
        Policy::default_policy().unwrap()
    }

    #[test]
    fn codes_with_and_without_a_system() {
        let p = policy();
        let v =
            json!({"code": {"coding": [{"system": "http://read.info/readv2", "code": "43W7."}]}});
        let found = leaks(&p, &v);
        assert!(
            matches!(&found[0], Leak::Code { code, .. } if code == "43W7."),
            "{found:?}"
        );
        let v = json!({"extension": [{"url": "x", "valueCode": "43W7."}]});
        assert!(!leaks(&p, &v).is_empty());
        let v =
            json!({"code": {"coding": [{"system": "http://unrelated.example", "code": "43W7."}]}});
        assert!(leaks(&p, &v).is_empty());
    }

    #[test]
    fn terms_in_text_but_not_in_identifiers() {
        let p = policy();
        assert!(!leaks(&p, &json!({"note": [{"text": "HIV viral load"}]})).is_empty());
        assert!(leaks(
            &p,
            &json!({"reference": "Condition/HIV-viral-load", "id": "HIV viral load"})
        )
        .is_empty());
    }

    #[test]
    fn attachments_are_decoded() {
        let p = policy();
        // "Letter: HIV viral load." in base64.
        let data = "TGV0dGVyOiBISVYgdmlyYWwgbG9hZC4=";
        let found = leaks(
            &p,
            &json!({"valueAttachment": {"contentType": "text/plain", "data": data}}),
        );
        assert_eq!(
            found
                .first()
                .map(ToString::to_string)
                .as_deref()
                .map(|s| s.starts_with("term in `data`")),
            Some(true)
        );
        assert_eq!(base64(data), b"Letter: HIV viral load.");
        assert_eq!(base64("_-8"), vec![0xff, 0xef]);
    }
}
