//! `tiergate audit scan` end to end: alerts as a table and as NDJSON, exit
//! codes, and one-line errors that name the line and never quote it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tiergate"))
}

fn write(name: &str, body: &str) -> String {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("audit-cli");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn event(id: &str, time: &str, extra: Value) -> String {
    let mut v = json!({
        "id": id, "time": time, "user": "u1", "organisation": "Y001", "profile": "1b",
        "patient": "p1", "purpose": "direct-care", "kind": "read", "policy": "sha256:x",
        "relationships": [{"kind": "encounter", "time": "2026-11-01T09:00:00Z"}]
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string()
}

fn stream() -> String {
    [
        event("e1", "2026-11-24T10:00:00Z", json!({})),
        String::new(),
        event(
            "e2",
            "2026-11-24T10:05:00Z",
            json!({"break_glass": {"reason": "unconscious"}}),
        ),
        event(
            "e3",
            "2026-11-24T23:30:00Z",
            json!({"profile": "5", "patient": "p2"}),
        ),
    ]
    .join("\n")
        + "\n"
}

#[test]
fn table_lists_each_alert() {
    let f = write("stream.ndjson", &stream());
    let o = run(&["audit", "scan", &f]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("time") && lines[0].contains("severity"));
    assert!(
        lines[1].contains("high") && lines[1].contains("break-glass") && lines[1].contains("e2")
    );
    assert!(
        lines[2].contains("low") && lines[2].contains("out-of-hours") && lines[2].contains("p2")
    );
    assert!(out.ends_with("2 alert(s) from 3 event(s)\n"), "{out}");
}

#[test]
fn ndjson_has_one_alert_per_line() {
    let f = write("stream2.ndjson", &stream());
    let o = run(&["audit", "scan", &f, "--format", "ndjson"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["rule"], "break-glass");
    assert_eq!(alerts[0]["severity"], "high");
    assert_eq!(alerts[0]["events"], json!(["e2"]));
    assert_eq!(alerts[0]["time"], "2026-11-24T10:05:00Z");
    assert_eq!(alerts[1]["rule"], "out-of-hours");
}

#[test]
fn a_clean_stream_has_no_alerts_and_stdin_works() {
    let mut child = bin()
        .args(["audit", "scan", "-", "--format", "ndjson"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event("e1", "2026-11-24T10:00:00Z", json!({})).as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn the_policy_decides_which_rules_run() {
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    doc["audit"]["rules"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["kind"] != "break_glass");
    let p = write("no-break-glass.json", &doc.to_string());
    let f = write("stream3.ndjson", &stream());
    let o = run(&["audit", "scan", &f, "--policy", &p, "--format", "ndjson"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
    assert!(stdout(&o).contains("out-of-hours"));
}

#[track_caller]
fn assert_bad_input(o: &Output, expect: &str, secret: &str) {
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "nothing on stdout");
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(expect), "{err}");
    assert!(!err.contains(secret), "{err}");
}

#[test]
fn malformed_lines_are_one_line_errors_with_the_line_number() {
    let good = event("e1", "2026-11-24T10:00:00Z", json!({}));
    let cases = [
        (
            "json",
            format!("{good}\n{{\"id\": \"HIV clinic"),
            "line 2: not valid JSON",
            "HIV",
        ),
        (
            "kind",
            format!(
                "{good}\n\n{}",
                event("e2", "2026-11-24T10:01:00Z", json!({"kind": "HIV lookup"}))
            ),
            "line 3: `/kind`",
            "HIV",
        ),
        (
            "missing",
            "{\"id\": \"HIV\"}\n".to_owned(),
            "line 1: ",
            "HIV",
        ),
        (
            "order",
            format!(
                "{good}\n{}",
                event("e0", "2026-11-24T09:00:00Z", json!({"patient": "HIV"}))
            ),
            "line 2: event is earlier",
            "HIV",
        ),
        (
            "control",
            format!("{good}\n\u{0} HIV"),
            "line 2: not valid JSON",
            "HIV",
        ),
    ];
    for (name, body, expect, secret) in cases {
        let f = write(&format!("bad-{name}.ndjson"), &body);
        assert_bad_input(&run(&["audit", "scan", &f]), expect, secret);
    }
    let f = write("bad-bytes.ndjson", "");
    std::fs::write(&f, b"{\"a\":1}\n\xff\xfe HIV\n").unwrap();
    assert_bad_input(&run(&["audit", "scan", &f]), "line 1", "HIV");
}

#[test]
fn missing_file_and_bad_policy_exit_2() {
    let o = run(&["audit", "scan", "/nonexistent/audit.ndjson"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    doc["audit"]["rules"][0]["severity"] = json!("urgent");
    let p = write("bad-policy.json", &doc.to_string());
    let f = write("stream4.ndjson", &stream());
    let o = run(&["audit", "scan", &f, "--policy", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/audit/rules/0/severity"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn reads_fhir_audit_events() {
    let fhir = json!({
        "resourceType": "AuditEvent", "id": "r9",
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "recorded": "2026-11-24T10:00:00Z",
        "agent": [
            {"type": {"coding": [{"code": "humanuser"}]}, "who": {"identifier": {"value": "u1"}},
             "role": [{"coding": [{"code": "6"}]}], "purposeOfUse": [{"coding": [{"code": "direct-care"}]}]},
            {"type": {"coding": [{"code": "dataprocessor"}]}, "who": {"identifier": {"value": "R9A"}}}
        ],
        "purposeOfEvent": [{"coding": [{"code": "BTG"}]}],
        "entity": [{"what": {"reference": "Patient/p1"}, "role": {"code": "1"}},
                   {"detail": [{"type": "policy", "valueString": "sha256:x"},
                               {"type": "break-glass-reason", "valueString": "unconscious"}]}]
    });
    let f = write("fhir.ndjson", &format!("{fhir}\n"));
    let o = run(&["audit", "scan", &f, "--format", "ndjson"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(a["rule"], "break-glass");
    assert_eq!(a["events"], json!(["r9"]));
    assert_eq!(a["organisation"], "R9A");
}
