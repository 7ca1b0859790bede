//! Test oracles shared by core's integration tests and the fuzz targets.
//!
//! One question is asked of every redacted output, by the corpus replay
//! (`crates/core/tests/corpus.rs`), the leak property tests
//! (`crates/core/tests/leaks.rs`, `crates/core/tests/text_leaks.rs`) and the
//! `redact` and `hl7v2` fuzz targets: *does this output still name an
//! excluded code or term?* [`Oracle::leaks`] (FHIR JSON) and
//! [`Oracle::leaks_hl7v2`] answer it, once, so that they cannot drift apart.
//!
//! The oracle shares no code with the engine it checks:
//!
//! * the Appendix 1 codes come from the tests' own copy of the framework's
//!   table (`crates/core/tests/data/appendix1-exclusion-codes.tsv`), matched here
//!   (dot padding removed; a trailing `%` takes every code below);
//! * the free-text terms, the code systems Appendix 1 applies to, each
//!   category's codelists in other code systems (each code matched only in
//!   its own systems) and the HL7 v2 coded fields and coding-system names
//!   are read from the default policy document's JSON text (data, not the
//!   engine's compiled form); a category limited to some segments (which
//!   depends on where the engine places an entry) is left to its own
//!   scenario tests;
//! * text is read its own way: HTML references decoded by the
//!   `html-escape` crate, both with and without tags and markdown emphasis,
//!   then put in Unicode compatibility form by ICU4X's `icu_normalizer`,
//!   with invisible characters removed and terms found by `regex` patterns
//!   over Unicode classes: a term's words, in any case, separated by any
//!   run of characters that are not letters, digits or marks.
//!
//! In FHIR JSON, a `code` is looked up with the `system` beside it (a
//! `valueCode` has none); an attachment's `data` is base64-decoded and its
//! text searched; every other string is searched for terms, except the
//! elements in [`SKIP_TEXT`] (identifiers, not clinical text). In HL7 v2,
//! the identifiers of every coded element in the fields the policy names as
//! coded are codes, and the text of every field of every segment is
//! searched, as written and with its escape sequences read.
//!
//! ```
//! use serde_json::json;
//!
//! let oracle = tiergate_testkit::Oracle::default_policy();
//! let out = json!({"resourceType": "Condition", "note": [{"text": "known “HIV”"}]});
//! let found = oracle.leaks(&out);
//! assert!(!found.is_empty());
//! assert!(found[0].to_string().starts_with("term in `text`"));
//! assert!(oracle.leaks(&json!({"note": [{"text": "asthma"}]})).is_empty());
//! ```
//!
//! It says what leaked (a code and its category, or the element a term was
//! found in), never more of the record than that.

#![expect(
    clippy::panic,
    reason = "an oracle that cannot read its own data or patterns must stop the test"
)]

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

/// The tests' copy of Appendix 1 (see `crates/core/tests/data/README.md`).
const APPENDIX_1: &str = include_str!("../../core/tests/data/appendix1-exclusion-codes.tsv");

/// Appendix 1's headings (as transcribed) and the policy's ids for them.
pub const APPENDIX_1_CATEGORIES: [(&str, &str); 9] = [
    ("HIV & Aids", "hiv_aids"),
    (
        "Sexually Transmitted Diseases",
        "sexually_transmitted_diseases",
    ),
    ("Termination of Pregnancy", "termination_of_pregnancy"),
    ("IVF treatment", "ivf_treatment"),
    ("Complaints", "complaints"),
    ("Convictions & imprisonment", "convictions_imprisonment"),
    (
        "Abuse (physical, psychological or sexual, by others)",
        "abuse",
    ),
    ("Gender reassignment", "gender_reassignment"),
    ("Adoption", "adoption"),
];

/// Elements whose strings are identifiers rather than clinical text: not
/// searched for terms (the default policy's `free_text.skip_elements`).
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
    /// An excluded code (in a `code` or `valueCode` element, or an HL7 v2
    /// component).
    Code { code: String, category: String },
    /// A term of an exclusion category in the text of `element` (`data`
    /// for a decoded attachment; `SEG-n` in HL7 v2).
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

/// One Appendix 1 code: its category, the code without dot padding, and
/// whether it takes every code below it.
#[derive(Debug, Clone)]
struct Code {
    category: String,
    code: String,
    below: bool,
    /// The systems a policy codelist names; `None` for Appendix 1's codes
    /// (the policy's exclusion systems).
    systems: Option<Vec<String>>,
}

