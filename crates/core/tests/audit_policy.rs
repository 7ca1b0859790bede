//! The policy's `audit` section: each kind of mistake is reported at the
//! JSON pointer of the offending value, in the rule it belongs to.
//!
//! Every case starts from the embedded default policy, changes one thing
//! with `serde_json` and compiles the result.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{json, Value};
use tiergate_core::audit::{RuleKind, Severity};
use tiergate_core::{Policy, Problem, DEFAULT_POLICY_JSON};

fn default_doc() -> Value {
    serde_json::from_str(DEFAULT_POLICY_JSON).unwrap()
}

fn compile(doc: &Value) -> Result<Policy, Vec<Problem>> {
    Policy::from_json(&serde_json::to_vec(doc).unwrap()).map_err(|e| e.problems)
}

/// The document has exactly one problem, at `path`, in `rule` (if given).
#[track_caller]
fn assert_only_problem(doc: &Value, path: &str, rule: Option<&str>) -> Problem {
    let found = match compile(doc) {
        Ok(_) => panic!("the policy compiled but should not have"),
        Err(p) => p,
    };
    assert_eq!(
        found.len(),
        1,
        "expected one problem at {path}, got {found:#?}"
    );
    let p = found.into_iter().next().unwrap();
    assert_eq!(p.path, path, "{p:?}");
    if rule.is_some() {
        assert_eq!(p.rule.as_deref(), rule, "{p:?}");
    }
    assert!(!p.message.is_empty());
    p
}

fn rule_index(doc: &Value, id: &str) -> usize {
    doc["audit"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no audit rule {id}"))
}

#[test]
fn default_policy_has_one_rule_of_each_kind() {
    let p = Policy::default_policy().unwrap();
    let rules: Vec<_> = p.audit_rules().rules().collect();
    assert_eq!(rules.len(), RuleKind::ALL.len());
    for (_, kind) in RuleKind::ALL {
        assert!(rules.iter().any(|(_, k, _)| *k == kind), "{kind:?}");
    }
    assert!(rules
        .iter()
        .any(|(id, _, s)| *id == "break-glass" && *s == Severity::High));
}

#[test]
fn a_document_without_an_audit_section_has_no_rules() {
    let mut doc = default_doc();
    doc.as_object_mut().unwrap().remove("audit");
    let p = compile(&doc).unwrap();
    assert!(p.audit_rules().is_empty());
}

#[test]
fn audit_rules_change_the_policy_hash() {
    let base = compile(&default_doc()).unwrap();
    let mut doc = default_doc();
    let i = rule_index(&doc, "probing");
    doc["audit"]["rules"][i]["params"]["requests"] = json!(6);
    assert_ne!(compile(&doc).unwrap().hash(), base.hash());
}

#[test]
fn unknown_kind() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "probing");
    doc["audit"]["rules"][i]["kind"] = json!("mind_reading");
    let p = assert_only_problem(&doc, &format!("/audit/rules/{i}/kind"), Some("probing"));
    assert!(
        p.message.contains("probing"),
        "lists the known kinds: {}",
        p.message
    );
}

#[test]
fn unknown_severity() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "break-glass");
    doc["audit"]["rules"][i]["severity"] = json!("urgent");
    assert_only_problem(
        &doc,
        &format!("/audit/rules/{i}/severity"),
        Some("break-glass"),
    );
}

#[test]
fn duplicate_and_empty_ids() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "probing");
    doc["audit"]["rules"][i]["id"] = json!("break-glass");
    assert_only_problem(&doc, &format!("/audit/rules/{i}/id"), None);
    let mut doc = default_doc();
    doc["audit"]["rules"][i]["id"] = json!(" ");
    assert_only_problem(&doc, &format!("/audit/rules/{i}/id"), None);
}

#[test]
fn missing_parameter() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "volume-spike");
    doc["audit"]["rules"][i]["params"]
        .as_object_mut()
        .unwrap()
        .remove("minimum");
    let p = assert_only_problem(
        &doc,
        &format!("/audit/rules/{i}/params"),
        Some("volume-spike"),
    );
    assert!(p.message.contains("`minimum`"));
}

