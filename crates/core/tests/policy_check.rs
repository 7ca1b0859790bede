//! The policy checker: each kind of mistake in a policy document is
//! reported at the JSON pointer of the offending value, and the policy hash
//! depends on content only.
//!
//! Every case starts from the embedded default policy, changes one thing
//! with `serde_json` and compiles the result.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tiergate_core::{Policy, Problem, DEFAULT_POLICY_JSON};

fn default_doc() -> Value {
    serde_json::from_str(DEFAULT_POLICY_JSON).unwrap()
}

fn compile(doc: &Value) -> Result<Policy, Vec<Problem>> {
    Policy::from_json(&serde_json::to_vec(doc).unwrap()).map_err(|e| e.problems)
}

fn problems(doc: &Value) -> Vec<Problem> {
    match compile(doc) {
        Ok(_) => panic!("the policy compiled but should not have"),
        Err(p) => {
            assert!(!p.is_empty());
            p
        }
    }
}

/// The document has exactly one problem, at `path`, in `rule` (if given).
#[track_caller]
fn assert_only_problem(doc: &Value, path: &str, rule: Option<&str>) -> Problem {
    let found = problems(doc);
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

/// The document has a problem at `path` (and possibly others).
#[track_caller]
fn assert_problem_at(doc: &Value, path: &str) -> Problem {
    let found = problems(doc);
    found
        .iter()
        .find(|p| p.path == path)
        .cloned()
        .unwrap_or_else(|| panic!("no problem at {path}: {found:#?}"))
}

fn index_of(doc: &Value, list: &str, id: &str) -> usize {
    let items = doc
        .pointer(list)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{list}"));
    items
        .iter()
        .position(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {list}"))
}

fn rule_index(doc: &Value, id: &str) -> usize {
    index_of(doc, "/classification/rules", id)
}

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the default policy"))
}

// ---------------------------------------------------------------------------
// The default policy.

#[test]
fn the_default_policy_compiles() {
    let policy = Policy::default_policy().unwrap();
    // The eleven profiles of table 6, the own-record profile `patient` and
    // the privacy officer's audit-only profile.
    assert_eq!(policy.profiles().count(), 13);
    assert_eq!(policy.segments().len(), 4);
    assert_eq!(policy.content().len(), 22);
    assert_eq!(policy.exclusion_categories().len(), 10);
    let hash = policy.hash();
    let hex = hash.strip_prefix("sha256:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(hex
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    // Compiling the same bytes twice, or the parsed value, gives one hash.
    assert_eq!(
        Policy::from_json(DEFAULT_POLICY_JSON.as_bytes())
            .unwrap()
            .hash(),
        hash
    );
    assert_eq!(Policy::from_value(default_doc()).unwrap().hash(), hash);
    assert_eq!(tiergate_core::canonical::content_hash(&default_doc()), hash);
}

#[test]
fn not_json_is_one_problem_at_the_root() {
    let e = Policy::from_json(b"{\"policy\": ").unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "");
}

#[test]
fn a_misshapen_document_names_the_path_of_the_first_bad_value() {
    let mut doc = default_doc();
    *at(&mut doc, "/segments/2/tiers") = json!("three");
    let p = assert_only_problem(&doc, "/segments/2/tiers", None);
    assert!(p.message.contains("invalid type"), "{}", p.message);

    let mut doc = default_doc();
    at(&mut doc, "/profiles/1")
        .as_object_mut()
        .unwrap()
        .insert("tiers_extra".into(), json!(1));
    let p = assert_only_problem(&doc, "/profiles/1/tiers_extra", None);
    assert!(p.message.contains("unknown field"), "{}", p.message);
}

#[test]
fn a_member_written_twice_is_refused_not_last_one_wins() {
    // A parsed value would keep only the second; the text says both, and
    // which one the author meant is not for the engine to guess.
    let training = serde_json::to_string(&default_doc()["training"]).unwrap();
    let body = DEFAULT_POLICY_JSON.trim_start().strip_prefix('{').unwrap();
    let text = format!("{{\"training\": {training},{body}");
    let e = Policy::from_json(text.as_bytes()).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
    assert_eq!(e.problems[0].path, "/training");
    assert!(
        e.problems[0].message.starts_with("duplicate field"),
        "{}",
        e.problems[0].message
    );
    assert!(
        !e.problems[0].message.contains("training"),
        "{}",
        e.problems[0].message
    );
}

// ---------------------------------------------------------------------------
// Profiles.

#[test]
fn unknown_segment_in_a_profile() {
    let mut doc = default_doc();
    at(&mut doc, "/profiles/0/access")["radiology"] = json!(2);
    let p = assert_only_problem(&doc, "/profiles/0/access/radiology", Some("1a"));
    assert!(p.message.contains("radiology"), "{}", p.message);
}

#[test]
fn missing_segment_in_a_profile() {
    let mut doc = default_doc();
    let i = index_of(&doc, "/profiles", "2a");
    at(&mut doc, &format!("/profiles/{i}/access"))
        .as_object_mut()
        .unwrap()
        .remove("hospitals");
    assert_only_problem(&doc, &format!("/profiles/{i}/access/hospitals"), Some("2a"));
}

#[test]
fn tier_out_of_range_in_a_profile() {
    for bad in [
        json!(4),
        json!(0),
        json!(-1),
        json!(2.5),
        json!("3"),
        json!("x"),
        json!(null),
    ] {
        let mut doc = default_doc();
        let i = index_of(&doc, "/profiles", "1b");
        *at(&mut doc, &format!("/profiles/{i}/access/summary")) = bad.clone();
        assert_only_problem(&doc, &format!("/profiles/{i}/access/summary"), Some("1b"));
    }
    // `X` and every tier 1-3 are fine.
    for good in [json!("X"), json!(1), json!(2), json!(3)] {
        let mut doc = default_doc();
        *at(&mut doc, "/profiles/8/access/community") = good;
        assert!(compile(&doc).is_ok());
    }
}

#[test]
fn duplicate_profile_id() {
    let mut doc = default_doc();
    let i = index_of(&doc, "/profiles", "2b");
    *at(&mut doc, &format!("/profiles/{i}/id")) = json!("1a");
    let p = assert_only_problem(&doc, &format!("/profiles/{i}/id"), None);
    assert!(p.message.contains("1a"), "{}", p.message);
}

// ---------------------------------------------------------------------------
// Classification rules.

#[test]
fn duplicate_rule_id() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "hospital.adt");
    *at(&mut doc, &format!("/classification/rules/{i}/id")) = json!("hospital.tci");
    assert_only_problem(&doc, &format!("/classification/rules/{i}/id"), None);
}