/// The leak oracle for one policy document's terms and systems.
#[derive(Debug)]
pub struct Oracle {
    codes: Vec<Code>,
    /// Code systems Appendix 1 applies to; codes without one are checked
    /// when `without_system` says so.
    systems: Vec<String>,
    without_system: bool,
    /// HL7 v2: fields that hold coded elements, by segment, and coding
    /// system names to the systems above.
    hl7_coded: Vec<(String, usize)>,
    hl7_systems: Vec<(String, String)>,
    /// One pattern per category: any of its terms as whole words.
    terms: Vec<(String, Regex)>,
    invisible: Regex,
    markup: Regex,
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("oracle pattern {pattern:?}: {e}"))
}

/// A member of an object, or null.
fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

/// The items of an array member (none if it is missing or not an array).
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    field(v, key).as_array().into_iter().flatten()
}

/// The strings of an array member.
fn texts_of(v: &Value, key: &str) -> Vec<String> {
    items(v, key)
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Not a letter, digit or mark: what separates words.
const SEPARATOR: &str = r"[^\p{L}\p{N}\p{M}]";

impl Oracle {
    /// The oracle for the engine's embedded default policy.
    pub fn default_policy() -> &'static Oracle {
        static ORACLE: OnceLock<Oracle> = OnceLock::new();
        ORACLE.get_or_init(|| Oracle::from_policy_json(tiergate_core::DEFAULT_POLICY_JSON))
    }

    /// The oracle for a policy document (its terms and code systems; the
    /// codes are always Appendix 1's).
    pub fn from_policy_json(policy: &str) -> Oracle {
        let doc: Value =
            serde_json::from_str(policy).unwrap_or_else(|e| panic!("policy JSON: {e}"));
        let exclusions = field(&doc, "exclusions");
        let systems = texts_of(exclusions, "systems");
        let without_system = field(exclusions, "match_codes_without_system")
            .as_bool()
            .unwrap_or(true);
        let hl7 = field(&doc, "hl7v2");
        let hl7_coded = hl7["coded_fields"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| {
                let segment = field(f, "segment").as_str().unwrap_or_default().to_owned();
                items(f, "fields")
                    .filter_map(Value::as_u64)
                    .filter_map(|n| usize::try_from(n).ok())
                    .map(move |n| (segment.clone(), n))
            })
            .collect();
        let hl7_systems = hl7["coding_systems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, uri)| (name.clone(), uri.as_str().unwrap_or_default().to_owned()))
            .collect();
        let mut oracle = Oracle {
            codes: Vec::new(),
            systems,
            without_system,
            hl7_coded,
            hl7_systems,
            terms: Vec::new(),
            invisible: regex(r"[\p{Default_Ignorable_Code_Point}\p{Cf}[\p{Cc}--\s]]"),
            markup: regex(r"<[^>]*>|[*_~`]"),
        };
        for cat in items(exclusions, "categories") {
            let id = field(cat, "id").as_str().unwrap_or_default().to_owned();
            // A category limited to some segments depends on where the
            // engine places an entry: its own scenario tests cover it.
            if field(cat, "segments")
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                continue;
            }
            for list in items(cat, "codelists") {
                let systems = texts_of(list, "systems");
                for code in items(list, "codes").filter_map(|c| field(c, "code").as_str()) {
                    oracle.codes.push(Code {
                        category: id.clone(),
                        code: code.trim_end_matches(['%', '.']).to_owned(),
                        below: code.ends_with('%'),
                        systems: Some(systems.clone()),
                    });
                }
            }
            let patterns: Vec<String> = items(cat, "terms")
                .filter_map(Value::as_str)
                .map(|t| oracle.term_pattern(t))
                .filter(|p| !p.is_empty())
                .collect();
            if !patterns.is_empty() {
                let any = format!(
                    r"(?i)(?:^|{SEPARATOR})(?:{})(?:$|{SEPARATOR})",
                    patterns.join("|")
                );
                oracle.terms.push((id, regex(&any)));
            }
        }
        for line in APPENDIX_1.lines().skip(1) {
            let mut cols = line.split('\t');
            let (Some(heading), Some(code)) = (cols.next(), cols.next()) else {
                continue;
            };
            let Some((_, category)) = APPENDIX_1_CATEGORIES.iter().find(|(h, _)| *h == heading)
            else {
                panic!("Appendix 1 heading {heading:?} has no category");
            };
            let below = code.ends_with('%');
            oracle.codes.push(Code {
                category: (*category).to_owned(),
                code: code.trim_end_matches(['%', '.']).to_owned(),
                below,
                systems: None,
            });
        }
        assert!(oracle.codes.len() > 100, "Appendix 1 has 110 codes");
        oracle
    }

    /// A term as a pattern: its words (read as text is read) separated by
    /// any run of separators.
    fn term_pattern(&self, term: &str) -> String {
        let text = self.compatible(term);
        let words: Vec<String> = regex(r"[\p{L}\p{N}\p{M}]+")
            .find_iter(&text)
            .map(|m| regex::escape(m.as_str()))
            .collect();
        words.join(&format!("{SEPARATOR}+"))
    }

    /// Compatibility form (NFKC) without invisible characters.
    fn compatible(&self, text: &str) -> String {
        let nfkc = icu_normalizer::ComposingNormalizer::new_nfkc().normalize(text);
        self.invisible.replace_all(&nfkc, "").into_owned()
    }

    /// The categories whose terms `text` holds, read as written and with
    /// its markup removed, its character references decoded.
    pub fn term_categories(&self, text: &str) -> Vec<&str> {
        let stripped = self.markup.replace_all(text, "");
        let mut out = Vec::new();
        for form in [text, stripped.as_ref()] {
            let decoded = html_escape::decode_html_entities(form);
            let readable = self.compatible(&decoded);
            for (category, pattern) in &self.terms {
                if pattern.is_match(&readable) && !out.contains(&category.as_str()) {
                    out.push(category.as_str());
                }
            }
        }
        out
    }

    /// The Appendix 1 categories of a code.
    pub fn code_categories(&self, code: &str) -> Vec<&str> {
        self.categories_of(code, |c| c.systems.is_none())
    }

    /// The categories of a code in `system`: Appendix 1's where the policy
    /// applies it, and each codelist's in its own systems.
    pub fn code_categories_in(&self, system: Option<&str>, code: &str) -> Vec<&str> {
        self.categories_of(code, |c| match (&c.systems, system) {
            (None, _) => self.applies_to(system),
            (Some(list), Some(s)) => list.iter().any(|x| x == s),
            (Some(_), None) => self.without_system,
        })
    }

    fn categories_of(&self, code: &str, applies: impl Fn(&Code) -> bool) -> Vec<&str> {
        let bare = code.trim().trim_end_matches('.');
        let mut out = Vec::new();
        for c in self.codes.iter().filter(|c| applies(c)) {
            let hit = if c.below {
                bare.starts_with(c.code.as_str())
            } else {
                bare == c.code
            };
            if hit && !out.contains(&c.category.as_str()) {
                out.push(c.category.as_str());
            }
        }
        out
    }

    fn applies_to(&self, system: Option<&str>) -> bool {
        match system {
            Some(s) => self.systems.iter().any(|x| x == s),
            None => self.without_system,
        }
    }

    /// Every excluded code or term anywhere in a FHIR JSON value, in no
    /// particular order; empty when nothing leaks.
    pub fn leaks(&self, value: &Value) -> Vec<Leak> {
        let mut found = Vec::new();
        for t in strings(value) {
            self.scan(t.element, t.text, t.parent, &mut found);
        }
        found
    }

    fn scan(&self, key: &str, text: &str, parent: Parent<'_>, found: &mut Vec<Leak>) {
        let term = |category: &str| Leak::Term {
            element: key.to_owned(),
            category: category.to_owned(),
        };
        match key {
            "code" | "valueCode" => {
                let system = if key == "code" {
                    parent.and_then(|p| p.get("system")).and_then(Value::as_str)
                } else {
                    None
                };
                for c in self.code_categories_in(system, text) {
                    found.push(Leak::Code {
                        code: text.to_owned(),
                        category: c.to_owned(),
                    });
                }
            }
            "data"
                if parent.is_some_and(|p| {
                    p.contains_key("contentType") || p.contains_key("resourceType")
                }) =>
            {
                let decoded = String::from_utf8_lossy(&base64(text)).into_owned();
                found.extend(self.term_categories(&decoded).into_iter().map(term));
            }
            _ if SKIP_TEXT.contains(&key) => {}
            _ => found.extend(self.term_categories(text).into_iter().map(term)),
        }
    }

    /// Every excluded code or term in an HL7 v2 message: in the fields the
    /// policy names as coded, every coded element's identifiers (CE/CWE
    /// components 1, 4 and 10, with the coding system named after each),
    /// and in every field of every segment, its text as written and with
    /// its escape sequences read.
    pub fn leaks_hl7v2(&self, message: &str) -> Vec<Leak> {
        let mut found = Vec::new();
        let segments: Vec<&str> = message
            .split(['\r', '\n'])
            .filter(|s| !s.is_empty())
            .collect();
        let Some(header) = segments.first().filter(|h| h.starts_with("MSH")) else {
            return found;
        };
        let mut enc = header.chars().skip(3);
        let field_sep = enc.next().unwrap_or('|');
        let encoding: Vec<char> = enc.take_while(|c| *c != field_sep).collect();
        let component = encoding.first().copied().unwrap_or('^');
        let repetition = encoding.get(1).copied().unwrap_or('~');
        let escape = encoding.get(2).copied();
        for segment in &segments {
            let name = segment.get(..3).unwrap_or_default();
            for (i, field) in segment.split(field_sep).enumerate().skip(1) {
                if name == "MSH" && i == 1 {
                    continue;
                }
                let number = if name == "MSH" { i + 1 } else { i };
                let read =
                    |text: &str| escape.map_or_else(|| text.to_owned(), |e| unescape(text, e));
                if self
                    .hl7_coded
                    .iter()
                    .any(|(s, n)| s == name && *n == number)
                {
                    for rep in field.split(repetition) {
                        let parts: Vec<&str> = rep.split(component).collect();
                        for (code_at, system_at) in [(0, 2), (3, 5), (9, 11)] {
                            let Some(code) = parts.get(code_at).filter(|c| !c.is_empty()) else {
                                continue;
                            };
                            let system_name = parts.get(system_at).copied().unwrap_or_default();
                            let system = self
                                .hl7_systems
                                .iter()
                                .find(|(n, _)| n == system_name)
                                .map(|(_, uri)| uri.as_str());
                            for form in [(*code).to_owned(), read(code)] {
                                for c in self.code_categories_in(system, &form) {
                                    found.push(Leak::Code {
                                        code: form.clone(),
                                        category: c.to_owned(),
                                    });
                                }
                            }
                        }
                    }
                }
                for text in [field.to_owned(), read(field)] {
                    for c in self.term_categories(&text) {
                        found.push(Leak::Term {
                            element: format!("{name}-{number}"),
                            category: c.to_owned(),
                        });
                    }
                }
            }
        }
        found
    }
}

