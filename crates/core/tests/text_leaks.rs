//! Property test: a policy term written as notes are really typed (random
//! case; its words split by any Unicode white space, line breaks, dashes
//! and punctuation; invisible characters inside words; curly quotes and
//! apostrophes around it; tags, character references and HL7 v2 escapes)
//! and put in any string-bearing element of a real document (FHIR R4 demo
//! records and Synthea, GP Connect STU3 responses, HL7 v2 messages) never
//! reaches a viewer no lift covers, for any profile, consent and break
//! glass. The judge is the leak oracle of `tiergate-testkit`, which shares
//! no code with the engine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};
use tiergate_core::{ConsentSet, Limits, Outcome, Policy, Request, Viewer, DEFAULT_POLICY_JSON};
use tiergate_testkit::{Oracle, SKIP_TEXT};
use time::macros::datetime;

const PROFILES: [&str; 11] = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];
const D3: [&str; 4] = ["1a", "1b", "1c", "6"];

/// What may stand between a term's words.
const SEPARATORS: [&str; 16] = [
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{a0}",
    "\u{202f}",
    "\u{2009}",
    "\u{3000}",
    "\u{2028}",
    "—",
    "–",
    "-",
    " / ",
    "…",
    " \u{a0}\n ",
];
/// What may hide inside a word.
const INVISIBLE: [&str; 10] = [
    "\u{200b}", "\u{200c}", "\u{200d}", "\u{2060}", "\u{ad}", "\u{200e}", "\u{200f}", "\u{feff}",
    "\u{2066}", "\u{2069}",
];
/// What a term may be wrapped in.
const QUOTES: [(&str, &str); 7] = [
    ("", ""),
    ("“", "”"),
    ("‘", "’"),
    ("\"", "\""),
    ("«\u{a0}", "\u{a0}»"),
    ("(", ")"),
    ("", "’s"),
];

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

fn root() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", ".."].iter().collect()
}

/// The policy's terms, from its document.
fn terms() -> &'static [String] {
    static T: OnceLock<Vec<String>> = OnceLock::new();
    T.get_or_init(|| {
        let doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        doc["exclusions"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["terms"].as_array().unwrap().iter())
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    })
}

/// Documents to put notes in, by name.
struct Documents {
    /// FHIR R4 and GP Connect STU3.
    fhir: Vec<(String, Value)>,
    /// HL7 v2 messages.
    hl7: Vec<(String, String)>,
}

fn documents() -> &'static Documents {
    static D: OnceLock<Documents> = OnceLock::new();
    D.get_or_init(|| {
        let read = |rel: &str| std::fs::read_to_string(root().join(rel)).unwrap();
        let mut fhir = Vec::new();
        for f in ["joe", "brenda", "susan", "lily"] {
            fhir.push((
                format!("demo {f}"),
                serde_json::from_str(&read(&format!("crates/demo/data/{f}.json"))).unwrap(),
            ));
        }
        for f in [
            "problems_response1",
            "allergies_response2",
            "consultations_response2",
            "pathology_response2",
            "referrals_response1",
            "immunizations_response3",
            "uncategorised_response1",
        ] {
            fhir.push((
                format!("gpconnect {f}"),
                serde_json::from_str(&read(&format!("tests/corpus/gpconnect/{f}.json"))).unwrap(),
            ));
        }
        // The first entries of a Synthea record: a searchset of its own.
        let synthea: Value = serde_json::from_str(&read(
            "tests/corpus/synthea/Ellis535_Will178_5075a165-7c21-fb9c-d7d9-16ff846ab38d.json",
        ))
        .unwrap();
        let entries: Vec<Value> = synthea["entry"]
            .as_array()
            .unwrap()
            .iter()
            .take(40)
            .cloned()
            .collect();
        fhir.push((
            "synthea".into(),
            json!({"resourceType": "Bundle", "type": "searchset", "entry": entries}),
        ));
        let mut hl7 = Vec::new();
        let dir = root().join("tests/corpus/hl7v2");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for n in names {
            let name = n.to_string_lossy().into_owned();
            hl7.push((
                name.clone(),
                std::fs::read_to_string(dir.join(&name)).unwrap(),
            ));
        }
        Documents { fhir, hl7 }
    })
}

/// A term as someone might have typed it.
#[derive(Debug, Clone)]
struct Typing {
    term: usize,
    case: Vec<bool>,
    separators: Vec<usize>,
    invisible: Vec<(usize, usize)>,
    quote: usize,
    /// Wrap the first letter in a tag, or write it as a character reference.
    markup: u8,
}