#[test]
fn rule_with_unknown_content() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "appointments");
    *at(&mut doc, &format!("/classification/rules/{i}/content")) = json!(["diary"]);
    let p = assert_only_problem(
        &doc,
        &format!("/classification/rules/{i}/content/0"),
        Some("appointments"),
    );
    assert!(p.message.contains("diary"));
}

#[test]
fn rule_with_unknown_code_set() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "diagnostics.routine");
    *at(&mut doc, &format!("/classification/rules/{i}/match/codes")) = json!(["routine-tests"]);
    assert_only_problem(
        &doc,
        &format!("/classification/rules/{i}/match/codes/0"),
        Some("diagnostics.routine"),
    );

    // The same for code sets named as categories and tags.
    let mut doc = default_doc();
    let i = rule_index(&doc, "diagnostics.result");
    *at(
        &mut doc,
        &format!("/classification/rules/{i}/match/categories"),
    ) = json!(["diagnostic_categories", "lab_categories"]);
    assert_only_problem(
        &doc,
        &format!("/classification/rules/{i}/match/categories/1"),
        Some("diagnostics.result"),
    );
    let mut doc = default_doc();
    let i = rule_index(&doc, "significant.other");
    *at(&mut doc, &format!("/classification/rules/{i}/match/tags")) = json!(["significant"]);
    assert_problem_at(&doc, &format!("/classification/rules/{i}/match/tags/0"));
}

#[test]
fn rule_with_unknown_setting() {
    let mut doc = default_doc();
    let i = rule_index(&doc, "hospital.tci");
    *at(
        &mut doc,
        &format!("/classification/rules/{i}/match/settings"),
    ) = json!(["hospitals"]);
    let p = assert_only_problem(
        &doc,
        &format!("/classification/rules/{i}/match/settings/0"),
        Some("hospital.tci"),
    );
    assert!(p.message.contains("hospitals"));
}

