//! Errors never quote input. Every value (string, number, boolean) of a
//! viewer, a consent (compact and FHIR), a record, an audit event and the
//! free text of a policy is replaced, one at a time, by values full of
//! quotes, backslashes and backticks, and the command line is run on the
//! result: whatever it says on stderr holds no run of four characters of
//! the value it was given (beyond what it says for a value of plain `z`s in
//! the same place: the names and words of its own message).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// Values that break naive quoting: escaped quotes, backslashes, backticks,
/// curly quotes, and the example of the report.
const HOSTILE: [&str; 6] = [
    r#"HIV\" positive on 3 May"#,
    r#"Qx"Zw\"Vk\\Jb`Yq"#,
    r#"`Kq\`Wz\\` "Xj" \\"#,
    r#"\"\\\"Tqx\u0060Zw"#,
    "Zq'Xv“Wb”Jk`",
    r#"} ", "kind": "Wqz\"Xk"#,
];

fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-no-echo");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, body: &str) -> String {
    let p = dir().join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

/// The runs of four characters of `value` that `output` holds and
/// `baseline` (the same command's output for plain `z`s) does not.
fn echoed(value: &str, output: &str, baseline: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .filter(|w| output.contains(w.as_str()) && !baseline.contains(w.as_str()))
        .collect()
}

/// The command's stderr and whether it refused (a non-zero exit).
fn stderr_of(args: &[String]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_tiergate"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        !out.status.success(),
    )
}

/// JSON pointers of every scalar in `v`.
fn scalars(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                scalars(
                    c,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, c) in items.iter().enumerate() {
                scalars(c, format!("{at}/{i}"), out);
            }
        }
        Value::Null => {}
        _ => out.push(at),
    }
}

/// Runs `args` (with `{file}` replaced by the mutated document) for every
/// scalar of `doc` and every hostile value; `keep` filters pointers.
fn check_every_value(name: &str, doc: &Value, args: &[&str], keep: impl Fn(&str) -> bool) -> usize {
    let mut pointers = Vec::new();
    scalars(doc, String::new(), &mut pointers);
    let mut refused = 0;
    let run = |pointer: &str, value: &str, file: &str| {
        let mut changed = doc.clone();
        *changed.pointer_mut(pointer).unwrap() = json!(value);
        let file = write(&format!("{name}-{file}.json"), &changed.to_string());
        let args: Vec<String> = args.iter().map(|a| a.replace("{file}", &file)).collect();
        stderr_of(&args)
    };
    for pointer in pointers.iter().filter(|p| keep(p)) {
        for value in HOSTILE {
            let (baseline, _) = run(pointer, &"z".repeat(value.chars().count()), "plain");
            let (stderr, failed) = run(pointer, value, "hostile");
            refused += usize::from(failed);
            let found = echoed(value, &stderr, &baseline);
            assert!(
                found.is_empty(),
                "{name} {pointer} = {value:?}: {found:?} in {stderr:?}"
            );
        }
    }
    refused
}

const VIEWER: &str = r#"{"user_id":"u1","name":"Dr A","organisation":"RVY","profile":"1b","purpose":"direct-care","training":{"completed":"2026-01-01","expires":"2027-01-01"},"break_glass":{"reason":"unconscious","detail":"in AED","started":"2026-11-25T11:30:00Z"}}"#;
const CONSENT: &str = r#"{"directives":[{"id":"c1","kind":"permit","recorded":"2026-01-01T00:00:00Z","period":{"start":"2026-01-01","end":"2027-01-01"},"actors":{"organisations":["RVY"],"profiles":["1b"],"users":["u1"]},"scope":{"segments":[{"segment":"summary","tier":2}],"content":["appointments"]}},{"id":"o1","kind":"deny","recorded":"2026-02-01","scope":{"categories":["hiv_aids"],"entries":["Condition/x"]}}]}"#;
const FHIR_CONSENT: &str = r#"{"resourceType":"Consent","id":"fc1","status":"active","dateTime":"2026-01-01T00:00:00Z","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"provision":{"type":"permit","period":{"end":"2027-01-01"},"actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"PRCP"}]},"reference":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RVY"}}}],"provision":[{"type":"deny","securityLabel":[{"system":"https://fhir.tiergate.example/CodeSystem/exclusion-category","code":"hiv_aids"}]}]}}"#;
const RECORD: &str = r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"fullUrl":"urn:uuid:c","resource":{"resourceType":"Condition","id":"c","meta":{"tag":[{"system":"https://fhir.tiergate.example/CodeSystem/care-setting","code":"primary_care"}]},"code":{"text":"Asthma"},"note":[{"text":"ok"}]}}]}"#;