fn typing() -> impl Strategy<Value = Typing> {
    (
        0..terms().len(),
        prop::collection::vec(any::<bool>(), 64),
        prop::collection::vec(0..SEPARATORS.len(), 8),
        prop::collection::vec((0usize..40, 0..INVISIBLE.len()), 0..3),
        0..QUOTES.len(),
        0u8..4,
    )
        .prop_map(
            |(term, case, separators, invisible, quote, markup)| Typing {
                term,
                case,
                separators,
                invisible,
                quote,
                markup,
            },
        )
}

impl Typing {
    /// The typed text; `rich` allows tags and character references (FHIR
    /// strings), `hl7` writes HL7 v2 escapes instead.
    fn text(&self, rich: bool, hl7: bool) -> String {
        let term = &terms()[self.term];
        let mut words: Vec<String> = term
            .split(' ')
            .map(|w| {
                w.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if self.case[i % 64] {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            })
            .collect();
        for &(at, which) in &self.invisible {
            let n = words.len();
            let w = &mut words[at % n];
            let chars: Vec<char> = w.chars().collect();
            let cut = 1 + at % chars.len().max(1);
            if cut < chars.len() {
                let (a, b) = chars.split_at(cut);
                *w = format!(
                    "{}{}{}",
                    a.iter().collect::<String>(),
                    INVISIBLE[which],
                    b.iter().collect::<String>()
                );
            }
        }
        if let Some(first) = words.first_mut() {
            let mut chars = first.chars();
            if let Some(c) = chars.next() {
                let rest: String = chars.collect();
                *first = match (self.markup, rich, hl7) {
                    (1, true, _) => format!("<b>{c}</b>{rest}"),
                    (2, true, _) => format!("&#{};{rest}", u32::from(c)),
                    (3, true, _) => format!("&#x{:X};{rest}", u32::from(c)),
                    (1 | 2, _, true) => format!("{c}\\H\\{rest}\\N\\"),
                    _ => first.clone(),
                };
            }
        }
        let mut out = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                let sep = SEPARATORS[self.separators[i % 8]];
                // A slash or a line break is written as an escape in HL7 v2.
                out.push_str(&if hl7 {
                    sep.replace('/', "\\.br\\")
                } else {
                    sep.to_owned()
                });
            }
            out.push_str(w);
        }
        let (open, close) = QUOTES[self.quote];
        format!("Discussed {open}{out}{close} today")
    }
}

/// The paths of every string worth writing into: not identifiers, codes,
/// systems or dates (which would only make the entry malformed).
fn text_paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                at.push(k.clone());
                text_paths(c, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, c) in items.iter().enumerate() {
                at.push(i.to_string());
                text_paths(c, at, out);
                at.pop();
            }
        }
        Value::String(s) => {
            let key = at
                .iter()
                .rev()
                .find(|k| k.parse::<usize>().is_err())
                .cloned()
                .unwrap_or_default();
            let skip = SKIP_TEXT.contains(&key.as_str())
                || matches!(
                    key.as_str(),
                    "code" | "resourceType" | "valueCode" | "status" | "data" | "mode" | "type"
                )
                || s.len() < 2
                || s.as_bytes()[0].is_ascii_digit();
            if !skip {
                out.push(at.clone());
            }
        }
        _ => {}
    }
}

fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn viewer(profile: &str, break_glass: bool) -> Viewer {
    let mut v = json!({"user_id": "u", "organisation": "RVY", "profile": profile,
                       "purpose": "direct-care", "training": {"expires": "2027-01-01"}});
    if break_glass {
        v["break_glass"] = json!({"reason": "unconscious", "started": "2026-11-25T11:00:00Z"});
    }
    Viewer::from_json(v.to_string().as_bytes()).unwrap()
}

/// No consent, a whole-record permit for the viewer's organisation, or that
/// permit with a later opt-out of another category.
fn consent(which: u8) -> ConsentSet {
    let text = match which {
        0 => r#"{"directives":[]}"#,
        1 => {
            r#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#
        }
        _ => {
            r#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}},
                {"id":"o","kind":"deny","recorded":"2026-02-01","scope":{"categories":["adoption"]}}]}"#
        }
    };
    ConsentSet::from_json(text.as_bytes(), policy()).unwrap()
}

fn redact(
    record: &[u8],
    profile: &str,
    consent_kind: u8,
    break_glass: bool,
    setting: &str,
) -> Option<(Outcome, Vec<u8>)> {
    let viewer = viewer(profile, break_glass);
    let compiled = consent(consent_kind).compile(policy()).unwrap();
    let request = Request {
        viewer: &viewer,
        consent: &compiled,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: Some(setting),
        holding_organisation: None,
    };
    let out = policy().redact(record, &request, Limits::default()).ok()?;
    Some((out.outcome, out.body))
}