#[test]
fn unreachable_rule() {
    // An exact copy right after the original can never match anything.
    let mut doc = default_doc();
    let i = rule_index(&doc, "appointments");
    let mut copy = doc["classification"]["rules"][i].clone();
    copy["id"] = json!("appointments.again");
    at(&mut doc, "/classification/rules")
        .as_array_mut()
        .unwrap()
        .insert(i + 1, copy);
    let p = assert_only_problem(
        &doc,
        &format!("/classification/rules/{}", i + 1),
        Some("appointments.again"),
    );
    assert!(p.message.contains("unreachable"), "{}", p.message);
    assert!(p.message.contains("`appointments`"), "{}", p.message);

    // A broad rule shadows the narrower ones after it.
    let mut doc = default_doc();
    let first = rule_index(&doc, "significant.primary-diagnosis");
    at(&mut doc, "/classification/rules")
        .as_array_mut()
        .unwrap()
        .insert(
            first,
            json!({"id": "any-condition", "match": {"resource_types": ["Condition"]},
                   "content": ["diagnoses"]}),
        );
    let shadowed = rule_index(&doc, "significant.primary-diagnosis");
    let also = rule_index(&doc, "primary.diagnoses");
    let found = problems(&doc);
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            format!("/classification/rules/{shadowed}"),
            format!("/classification/rules/{also}")
        ],
        "{found:#?}"
    );
    assert!(found.iter().all(|p| p.message.contains("`any-condition`")));

    // A narrower rule before a broader one is fine.
    let mut doc = default_doc();
    let last = doc["classification"]["rules"].as_array().unwrap().len();
    at(&mut doc, "/classification/rules")
        .as_array_mut()
        .unwrap()
        .insert(
            last,
            json!({"id": "any-condition", "match": {"resource_types": ["Condition"]},
                   "content": ["diagnoses"]}),
        );
    assert!(compile(&doc).is_ok());
}

#[test]
fn content_line_no_rule_targets() {
    // A new content line (say, the TBC "alerts and flags") with no rule.
    let mut doc = default_doc();
    let lines = at(&mut doc, "/content").as_array_mut().unwrap();
    lines.push(
        json!({"id": "alerts_flags", "segment": "summary", "tier": 3,
                      "label": "Alerts and flags"}),
    );
    let n = lines.len() - 1;
    let p = assert_only_problem(&doc, &format!("/content/{n}"), Some("alerts_flags"));
    assert!(p.message.contains("alerts_flags"));

    // An existing line whose only rule is removed.
    let mut doc = default_doc();
    let i = rule_index(&doc, "patient.demographics");
    at(&mut doc, "/classification/rules")
        .as_array_mut()
        .unwrap()
        .remove(i);
    let line = index_of(&doc, "/content", "demographics");
    assert_only_problem(&doc, &format!("/content/{line}"), Some("demographics"));
}

#[test]
fn content_line_with_unknown_segment_or_tier() {
    let mut doc = default_doc();
    let i = index_of(&doc, "/content", "tci");
    *at(&mut doc, &format!("/content/{i}/segment")) = json!("hospital");
    assert_problem_at(&doc, &format!("/content/{i}/segment"));
    let mut doc = default_doc();
    *at(&mut doc, &format!("/content/{i}/tier")) = json!(4);
    assert_problem_at(&doc, &format!("/content/{i}/tier"));
}

// ---------------------------------------------------------------------------
// Exclusions.

fn code_path(doc: &Value, category: &str, code: &str) -> String {
    let c = index_of(doc, "/exclusions/categories", category);
    let j = doc["exclusions"]["categories"][c]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|x| x["code"] == code)
        .unwrap();
    format!("/exclusions/categories/{c}/codes/{j}/code")
}

#[test]
fn empty_exclusion_code() {
    for bad in ["", "   ", "....."] {
        let mut doc = default_doc();
        let path = code_path(&doc, "hiv_aids", "4J34.");
        *at(&mut doc, &path) = json!(bad);
        assert_only_problem(&doc, &path, Some("hiv_aids"));
    }
}

#[test]
fn exclusion_terms_too_short_or_too_long() {
    let c = index_of(&default_doc(), "/exclusions/categories", "adoption");
    let path = format!("/exclusions/categories/{c}/terms/0");
    for bad in ["ab".to_owned(), "a".repeat(129)] {
        let mut doc = default_doc();
        *at(&mut doc, &path) = json!(bad);
        assert_only_problem(&doc, &path, Some("adoption"));
    }
    let mut doc = default_doc();
    *at(&mut doc, &path) = json!("a".repeat(128));
    assert!(compile(&doc).is_ok(), "128 bytes is allowed");
}

#[test]
fn malformed_percent_pattern() {
    for bad in ["4%3", "%", "43%%", "..%", "%43C", "43 C%"] {
        let mut doc = default_doc();
        let path = code_path(&doc, "sexually_transmitted_diseases", "6832.");
        *at(&mut doc, &path) = json!(bad);
        assert_only_problem(&doc, &path, Some("sexually_transmitted_diseases"));
    }
}

