//! The command line as a user drives it: exit codes, stdout and stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tiergate"))
}

fn dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

fn entry(rtype: &str, id: &str, setting: &str, extra: &str) -> String {
    format!(
        r#"{{"fullUrl":"urn:uuid:{id}","resource":{{"resourceType":"{rtype}","id":"{id}","meta":{{"tag":[{{"system":"{SETTING}","code":"{setting}"}}]}}{extra}}}}}"#
    )
}

fn record() -> String {
    let entries = [
        entry("Patient", "p1", "primary_care", ""),
        entry("AllergyIntolerance", "a1", "primary_care", ""),
        entry(
            "Condition",
            "hiv1",
            "primary_care",
            r#","code":{"coding":[{"system":"http://read.info/readv2","code":"A788.","display":"Acquired immune deficiency syndrome"}]}"#,
        ),
        entry("CarePlan", "cp1", "community", ""),
    ];
    format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":4,"link":[{{"relation":"next","url":"http://x/Condition?code=A788"}}],"entry":[{}]}}"#,
        entries.join(",")
    )
}

const VIEWER_ADMIN: &str = r#"{"user_id":"u5","organisation":"RVY","profile":"5","purpose":"direct-care","training":{"expires":"2027-01-01"}}"#;
const VIEWER_GP: &str = r#"{"user_id":"u1","organisation":"RVY","profile":"1b","purpose":"direct-care","training":{"expires":"2027-01-01"}}"#;
const CONSENT_ALL: &str = r#"{"directives":[{"id":"c1","kind":"permit","recorded":"2026-01-01T00:00:00Z","actors":{"organisations":["RVY"]}}]}"#;
const NOW: &str = "2026-11-25T12:00:00Z";

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn redact_writes_only_what_the_viewer_may_see() {
    let d = dir("redact");
    let rec = write(&d, "r.json", &record());
    let out = run(bin().args([
        "redact",
        "--viewer",
        &write(&d, "v.json", VIEWER_GP),
        "--consent",
        &write(&d, "c.json", CONSENT_ALL),
        "--now",
        NOW,
        "--decisions",
        &d.join("dec.json").to_string_lossy(),
        &rec,
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let body = stdout(&out);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = v["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1", "a1", "cp1"]);
    assert_eq!(v["total"], 3);
    assert!(
        v.get("link").is_none(),
        "paging links echo search parameters"
    );
    assert!(!body.contains("A788") && !body.contains("immune"));
    let dec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("dec.json")).unwrap()).unwrap();
    assert_eq!(
        dec["summary"]["withheld_by_reason"]["excluded_category:hiv_aids"],
        1
    );
    assert!(dec["summary"]["policy"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

#[test]
fn admin_sees_demographics_only_and_explain_says_why() {
    let d = dir("explain");
    let rec = write(&d, "r.json", &record());
    let args = [
        "--viewer",
        &write(&d, "v.json", VIEWER_ADMIN),
        "--consent",
        &write(&d, "c.json", CONSENT_ALL),
        "--now",
        NOW,
    ];
    let out = run(bin().arg("redact").args(args).arg(&rec));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entry"].as_array().unwrap().len(), 1);
    assert_eq!(v["entry"][0]["resource"]["id"], "p1");

    let out = run(bin().arg("explain").args(args).arg(&rec));
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.lines().next().unwrap().contains("placements"));
    let line = text
        .lines()
        .find(|l| l.contains("AllergyIntolerance/a1"))
        .unwrap();
    assert!(
        line.contains("summary-2")
            && line.contains("withhold")
            && line.contains("tier_not_granted"),
        "{line}"
    );
    assert!(text.contains("4 entries: 1 allowed, 3 withheld"));
}

#[test]
fn record_from_stdin() {
    let d = dir("stdin");
    let mut child = bin()
        .args([
            "redact",
            "--viewer",
            &write(&d, "v.json", VIEWER_GP),
            "--consent",
            &write(&d, "c.json", CONSENT_ALL),
            "--now",
            NOW,
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(record().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("\"a1\""));
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_stdout() {
    let d = dir("bad");
    let gp = write(&d, "gp.json", VIEWER_GP);
    let good = write(&d, "good.json", &record());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                gp.clone(),
                write(&d, "m.json", r#"{"resourceType":"Bundle","entry":[{"#),
            ],
            "malformed JSON",
        ),
        (
            vec![
                gp.clone(),
                write(&d, "x.xml", r#"<Bundle xmlns="http://hl7.org/fhir"/>"#),
            ],
            "expected FHIR JSON",
        ),
        (
            vec![gp.clone(), write(&d, "nort.json", r#"{"id":"x"}"#)],
            "/resourceType",
        ),
        (
            vec![
                write(&d, "unk.json", &VIEWER_GP.replace("\"1b\"", "\"9z\"")),
                good.clone(),
            ],
            "`/profile`: not a profile of the policy",
        ),
        (
            vec![
                write(
                    &d,
                    "miss.json",
                    r#"{"user_id":"u","organisation":"O","purpose":"direct-care","training":null}"#,
                ),
                good.clone(),
            ],
            "missing field `profile`",
        ),
        (
            vec![
                write(
                    &d,
                    "bg.json",
                    &VIEWER_GP.replace(
                        "}}",
                        "},\"break_glass\":{\"started\":\"2026-11-25T11:30:00Z\"}}",
                    ),
                ),
                good.clone(),
            ],
            "break glass refused: a reason is required",
        ),
        (
            vec![
                gp.clone(),
                d.join("absent.json").to_string_lossy().into_owned(),
            ],
            "cannot read",
        ),
    ];
    for (args, expect) in cases {
        let out = run(bin().args(["redact", "--now", NOW, "--viewer", &args[0], &args[1]]));
        assert_eq!(out.status.code(), Some(2), "{expect}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{expect}: partial output on stdout");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expect), "expected `{expect}` in {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn errors_never_quote_record_content() {
    let d = dir("quote");
    let rec = write(
        &d,
        "r.json",
        r#"{"resourceType":"Bundle","entry":"HIV positive"}"#,
    );
    let out = run(bin().args([
        "redact",
        "--now",
        NOW,
        "--viewer",
        &write(&d, "v.json", VIEWER_GP),
        &rec,
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("HIV"), "{}", stderr(&out));
}

#[test]
fn withheld_single_resource_reads_as_not_found() {
    let d = dir("single");
    let hiv = r#"{"resourceType":"Condition","id":"h","meta":{"tag":[{"system":"https://fhir.tiergate.example/CodeSystem/care-setting","code":"primary_care"}]},"code":{"coding":[{"system":"http://read.info/readv2","code":"A788."}]}}"#;
    let missing_type = r#"{"resourceType":"Condition","id":"h"}"#;
    let v = write(&d, "v.json", VIEWER_GP);
    let c = write(&d, "c.json", CONSENT_ALL);
    let a = run(bin().args([
        "redact",
        "--now",
        NOW,
        "--viewer",
        &v,
        "--consent",
        &c,
        &write(&d, "a.json", hiv),
    ]));
    let b = run(bin().args([
        "redact",
        "--now",
        NOW,
        "--viewer",
        &v,
        "--consent",
        &c,
        &write(&d, "b.json", missing_type),
    ]));
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(stdout(&a).contains("not-found"));
}

#[test]
fn policy_show_and_check() {
    let out = run(bin().args(["policy", "show"]));
    assert!(out.status.success());
    let d = dir("policy");
    let shown = write(&d, "shown.json", &stdout(&out));
    let ok = run(bin().args(["policy", "check", &shown]));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let hash = stdout(&ok);
    assert!(hash.starts_with("ok sha256:") && hash.trim().len() == "ok sha256:".len() + 64);

    let mut p: serde_json::Value = serde_json::from_str(tiergate_core_json()).unwrap();
    p["profiles"][0]["access"]["hospitals"] = serde_json::json!(4);
    p["profiles"][1]["id"] = serde_json::json!("1a");
    p["exclusions"]["categories"][0]["codes"][0]["code"] = serde_json::json!("4%3");
    let bad = write(&d, "bad.json", &p.to_string());
    let out = run(bin().args(["policy", "check", &bad]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`/profiles/0/access/hospitals`: tier out of range"),
        "{err}"
    );
    assert!(err.contains("`/profiles/1/id`: duplicate id `1a`"), "{err}");
    assert!(
        err.contains("`/exclusions/categories/0/codes/0/code`: malformed `%` pattern"),
        "{err}"
    );
    // Renaming 1b leaves the job-role map pointing at a profile that is gone.
    assert!(
        err.contains("`/job_roles/0/profile`: unknown profile `1b`"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("4 problem(s)"), "{err}");
}

fn tiergate_core_json() -> &'static str {
    include_str!("../../core/policy/default.json")
}

#[test]
fn bad_now_is_refused() {
    let d = dir("now");
    let out = run(bin().args([
        "redact",
        "--now",
        "yesterday",
        "--viewer",
        &write(&d, "v.json", VIEWER_GP),
        &write(&d, "r.json", &record()),
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--now"));
}