fn files() -> (String, String, String) {
    (
        write("viewer.json", VIEWER),
        write("consent.json", CONSENT),
        write("record.json", RECORD),
    )
}

#[test]
fn viewer_errors_quote_nothing() {
    let (_, consent, record) = files();
    let doc: Value = serde_json::from_str(VIEWER).unwrap();
    let refused = check_every_value(
        "viewer",
        &doc,
        &[
            "redact",
            "--viewer",
            "{file}",
            "--consent",
            &consent,
            "--now",
            "2026-11-25T12:00:00Z",
            &record,
        ],
        |_| true,
    );
    assert!(
        refused > 20,
        "only {refused} refusals: the values did not reach the checks"
    );
}

#[test]
fn consent_errors_quote_nothing() {
    let (viewer, _, record) = files();
    let mut refused = 0;
    for (name, text) in [("consent", CONSENT), ("fhir-consent", FHIR_CONSENT)] {
        let doc: Value = serde_json::from_str(text).unwrap();
        refused += check_every_value(
            name,
            &doc,
            &[
                "redact",
                "--viewer",
                &viewer,
                "--consent",
                "{file}",
                "--now",
                "2026-11-25T12:00:00Z",
                &record,
            ],
            |_| true,
        );
    }
    assert!(refused > 40, "only {refused} refusals");
}

#[test]
fn record_errors_quote_nothing() {
    let (viewer, consent, _) = files();
    let doc: Value = serde_json::from_str(RECORD).unwrap();
    // A record's values are redacted, not refused: nothing to echo, and
    // nothing must be.
    check_every_value(
        "record",
        &doc,
        &[
            "redact",
            "--viewer",
            &viewer,
            "--consent",
            &consent,
            "--now",
            "2026-11-25T12:00:00Z",
            "{file}",
        ],
        |_| true,
    );
    // Text that is not JSON at all.
    for (i, value) in HOSTILE.iter().enumerate() {
        let file = write(
            &format!("not-json-{i}.json"),
            &format!("{{\"resourceType\": {value}"),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_tiergate"))
            .args([
                "redact",
                "--viewer",
                &viewer,
                "--now",
                "2026-11-25T12:00:00Z",
                &file,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(echoed(value, &stderr, "").is_empty(), "{stderr}");
    }
}

#[test]
fn audit_event_errors_quote_nothing() {
    let event = json!({"id": "e1", "time": "2026-11-24T10:00:00Z", "action": "read", "outcome": 200,
        "user": {"id": "u1", "name": "Dr A", "organisation": "RVY", "profile": "1b"},
        "patient": {"id": "p1"}, "policy": "sha256:x", "break_glass": false});
    let refused = check_every_value("audit", &event, &["audit", "scan", "{file}"], |_| true);
    assert!(refused > 5, "only {refused} refusals");
}

#[test]
fn policy_text_errors_quote_nothing() {
    let doc: Value = serde_json::from_str(tiergate_core_policy()).unwrap();
    // Free text and values, not the ids a problem names as its rule.
    let keep = |p: &str| {
        let last = p.rsplit('/').next().unwrap_or_default();
        let free = [
            "title",
            "version",
            "display",
            "name",
            "label",
            "description",
            "reason",
            "tier",
            "tiers",
            "window_minutes",
            "max_minutes",
            "severity",
            "kind",
            "disposition",
            "letter",
            "prefix",
            "required",
            "own_record",
            "consent_required",
            "exclusions_apply",
            "training_required",
            "online",
            "audit_access",
            "match_codes_without_system",
        ];
        free.contains(&last) || p.contains("/terms/")
    };
    let refused = check_every_value("policy", &doc, &["policy", "check", "{file}"], keep);
    assert!(refused > 10, "only {refused} refusals");
}

fn tiergate_core_policy() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "core",
            "policy",
            "default.json",
        ]
        .iter()
        .collect();
        std::fs::read_to_string(Path::new(&path)).unwrap()
    })
}
