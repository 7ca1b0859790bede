//! Where a misshapen document is wrong: policies, viewers and consent sets
//! with one value changed, one unknown member added or one member removed
//! are reported at the JSON pointer that `serde_path_to_error` (the oracle,
//! tracking the path while deserialising) names for the same text, with the
//! same kind of message, in compact and pretty layouts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tiergate_core::document::PolicyDocument;
use tiergate_core::{ConsentSet, Policy, Viewer, ViewerError, DEFAULT_POLICY_JSON};

const VIEWER: &str = include_str!("../../demo/data/viewers/gp-1b.json");
const CONSENTS: &str = include_str!("../../demo/data/consents/lily.json");

/// The oracle's pointer and the kind of its message, if the text fails.
fn oracle<T: DeserializeOwned>(text: &str) -> Option<(String, String)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let e = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => return None,
        Err(e) => e,
    };
    let mut pointer = String::new();
    for seg in e.path().iter() {
        pointer.push('/');
        match seg {
            serde_path_to_error::Segment::Seq { index } => pointer.push_str(&index.to_string()),
            serde_path_to_error::Segment::Map { key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            serde_path_to_error::Segment::Enum { variant } => pointer.push_str(variant),
            serde_path_to_error::Segment::Unknown => pointer.push('?'),
        }
    }
    Some((pointer, kind(&e.inner().to_string())))
}

/// "invalid type: string \"x\", expected u8 at line 1 column 9" -> "invalid type".
fn kind(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or_default();
    message
        .split([':', '`', ','])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Every node of a document, as a JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn replacements() -> Vec<Value> {
    vec![
        json!("x"),
        json!("2026-13-01"),
        json!(7),
        json!(-1),
        json!(300),
        json!(1.5),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!(["x"]),
        json!({"k": 1}),
    ]
}

#[derive(Debug, Clone)]
enum Change {
    Replace(usize, usize),
    AddMember(usize),
    RemoveMember(usize, usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(n, r)| Change::Replace(n, r)),
        any::<usize>().prop_map(Change::AddMember),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Change::RemoveMember(n, k)),
    ]
}

/// The document with the change applied, as text.
fn changed(doc: &Value, change: &Change, pretty: bool) -> String {
    let mut doc = doc.clone();
    let mut all = Vec::new();
    pointers(&doc, String::new(), &mut all);
    match change {
        Change::Replace(n, r) => {
            let options = replacements();
            *doc.pointer_mut(&all[n % all.len()]).unwrap() = options[r % options.len()].clone();
        }
        Change::AddMember(n) => {
            let objects: Vec<&String> = all
                .iter()
                .filter(|p| doc.pointer(p).is_some_and(Value::is_object))
                .collect();
            let at = objects[n % objects.len()].clone();
            let map = doc.pointer_mut(&at).unwrap().as_object_mut().unwrap();
            map.insert("zz_extra".into(), json!(1));
        }
        Change::RemoveMember(n, k) => {
            let objects: Vec<String> = all
                .iter()
                .filter(|p| {
                    doc.pointer(p)
                        .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
                })
                .cloned()
                .collect();
            let at = &objects[n % objects.len()];
            let map = doc.pointer_mut(at).unwrap().as_object_mut().unwrap();
            let key = map.keys().nth(k % map.len()).unwrap().clone();
            map.remove(&key);
        }
    }
    if pretty {
        serde_json::to_string_pretty(&doc).unwrap()
    } else {
        serde_json::to_string(&doc).unwrap()
    }
}

fn policy_error(text: &str) -> Option<(String, String)> {
    let e = Policy::from_json(text.as_bytes()).err()?;
    assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
    Some((e.problems[0].path.clone(), kind(&e.problems[0].message)))
}

fn viewer_error(text: &str) -> Option<(String, String)> {
    match Viewer::from_json(text.as_bytes()) {
        Ok(_) => None,
        Err(ViewerError::Shape { path, message }) => Some((path, kind(&message))),
        Err(other) => panic!("not a shape error: {other}"),
    }
}

fn consent_error(text: &str) -> Option<(String, String)> {
    let policy = Policy::default_policy().unwrap();
    let e = ConsentSet::from_json(text.as_bytes(), &policy).err()?;
    Some((e.path, kind(&e.message)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn policy_errors_are_where_the_oracle_says(change in change(), pretty in any::<bool>()) {
        let doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
        let text = changed(&doc, &change, pretty);
        if let Some(expected) = oracle::<PolicyDocument>(&text) {
            prop_assert_eq!(policy_error(&text), Some(expected), "{:?}", change);
        }
    }

    #[test]
    fn viewer_errors_are_where_the_oracle_says(change in change(), pretty in any::<bool>()) {
        let doc: Value = serde_json::from_str(VIEWER).unwrap();
        let text = changed(&doc, &change, pretty);
        let expected = oracle::<Viewer>(&text);
        prop_assert_eq!(viewer_error(&text), expected, "{:?}", change);
    }

    #[test]
    fn consent_errors_are_where_the_oracle_says(change in change(), pretty in any::<bool>()) {
        let doc: Value = serde_json::from_str(CONSENTS).unwrap();
        let text = changed(&doc, &change, pretty);
        // Only the shape is compared: a well-shaped set may still be refused
        // by the policy, which the oracle knows nothing of.
        // Without `directives` it is read as FHIR, which the oracle is not.
        let compact = serde_json::from_str::<Value>(&text).unwrap().get("directives").is_some();
        if let (true, Some(expected)) = (compact, oracle::<ConsentSet>(&text)) {
            prop_assert_eq!(consent_error(&text), Some(expected), "{:?}", change);
        }
    }
}

#[test]
fn the_mutations_reach_every_kind_of_error() {
    // The properties above are only as good as the errors they provoke.
    let doc: Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for n in 0..400 {
        for change in [
            Change::Replace(n * 7, n),
            Change::AddMember(n),
            Change::RemoveMember(n, n),
        ] {
            if let Some((_, kind)) = oracle::<PolicyDocument>(&changed(&doc, &change, false)) {
                kinds.insert(kind);
            }
        }
    }
    for expected in [
        "invalid type",
        "invalid value",
        "invalid length 0",
        "unknown field",
        "missing field",
    ] {
        assert!(
            kinds.contains(expected),
            "{expected} not provoked: {kinds:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    // Text that is not JSON is reported by line and column; the path is a
    // hint, and finding it must never fail whatever the text.
    #[test]
    fn text_that_is_not_json_is_refused(cut in any::<usize>(), at in any::<usize>(), byte in prop::sample::select(vec![b'x', b'}', b']', b',', b':', b'"', b'{', b'[', b'\\'])) {
        let text = serde_json::to_string_pretty(&serde_json::from_str::<Value>(VIEWER).unwrap()).unwrap();
        let truncated = &text[..cut % text.len()];
        prop_assert!(viewer_error(truncated).is_some());
        prop_assert!(Policy::from_json(truncated.as_bytes()).is_err());
        let mut stray = text.into_bytes();
        stray.insert(at % stray.len(), byte);
        let _ = viewer_error(std::str::from_utf8(&stray).unwrap());
    }
}