/// HL7 v2 escape sequences read (the oracle's own reading of section 2.7):
/// delimiters by name, hexadecimal data, line breaks and indents as white
/// space, formatting and character-set escapes as nothing.
fn unescape(field: &str, escape: char) -> String {
    let mut parts = field.split(escape);
    let mut out = parts.next().unwrap_or_default().to_owned();
    // After the first, the parts alternate: an escape's body, then text.
    while let Some(body) = parts.next() {
        match parts.next() {
            Some(text) => {
                out.push_str(&escape_text(body));
                out.push_str(text);
            }
            None => {
                out.push(escape);
                out.push_str(body);
            }
        }
    }
    out
}

fn escape_text(body: &str) -> String {
    if let Some(hex) = body.strip_prefix('X') {
        let bytes: Vec<u8> = hex
            .as_bytes()
            .chunks(2)
            .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    match body {
        "F" | "S" | "T" | "R" | "E" | "P" => " ".to_owned(),
        _ if [".br", ".sp", ".ce"].iter().any(|p| body.starts_with(p)) => "\n".to_owned(),
        _ if [".in", ".ti", ".sk"].iter().any(|p| body.starts_with(p)) => " ".to_owned(),
        _ => String::new(),
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

/// A professional viewer for the scenario tests, which run at 2026-11-25:
/// direct care, training current until 2027-06-30, no break glass.
pub fn professional(profile: &str, organisation: &str) -> tiergate_core::Viewer {
    tiergate_core::Viewer {
        user_id: format!("user-{profile}"),
        name: None,
        organisation: organisation.into(),
        profile: profile.into(),
        purpose: "direct-care".into(),
        training: Some(tiergate_core::Training {
            completed: None,
            expires: "2027-06-30".into(),
        }),
        break_glass: None,
        patient: None,
        proxy_scopes: None,
        proxy_categories: None,
        proxy_agreed: None,
        approvals: Vec::new(),
    }
}

/// `viewer` holding the privacy officer's approval (framework 7.2) to see
/// `patient`'s record at Community tier 3, in force from 2026 to the end
/// of 2027 (tests decide at a fixed instant inside it).
pub fn with_community_approval(
    mut viewer: tiergate_core::Viewer,
    patient: &str,
) -> tiergate_core::Viewer {
    viewer.approvals.push(tiergate_core::Approval {
        id: format!("approval-{patient}"),
        patient: patient.into(),
        segment: "community".into(),
        tier: 3,
        starts: "2026-01-01".into(),
        expires: "2027-12-31".into(),
    });
    viewer
}

/// Every excluded code or term anywhere in `value`, by the default
/// policy's oracle ([`Oracle::leaks`]).
pub fn leaks(value: &Value) -> Vec<Leak> {
    Oracle::default_policy().leaks(value)
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
    use serde_json::json;

    use super::*;

    fn o() -> &'static Oracle {
        Oracle::default_policy()
    }

    #[test]
    fn codes_with_and_without_a_system() {
        let v =
            json!({"code": {"coding": [{"system": "http://read.info/readv2", "code": "43W7."}]}});
        let found = o().leaks(&v);
        assert!(
            matches!(&found[0], Leak::Code { code, .. } if code == "43W7."),
            "{found:?}"
        );
        let v = json!({"extension": [{"url": "x", "valueCode": "43W7"}]});
        assert!(!o().leaks(&v).is_empty());
        let v =
            json!({"code": {"coding": [{"system": "http://unrelated.example", "code": "43W7."}]}});
        assert!(o().leaks(&v).is_empty());
        // `%` codes take every code below them; exact codes do not.
        assert_eq!(o().code_categories("A7880"), vec!["hiv_aids"]);
        assert!(o().code_categories("43W71").is_empty());
        assert_eq!(o().code_categories("13HN"), o().code_categories("13HN."));
        // Codelists in other systems: only in their own system.
        let icd10 = Some("http://hl7.org/fhir/sid/icd-10");
        assert_eq!(o().code_categories_in(icd10, "B20.1"), vec!["hiv_aids"]);
        assert_eq!(o().code_categories_in(icd10, "B201"), vec!["hiv_aids"]);
        assert!(o()
            .code_categories_in(Some("http://loinc.org"), "B20")
            .is_empty());
        assert_eq!(o().code_categories_in(None, "B20"), vec!["hiv_aids"]);
        assert!(
            o().code_categories_in(icd10, "B16.9").is_empty(),
            "segment-limited: not the oracle's"
        );
    }

    #[test]
    fn terms_however_they_are_typed_but_not_in_identifiers() {
        for note in [
            "HIV viral load",
            "Patient is “HIV” positive",
            "Discussed HIV’s implications",
            "HIV\u{a0}positive",
            "Had a termination\nof\u{2009}pregnancy",
            "H\u{200b}IV",
            "ＨＩＶ",
            "&#72;IV",
            "<b>H</b>IV",
        ] {
            assert!(
                !o().leaks(&json!({"note": [{"text": note}]})).is_empty(),
                "{note:?}"
            );
        }
        assert!(o()
            .leaks(&json!({"reference": "Condition/HIV-viral-load", "id": "HIV viral load"}))
            .is_empty());
        assert!(o()
            .leaks(&json!({"note": [{"text": "archive shivering"}]}))
            .is_empty());
    }

    #[test]
    fn attachments_are_decoded() {
        // "Letter: HIV viral load." in base64.
        let data = "TGV0dGVyOiBISVYgdmlyYWwgbG9hZC4=";
        let found =
            o().leaks(&json!({"valueAttachment": {"contentType": "text/plain", "data": data}}));
        assert!(
            found[0].to_string().starts_with("term in `data`"),
            "{found:?}"
        );
        assert_eq!(base64(data), b"Letter: HIV viral load.");
        assert_eq!(base64("_-8"), vec![0xff, 0xef]);
    }

    #[test]
    fn hl7v2_fields_escapes_and_codes() {
        let msg = "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|1|P|2.5\rOBX|1|ST|X^Y||H\\H\\IV\\N\\ positive\rNTE|1||fine\r";
        let found = o().leaks_hl7v2(msg);
        assert!(
            found
                .iter()
                .any(|l| l.to_string() == "term in `OBX-5` (hiv_aids)"),
            "{found:?}"
        );
        let coded =
            "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rDG1|1||Z^x^y~43W7.^HIV1 Ab^READ\r";
        assert!(o()
            .leaks_hl7v2(coded)
            .iter()
            .any(|l| matches!(l, Leak::Code { .. })));
        let clean = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||123^^^X||Doe^Jane\r";
        assert!(o().leaks_hl7v2(clean).is_empty());
    }
}
