//! Replays the cross-runtime conformance vectors in `tests/vectors/` (see
//! its README) natively: the redacted body must match byte for byte and the
//! decisions JSON value for value.
//!
//! `TIERGATE_BLESS=1 cargo test -p tiergate-core --test vectors` rewrites the
//! `expected` part of every vector from the engine's output instead. Review
//! the diff before committing: a blessed vector is a claim about the
//! framework, not a snapshot.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tiergate_core::{ConsentSet, Limits, Policy, Request, Viewer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn vectors_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "..", "tests", "vectors"]
        .iter()
        .collect()
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// What the engine produced for one vector, in the vector's terms.
struct Actual {
    outcome: String,
    body: String,
    decisions: Value,
}

fn replay(policy: &Policy, dir: &Path, v: &Value) -> Result<Actual, String> {
    let field = |k: &str| v.get(k).ok_or_else(|| format!("missing `{k}`"));
    let viewer_json = serde_json::to_vec(field("viewer")?).map_err(|e| e.to_string())?;
    let viewer = Viewer::from_json(&viewer_json).map_err(|e| e.to_string())?;
    let consent = match field("consent")? {
        Value::Null => ConsentSet::default(),
        c => ConsentSet::from_value(c, policy).map_err(|e| e.to_string())?,
    };
    let compiled = consent.compile(policy).map_err(|e| e.to_string())?;
    let now = field("now")?.as_str().ok_or("`now` is not a string")?;
    let now = OffsetDateTime::parse(now, &Rfc3339).map_err(|e| format!("`now`: {e}"))?;
    let setting = match field("setting")? {
        Value::Null => None,
        Value::String(s) => Some(s.as_str()),
        _ => return Err("`setting` must be null or a string".into()),
    };
    let holding_organisation = match v.get("holding_organisation") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err("`holding_organisation` must be null or a string".into()),
    };
    let record_path = dir.join(
        field("record")?
            .as_str()
            .ok_or("`record` is not a string")?,
    );
    let record = std::fs::read(&record_path)
        .map_err(|e| format!("cannot read {}: {e}", record_path.display()))?;
    let request = Request {
        viewer: &viewer,
        consent: &compiled,
        now,
        default_setting: setting,
        holding_organisation,
    };
    let out = policy
        .redact(&record, &request, Limits::default())
        .map_err(|e| format!("redaction failed: {e}"))?;
    Ok(Actual {
        outcome: serde_json::to_value(&out.outcome)
            .map_err(|e| e.to_string())?
            .as_str()
            .ok_or("outcome does not serialise to a string")?
            .to_owned(),
        body: String::from_utf8(out.body).map_err(|e| format!("body is not UTF-8: {e}"))?,
        decisions: serde_json::to_value(&out.decisions).map_err(|e| e.to_string())?,
    })
}

/// Where two strings first differ, with some context either side.
fn body_diff(expected: &str, actual: &str) -> String {
    let at = expected
        .bytes()
        .zip(actual.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let context = |s: &str| {
        let mut start = at.saturating_sub(80);
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + 80).min(s.len());
        while !s.is_char_boundary(end) {
            end += 1;
        }
        s[start..end].to_owned()
    };
    format!(
        "    body differs at byte {at} (expected {} bytes, got {})\n      expected: …{}…\n      actual:   …{}…",
        expected.len(),
        actual.len(),
        context(expected),
        context(actual)
    )
}

/// JSON pointers at which two values differ (at most `limit`).
fn json_diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit {
        return;
    }
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}/{k}");
                match b.get(k) {
                    Some(vb) => json_diff(&p, va, vb, out, limit),
                    None => out.push(format!("    {p}: expected {va}, missing")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("    {path}/{k}: unexpected {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b.iter()).enumerate() {
                json_diff(&format!("{path}/{i}"), va, vb, out, limit);
            }
            if a.len() != b.len() {
                out.push(format!(
                    "    {path}: expected {} items, got {}",
                    a.len(),
                    b.len()
                ));
            }
        }
        _ if expected != actual => {
            out.push(format!("    {path}: expected {expected}, got {actual}"))
        }
        _ => {}
    }
}

#[test]
fn conformance_vectors() {
    let policy = Policy::default_policy().expect("default policy compiles");
    let dir = vectors_dir();
    let bless = std::env::var("TIERGATE_BLESS").is_ok_and(|v| v == "1");
    let files = vector_files(&dir);
    assert!(
        files.len() >= 30,
        "expected at least 30 vectors, found {}",
        files.len()
    );

    let mut failures = Vec::new();
    let mut records_used = std::collections::BTreeSet::new();
    for path in &files {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_owned();
        let text = std::fs::read_to_string(path).expect("vector is readable");
        let mut v: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{stem}: not JSON: {e}"));
                continue;
            }
        };
        if v.get("name").and_then(Value::as_str) != Some(stem.as_str()) {
            failures.push(format!("{stem}: `name` must equal the file name"));
        }
        if let Some(r) = v.get("record").and_then(Value::as_str) {
            records_used.insert(r.to_owned());
        }
        let actual = match replay(&policy, &dir, &v) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{stem}: {e}"));
                continue;
            }
        };
        if bless {
            v["expected"] = json!({
                "outcome": actual.outcome,
                "body": actual.body,
                "decisions": actual.decisions,
            });
            let mut out = serde_json::to_string_pretty(&v).expect("vector serialises");
            out.push('\n');
            if out != text {
                std::fs::write(path, out).expect("vector is writable");
                eprintln!("blessed {stem}");
            }
            continue;
        }
        let expected = v.get("expected").cloned().unwrap_or(Value::Null);
        let mut problems = Vec::new();
        if expected.get("outcome").and_then(Value::as_str) != Some(actual.outcome.as_str()) {
            problems.push(format!(
                "    outcome: expected {}, got {}",
                expected.get("outcome").unwrap_or(&Value::Null),
                actual.outcome
            ));
        }
        match expected.get("body").and_then(Value::as_str) {
            Some(b) if b == actual.body => {}
            Some(b) => problems.push(body_diff(b, &actual.body)),
            None => problems.push("    expected.body missing".into()),
        }
        let want = expected.get("decisions").cloned().unwrap_or(Value::Null);
        if want != actual.decisions {
            let mut diffs = Vec::new();
            json_diff("/decisions", &want, &actual.decisions, &mut diffs, 12);
            problems.extend(diffs);
        }
        if !problems.is_empty() {
            failures.push(format!("{stem}:\n{}", problems.join("\n")));
        }
    }

    // Every record is used, and the copies of the demo records have not
    // drifted from crates/demo/data.
    let records_dir = dir.join("records");
    let demo_dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data"]
        .iter()
        .collect();
    for path in vector_files(&records_dir) {
        let name = path
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_owned();
        if !records_used.contains(&format!("records/{name}")) {
            failures.push(format!("records/{name}: no vector uses it"));
        }
        let demo = demo_dir.join(&name);
        if demo.exists() && std::fs::read(&demo).ok() != std::fs::read(&path).ok() {
            failures.push(format!(
                "records/{name}: differs from crates/demo/data/{name}; copy it again and re-bless"
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} vectors failed (TIERGATE_BLESS=1 rewrites expectations; review the diff):\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