#[test]
fn duplicate_exclusion_code() {
    // `43W7` is `43W7.` without its padding: the same code.
    let mut doc = default_doc();
    let c = index_of(&doc, "/exclusions/categories", "abuse");
    let codes = at(&mut doc, &format!("/exclusions/categories/{c}/codes"))
        .as_array_mut()
        .unwrap();
    codes.push(json!({"code": "43W7", "display": "again"}));
    let n = codes.len() - 1;
    let p = assert_only_problem(
        &doc,
        &format!("/exclusions/categories/{c}/codes/{n}/code"),
        Some("abuse"),
    );
    assert!(p.message.contains("hiv_aids"), "{}", p.message);
}

#[test]
fn lift_naming_an_unknown_category() {
    let mut doc = default_doc();
    *at(&mut doc, "/exclusions/lifts/0/categories") = json!(["hiv_aids", "hiv"]);
    assert_only_problem(
        &doc,
        "/exclusions/lifts/0/categories/1",
        Some("diagnostics-tier-3"),
    );
    // A known list is fine; so is `all`; anything else is not.
    *at(&mut doc, "/exclusions/lifts/0/categories") = json!(["hiv_aids", "abuse"]);
    assert!(compile(&doc).is_ok());
    *at(&mut doc, "/exclusions/lifts/0/categories") = json!("everything");
    assert_only_problem(
        &doc,
        "/exclusions/lifts/0/categories",
        Some("diagnostics-tier-3"),
    );
}

#[test]
fn lift_with_a_bad_grant() {
    let mut doc = default_doc();
    *at(&mut doc, "/exclusions/lifts/0/grant/tier") = json!(4);
    assert_only_problem(
        &doc,
        "/exclusions/lifts/0/grant/tier",
        Some("diagnostics-tier-3"),
    );
    let mut doc = default_doc();
    *at(&mut doc, "/exclusions/lifts/0/grant/segment") = json!("pathology");
    assert_only_problem(
        &doc,
        "/exclusions/lifts/0/grant/segment",
        Some("diagnostics-tier-3"),
    );
}

// ---------------------------------------------------------------------------
// Break glass and the rest.

#[test]
fn break_glass_requiring_a_reason_with_none_listed() {
    let mut doc = default_doc();
    *at(&mut doc, "/break_glass/reasons") = json!([]);
    assert_only_problem(&doc, "/break_glass/reasons", None);
    // Not requiring one, an empty list is fine.
    *at(&mut doc, "/break_glass/reason_required") = json!(false);
    assert!(compile(&doc).is_ok());
}

#[test]
fn break_glass_window_out_of_range() {
    for bad in [0, 1441] {
        let mut doc = default_doc();
        *at(&mut doc, "/break_glass/max_minutes") = json!(bad);
        assert_only_problem(&doc, "/break_glass/max_minutes", None);
    }
}

#[test]
fn shape_errors_name_their_path() {
    let mut doc = default_doc();
    *at(&mut doc, "/segments/2/tiers") = json!("3");
    assert_only_problem(&doc, "/segments/2/tiers", None);

    let mut doc = default_doc();
    at(&mut doc, "/profiles/0")["level"] = json!("senior");
    let p = problems(&doc);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].path.starts_with("/profiles/0"), "{p:#?}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut doc = default_doc();
    at(&mut doc, "/profiles/0/access")["radiology"] = json!(2);
    *at(&mut doc, "/profiles/1/access/summary") = json!(4);
    let path = code_path(&doc, "complaints", "9U%");
    *at(&mut doc, &path) = json!("9%U");
    *at(&mut doc, "/break_glass/reasons") = json!([]);
    let found = problems(&doc);
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "/profiles/0/access/radiology",
            "/profiles/1/access/summary",
            path.as_str(),
            "/break_glass/reasons"
        ]
    );
}

// ---------------------------------------------------------------------------
// The hash.

/// Rebuilds every object with its keys in a different order.
fn reorder(value: &Value, seed: &mut u64) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Fisher-Yates with a small LCG; seed 0 reverses.
            if *seed == 0 {
                entries.reverse();
            } else {
                for i in (1..entries.len()).rev() {
                    *seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let j = usize::try_from((*seed >> 33) % (i as u64 + 1)).unwrap();
                    entries.swap(i, j);
                }
            }
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k.clone(), reorder(v, seed));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| reorder(v, seed)).collect()),
        other => other.clone(),
    }
}

fn hash_of_bytes(bytes: &[u8]) -> String {
    Policy::from_json(bytes).unwrap().hash().to_owned()
}