/// Diagnostics tier 3 lifts exclusions for diagnostic entries, with explicit
/// consent (break glass alone never lifts): only then may an excluded item
/// be shared.
fn may_lift(profile: &str, consent_kind: u8) -> bool {
    D3.contains(&profile) && consent_kind > 0
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn fhir_notes_never_carry_an_excluded_term(
        typed in typing(),
        doc in any::<prop::sample::Index>(),
        place in any::<prop::sample::Index>(),
        append in any::<bool>(),
        profile in prop::sample::select(PROFILES.to_vec()),
        consent_kind in 0u8..3,
        break_glass in any::<bool>(),
        setting in prop::sample::select(vec!["primary_care", "hospital", "community", "diagnostics"]),
    ) {
        let (name, original) = doc.get(&documents().fhir);
        let mut record = original.clone();
        let mut paths = Vec::new();
        text_paths(&record, &mut Vec::new(), &mut paths);
        let path = place.get(&paths);
        let is_div = path.last().is_some_and(|k| k == "div");
        let note = typed.text(true, false);
        let slot = record.pointer_mut(&pointer(path)).unwrap();
        let old = slot.as_str().unwrap().to_owned();
        *slot = Value::String(match (is_div, append) {
            (true, _) => old.replacen("</div>", &format!("<p>{note}</p></div>"), 1),
            (false, true) => format!("{old} {note}"),
            (false, false) => note.clone(),
        });
        let Some((outcome, body)) = redact(record.to_string().as_bytes(), profile, consent_kind, break_glass, setting) else {
            return Ok(());
        };
        if outcome == Outcome::Document && !may_lift(profile, consent_kind) {
            let out: Value = serde_json::from_slice(&body).unwrap();
            let found = Oracle::default_policy().leaks(&out);
            prop_assert!(found.is_empty(), "{name} {} {profile} consent {consent_kind} break glass {break_glass} {setting}: {note:?}: {found:?}", pointer(path));
        }
    }

    #[test]
    fn hl7v2_fields_never_carry_an_excluded_term(
        typed in typing(),
        doc in any::<prop::sample::Index>(),
        segment in any::<prop::sample::Index>(),
        field in 1usize..12,
        profile in prop::sample::select(PROFILES.to_vec()),
        consent_kind in 0u8..3,
        break_glass in any::<bool>(),
    ) {
        let (name, original) = doc.get(&documents().hl7);
        let mut lines: Vec<String> = original.split(['\r', '\n']).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let at = 1 + segment.index(lines.len() - 1);
        let mut fields: Vec<String> = lines[at].split('|').map(str::to_owned).collect();
        while fields.len() <= field {
            fields.push(String::new());
        }
        let note = typed.text(false, true);
        fields[field] = if fields[field].is_empty() { note.clone() } else { format!("{}^{note}", fields[field]) };
        lines[at] = fields.join("|");
        let message = lines.join("\r") + "\r";
        let Some((outcome, body)) = redact(message.as_bytes(), profile, consent_kind, break_glass, "hospital") else {
            return Ok(());
        };
        if outcome == Outcome::Document && !may_lift(profile, consent_kind) {
            let found = Oracle::default_policy().leaks_hl7v2(&String::from_utf8(body).unwrap());
            prop_assert!(found.is_empty(), "{name} {}-{field} {profile} consent {consent_kind} break glass {break_glass}: {note:?}: {found:?}", &lines[at][..3]);
        }
    }
}

/// The generator reaches what it means to: each kind of typing, and every
/// document, changes what the engine does.
#[test]
fn typed_terms_are_withheld_where_plain_ones_are() {
    let t = Typing {
        term: terms()
            .iter()
            .position(|t| t == "termination of pregnancy")
            .unwrap(),
        case: vec![true; 64],
        separators: vec![3, 5, 9, 10, 3, 3, 3, 3],
        invisible: vec![(0, 0), (1, 4)],
        quote: 1,
        markup: 1,
    };
    let note = t.text(true, false);
    assert!(note.contains('“') && note.contains("<b>"), "{note:?}");
    let record = json!({"resourceType": "Condition", "id": "c",
        "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
        "code": {"text": "Asthma"}, "note": [{"text": note}]});
    let (outcome, _) = redact(
        record.to_string().as_bytes(),
        "1b",
        1,
        false,
        "primary_care",
    )
    .unwrap();
    assert_eq!(outcome, Outcome::NotFound);
    let hl7 = t.text(false, true);
    assert!(hl7.contains("\\H\\"), "{hl7:?}");
}