#[test]
fn unknown_parameter() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "break-glass");
    doc["audit"]["rules"][i]["params"] = json!({"window_minutes": 5});
    assert_only_problem(
        &doc,
        &format!("/audit/rules/{i}/params/window_minutes"),
        Some("break-glass"),
    );
}

#[test]
fn parameters_out_of_range() {
    for (rule, key, value) in [
        ("volume-spike", "factor", json!(1)),
        ("volume-spike", "factor", json!("five")),
        ("volume-spike", "window_minutes", json!(0)),
        ("volume-spike", "baseline_windows", json!(-1)),
        ("probing", "requests", json!(1)),
        ("probing", "withheld_at_least", json!(0.5)),
        ("no-relationship", "window_days", json!(0)),
        ("no-relationship", "if_unknown", json!("maybe")),
        ("out-of-hours", "start", json!("7am")),
        ("out-of-hours", "utc_offset_minutes", json!(1000)),
    ] {
        let mut doc = default_doc();
        let i = rule_index(&doc, rule);
        doc["audit"]["rules"][i]["params"][key] = value;
        assert_only_problem(&doc, &format!("/audit/rules/{i}/params/{key}"), Some(rule));
    }
}

#[test]
fn bad_list_items() {
    for (rule, key, value, at) in [
        ("out-of-hours", "profiles", json!(["5", "99"]), "profiles/1"),
        ("out-of-hours", "profiles", json!(["5", "5"]), "profiles/1"),
        ("out-of-hours", "days", json!(["mon", "funday"]), "days/1"),
        ("out-of-hours", "days", json!(["mon", "mon"]), "days/1"),
        ("out-of-hours", "profiles", json!([]), "profiles"),
        (
            "no-relationship",
            "relationships",
            json!(["encounter", "gossip"]),
            "relationships/1",
        ),
        (
            "same-surname-or-address",
            "compare",
            json!(["surname", 3]),
            "compare/1",
        ),
        (
            "same-surname-or-address",
            "compare",
            json!(["eye colour"]),
            "compare/0",
        ),
    ] {
        let mut doc = default_doc();
        let i = rule_index(&doc, rule);
        doc["audit"]["rules"][i]["params"][key] = value;
        assert_only_problem(&doc, &format!("/audit/rules/{i}/params/{at}"), Some(rule));
    }
}

#[test]
fn working_hours_must_end_after_they_start() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "out-of-hours");
    doc["audit"]["rules"][i]["params"]["end"] = json!("06:00");
    assert_only_problem(
        &doc,
        &format!("/audit/rules/{i}/params/end"),
        Some("out-of-hours"),
    );
}

#[test]
fn shape_errors_name_the_path() {
    let mut doc = default_doc();
    doc["audit"]["rules"][0]["colour"] = json!("red");
    let p = compile(&doc).err().unwrap();
    assert_eq!(p[0].path, "/audit/rules/0/colour");
    let mut doc = default_doc();
    doc["audit"]["rules"][0]["params"] = json!([1]);
    let p = compile(&doc).err().unwrap();
    assert_eq!(p[0].path, "/audit/rules/0/params");
}

#[test]
fn rules_can_be_switched_off_and_repeated_with_other_parameters() {
    let mut doc = default_doc();
    let rules = doc["audit"]["rules"].as_array_mut().unwrap();
    rules.retain(|r| r["kind"] != "out_of_hours");
    let mut strict = rules
        .iter()
        .find(|r| r["id"] == "probing")
        .cloned()
        .unwrap();
    strict["id"] = json!("probing-strict");
    strict["severity"] = json!("high");
    strict["params"]["requests"] = json!(20);
    rules.push(strict);
    let p = compile(&doc).unwrap();
    let ids: Vec<&str> = p.audit_rules().rules().map(|(id, _, _)| id).collect();
    assert!(!ids.contains(&"out-of-hours"));
    assert!(ids.contains(&"probing") && ids.contains(&"probing-strict"));
}