#[test]
fn the_hash_ignores_key_order_and_white_space() {
    let original = Policy::default_policy().unwrap().hash().to_owned();
    let doc = default_doc();

    let reversed = reorder(&doc, &mut 0);
    let first_key = |v: &Value| v.as_object().unwrap().keys().next().unwrap().clone();
    assert_ne!(
        first_key(&reversed),
        first_key(&doc),
        "keys were not reordered"
    );
    assert_eq!(
        hash_of_bytes(&serde_json::to_vec(&reversed).unwrap()),
        original
    );
    assert_eq!(
        hash_of_bytes(&serde_json::to_vec_pretty(&reversed).unwrap()),
        original
    );
    assert_eq!(hash_of_bytes(&serde_json::to_vec(&doc).unwrap()), original);

    // Odd but valid white space: tabs, CR LF. (Raw line breaks cannot occur
    // inside JSON strings, so replacing them changes only white space.)
    let mut tabbed = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t \t");
    let mut ser = serde_json::Serializer::with_formatter(&mut tabbed, formatter);
    serde::Serialize::serialize(&reversed, &mut ser).unwrap();
    let spaced = String::from_utf8(tabbed).unwrap().replace('\n', "\r\n  ");
    assert!(spaced.contains("\r\n  \t \t"));
    assert_eq!(hash_of_bytes(spaced.as_bytes()), original);

    // An escaped character is the same character.
    let title = doc["policy"]["title"].as_str().unwrap();
    assert!(title.starts_with('i'));
    let escaped = serde_json::to_string(&doc).unwrap().replacen(
        &format!("\"{title}\""),
        &format!("\"\\u0069{}\"", &title[1..]),
        1,
    );
    assert_ne!(escaped, serde_json::to_string(&doc).unwrap());
    assert_eq!(hash_of_bytes(escaped.as_bytes()), original);
}

#[test]
fn the_hash_changes_when_the_content_does() {
    let original = Policy::default_policy().unwrap().hash().to_owned();

    let mut doc = default_doc();
    let i = index_of(&doc, "/profiles", "6");
    *at(&mut doc, &format!("/profiles/{i}/access/community")) = json!(2);
    let changed = Policy::from_value(doc.clone()).unwrap();
    assert_ne!(changed.hash(), original);
    *at(&mut doc, &format!("/profiles/{i}/access/community")) = json!(1);
    assert_eq!(Policy::from_value(doc.clone()).unwrap().hash(), original);

    // The order of rules matters (first match wins), so it is content.
    let mut doc = default_doc();
    let rules = at(&mut doc, "/classification/rules")
        .as_array_mut()
        .unwrap();
    let a = rules
        .iter()
        .position(|r| r["id"] == "primary.health-status")
        .unwrap();
    rules.swap(a, a + 1);
    assert_ne!(Policy::from_value(doc).unwrap().hash(), original);

    // So is a display text.
    let mut doc = default_doc();
    *at(&mut doc, "/exclusions/categories/0/name") = json!("HIV & AIDS");
    assert_ne!(Policy::from_value(doc).unwrap().hash(), original);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_key_order_gives_the_same_hash(seed in 1u64..u64::MAX) {
        let original = Policy::default_policy().unwrap().hash().to_owned();
        let mut s = seed;
        let shuffled = reorder(&default_doc(), &mut s);
        let bytes = serde_json::to_vec(&shuffled).unwrap();
        prop_assert_eq!(hash_of_bytes(&bytes), original);
    }
}

#[test]
fn job_roles_map_to_known_profiles() {
    let p = tiergate_core::Policy::default_policy().unwrap();
    assert_eq!(p.profile_for_job_role("R0260"), Some("1b"));
    assert_eq!(p.profile_for_job_role("R9999"), None);
    let mut doc: serde_json::Value =
        serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    doc["job_roles"] =
        serde_json::json!([{"code": "R0260", "profile": "9z"}, {"code": "R0260", "profile": "1b"}]);
    let problems = tiergate_core::Policy::from_value(doc).unwrap_err().problems;
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["/job_roles/0/profile", "/job_roles/1/code"]);
}

#[test]
fn a_profile_with_audit_access_reaches_no_record() {
    let mut doc = default_doc();
    let i = index_of(&doc, "/profiles", "privacy-officer");
    *at(&mut doc, &format!("/profiles/{i}/access/summary")) = json!(1);
    assert_only_problem(
        &doc,
        &format!("/profiles/{i}/properties/audit_access"),
        Some("privacy-officer"),
    );
    // Nor may it be an own-record profile.
    let mut doc = default_doc();
    at(&mut doc, &format!("/profiles/{i}/properties"))["own_record"] = json!(true);
    assert_problem_at(&doc, &format!("/profiles/{i}/properties/audit_access"));
}
