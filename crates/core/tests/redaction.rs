//! What leaves the redactor: each known way a redactor leaks, with a test
//! that fails if the leak comes back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use serde_json::{json, Value};
use tiergate_core::{
    CompiledConsent, ConsentSet, Limits, Outcome, Policy, RedactError, Redacted, Request, Verdict,
    Viewer,
};
use time::macros::datetime;

const SETTING: &str = "https://fhir.tiergate.example/CodeSystem/care-setting";
const READ: &str = "http://read.info/readv2";

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::default_policy().unwrap())
}

fn viewer(profile: &str) -> Viewer {
    Viewer::from_json(
        json!({"user_id": "u", "organisation": "RVY", "profile": profile, "purpose": "direct-care",
               "training": {"expires": "2027-01-01"}})
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

fn consent() -> CompiledConsent {
    ConsentSet::from_json(
        br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#,
        policy(),
    )
    .unwrap()
    .compile(policy())
    .unwrap()
}

fn redact_with(
    p: &Policy,
    record: &[u8],
    profile: &str,
    limits: Limits,
) -> Result<Redacted, RedactError> {
    let v = viewer(profile);
    let c = consent();
    let request = Request {
        viewer: &v,
        consent: &c,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    p.redact(record, &request, limits)
}

fn redact(record: &Value, profile: &str) -> (Value, Redacted) {
    let out = redact_with(
        policy(),
        record.to_string().as_bytes(),
        profile,
        Limits::default(),
    )
    .unwrap();
    let body = serde_json::from_slice(&out.body).unwrap();
    (body, out)
}

fn tag(setting: &str) -> Value {
    json!({"tag": [{"system": SETTING, "code": setting}]})
}

fn hiv_condition(id: &str) -> Value {
    json!({"resourceType": "Condition", "id": id, "meta": tag("primary_care"),
           "code": {"coding": [{"system": READ, "code": "A788.", "display": "Acquired immune deficiency syndrome"}]}})
}

fn ids(body: &Value) -> Vec<String> {
    body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

#[test]
fn narrative_goes_when_anything_in_the_resource_was_removed() {
    let record = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": hiv_condition("hiv")},
        {"resource": {"resourceType": "Encounter", "id": "e", "meta": tag("hospital"), "status": "finished",
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Seen about the condition</div>"},
            "diagnosis": [{"condition": {"reference": "Condition/hiv"}, "rank": 1}, {"condition": {"reference": "Condition/ok"}, "rank": 2}]}},
        {"resource": {"resourceType": "Condition", "id": "ok", "meta": tag("primary_care"),
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Asthma</div>"},
            "code": {"text": "Asthma"}}}
    ]});
    let (body, _) = redact(&record, "1b");
    assert_eq!(ids(&body), ["Encounter/e", "Condition/ok"]);
    let enc = &body["entry"][0]["resource"];
    assert!(
        enc.get("text").is_none(),
        "narrative kept after a diagnosis was removed"
    );
    assert_eq!(
        enc["diagnosis"],
        json!([{"condition": {"reference": "Condition/ok"}, "rank": 2}])
    );
    // Untouched resources keep their narrative.
    assert!(body["entry"][1]["resource"]["text"]["div"]
        .as_str()
        .unwrap()
        .contains("Asthma"));
}

#[test]
fn composition_sections_lose_withheld_entries_and_their_narrative() {
    let record = json!({"resourceType": "Bundle", "type": "document", "entry": [
        {"fullUrl": "urn:uuid:comp", "resource": {"resourceType": "Composition", "id": "comp", "meta": tag("hospital"), "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]}, "title": "Discharge summary",
            "section": [
                {"title": "Diagnoses", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Two diagnoses</div>"},
                 "entry": [{"reference": "urn:uuid:hiv"}, {"reference": "urn:uuid:ok"}]},
                {"title": "Plan", "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Home</div>"}}
            ]}},
        {"fullUrl": "urn:uuid:hiv", "resource": hiv_condition("hiv")},
        {"fullUrl": "urn:uuid:ok", "resource": {"resourceType": "Condition", "id": "ok", "meta": tag("primary_care"), "code": {"text": "Asthma"}}}
    ]});
    let (body, _) = redact(&record, "1a");
    assert_eq!(ids(&body), ["Composition/comp", "Condition/ok"]);
    let sections = &body["entry"][0]["resource"]["section"];
    assert_eq!(sections[0]["entry"], json!([{"reference": "urn:uuid:ok"}]));
    assert!(
        sections[0].get("text").is_none(),
        "section narrative kept after an entry was removed"
    );
    assert_eq!(
        sections[1]["text"]["div"],
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">Home</div>"
    );

    // A document whose Composition is withheld reads as not found.
    let (_, out) = redact(&record, "5");
    assert_eq!(out.outcome, Outcome::NotFound);
}

#[test]
fn included_entries_are_judged_and_total_counts_matches_only() {
    let record = json!({"resourceType": "Bundle", "type": "searchset", "total": 3, "link": [{"relation": "next", "url": "http://x/?page=2"}], "entry": [
        {"resource": {"resourceType": "Condition", "id": "a", "meta": tag("primary_care"), "code": {"text": "Asthma"}}, "search": {"mode": "match"}},
        {"resource": hiv_condition("b"), "search": {"mode": "match"}},
        {"resource": {"resourceType": "Practitioner", "id": "p"}, "search": {"mode": "include"}},
        {"resource": {"resourceType": "Condition", "id": "c", "meta": tag("primary_care"), "code": {"text": "Hay fever"}, "asserter": {"reference": "Practitioner/p"}}, "search": {"mode": "match"}}
    ]});
    let (body, _) = redact(&record, "1b");
    assert_eq!(ids(&body), ["Condition/a", "Practitioner/p", "Condition/c"]);
    assert_eq!(body["total"], 2);
    assert!(body.get("link").is_none());
    // The included practitioner is shared only because a shared entry names it.
    let (body, _) = redact(&record, "5");
    assert_eq!(ids(&body), Vec::<String>::new());
    assert!(
        body.get("entry").is_none(),
        "an empty Bundle has no `entry` array"
    );
    assert_eq!(body["total"], 0);
}

#[test]
fn display_of_references_to_unreturned_resources_is_dropped_unless_a_person_or_place() {
    let record = json!({"resourceType": "Condition", "id": "c", "meta": tag("primary_care"), "code": {"text": "Asthma"},
        "evidence": [{"detail": [{"reference": "Observation/elsewhere", "display": "Peak flow 250 L/min"}]}],
        "asserter": {"reference": "Practitioner/dr", "display": "Dr A Example"}});
    let (body, _) = redact(&record, "1b");
    assert_eq!(
        body["evidence"][0]["detail"][0],
        json!({"reference": "Observation/elsewhere"})
    );
    assert_eq!(body["asserter"]["display"], "Dr A Example");
}

#[test]
fn mask_field_policy_removes_only_the_naming_text() {
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    doc["exclusions"]["free_text"]["action"] = json!("mask_field");
    let p = Policy::from_value(doc).unwrap();
    let record = json!({"resourceType": "Condition", "id": "c", "meta": tag("primary_care"), "code": {"text": "Asthma"},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Asthma; known HIV</div>"},
        "note": [{"text": "Asthma review"}, {"text": "Discussed HIV status"}]});
    let out = redact_with(&p, record.to_string().as_bytes(), "1b", Limits::default()).unwrap();
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(out.decisions.entries[0].decision, Verdict::Allow);
    assert_eq!(body["note"], json!([{"text": "Asthma review"}]));
    assert!(body.get("text").is_none());
    assert!(!String::from_utf8_lossy(&out.body).contains("HIV"));
}

#[test]
fn lists_signal_withheld_items_only_when_the_policy_asks_and_the_same_way_whatever_was_withheld() {
    let list = |item: &str| {
        json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "List", "id": "l", "status": "current", "mode": "snapshot",
                "entry": [{"item": {"reference": "Condition/a"}}, {"item": {"reference": item}}]}},
            {"resource": {"resourceType": "Condition", "id": "a", "meta": tag("primary_care"), "code": {"text": "Asthma"}}},
            {"resource": hiv_condition("hiv")},
            {"resource": {"resourceType": "Condition", "id": "top", "meta": tag("primary_care"),
                "code": {"coding": [{"system": READ, "code": "L0512"}]}}}
        ]})
    };
    let (body, _) = redact(&list("Condition/hiv"), "1b");
    assert!(
        body["entry"][0]["resource"].get("extension").is_none(),
        "signal off by default"
    );
    let mut doc: Value = serde_json::from_str(tiergate_core::DEFAULT_POLICY_JSON).unwrap();
    doc["redaction"]["signal_withheld"] = json!(true);
    let p = Policy::from_value(doc).unwrap();
    let signal = |record: &Value| {
        let out = redact_with(&p, record.to_string().as_bytes(), "1b", Limits::default()).unwrap();
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        body["entry"][0]["resource"].clone()
    };
    let hiv = signal(&list("Condition/hiv"));
    let top = signal(&list("Condition/top"));
    assert_eq!(
        hiv["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "confidential-items"
    );
    assert_eq!(hiv, top, "the signal differs with what was withheld");
}

#[test]
fn hostile_bodies_fail_closed_with_a_clear_error() {
    let p = policy();
    let big = vec![b' '; 1025];
    assert!(matches!(
        redact_with(p, &big, "1b", Limits { max_bytes: 1024 }),
        Err(RedactError::TooLarge {
            size: 1025,
            limit: 1024
        })
    ));
    let deep = format!(
        "{{\"resourceType\":\"Bundle\",\"x\":{}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(
        redact_with(p, deep.as_bytes(), "1b", Limits::default()).unwrap_err(),
        RedactError::TooDeep
    );
    assert!(matches!(
        redact_with(
            p,
            b"{\"resourceType\":\"Condition\",\"id\":\"\xff\"}",
            "1b",
            Limits::default()
        ),
        Err(RedactError::MalformedJson { .. })
    ));
    assert_eq!(
        redact_with(p, b"[]", "1b", Limits::default()).unwrap_err(),
        RedactError::NotJson
    );
    assert_eq!(
        redact_with(p, b"", "1b", Limits::default()).unwrap_err(),
        RedactError::NotJson
    );
    // A byte order mark is accepted.
    let bom = [b"\xEF\xBB\xBF".as_slice(), json!({"resourceType": "Condition", "id": "a", "meta": tag("primary_care"), "code": {"text": "Asthma"}}).to_string().as_bytes()].concat();
    assert_eq!(
        redact_with(p, &bom, "1b", Limits::default())
            .unwrap()
            .outcome,
        Outcome::Document
    );
}

#[test]
fn hl7v2_segments_go_by_code_and_text_with_their_notes_and_groups() {
    let msg = "\u{feff}MSH|^~\\&|LAB|RVY|EHR|RVY|20261125120000||ORU^R01|MSG1|P|2.5\n\
PID|1||9990000018^^^NHS||Example^Pat\n\
OBR|1|||4J34.^HIV viral load^READ\n\
OBX|1|NM|4J34.^HIV viral load^READ||200\n\
NTE|1||Viral load detectable\n\
OBR|2|||42A..^Full blood count^READ\n\
OBX|1|NM|42A1.^Haemoglobin^READ||140\n\
OBX|2|ST|42Z..^Comment^READ||Patient attends GUM clinic\n\
NTE|1||Notes about the comment\n\
OBX|3|NM|42H..^White cells^READ||7\n\
ZXX|1|anything\n";
    let v = viewer("2a");
    let c = consent();
    let request = Request {
        viewer: &v,
        consent: &c,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    let out = policy()
        .redact(msg.as_bytes(), &request, Limits::default())
        .unwrap();
    let text = String::from_utf8(out.body.clone()).unwrap();
    let segments: Vec<&str> = text.split('\r').filter(|s| !s.is_empty()).collect();
    assert_eq!(
        segments.iter().map(|s| &s[..3]).collect::<Vec<_>>(),
        ["MSH", "PID", "OBR", "OBX", "OBX"],
        "{text}"
    );
    assert!(!text.contains("HIV") && !text.contains("GUM") && !text.contains("ZXX"));
    assert!(segments[3].starts_with("OBX|1|NM|42A1."));
    assert!(
        segments[4].starts_with("OBX|2|NM|42H.."),
        "set IDs renumbered: {}",
        segments[4]
    );
    assert_eq!(
        out.decisions.entries[0].allowed_by.as_deref(),
        Some("diagnostics-2")
    );

    // A GP (Diagnostics tier 3, consented) sees the HIV result: the lift applies.
    let gp = viewer("1b");
    let request = Request {
        viewer: &gp,
        consent: &c,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    let out = policy()
        .redact(msg.as_bytes(), &request, Limits::default())
        .unwrap();
    assert!(String::from_utf8_lossy(&out.body).contains("HIV viral load"));

    // ADT is Hospitals tier 1: an admin clerk (S1 only) gets nothing.
    let adt = "MSH|^~\\&|PAS|RVY|EHR|RVY|20261125||ADT^A01|M2|P|2.5\rPID|1||9990000018\rDG1|1||A788.^AIDS^READ\rDG1|2||H33..^Asthma^READ\r";
    let clerk = viewer("5");
    let request = Request {
        viewer: &clerk,
        consent: &c,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    assert_eq!(
        policy()
            .redact(adt.as_bytes(), &request, Limits::default())
            .unwrap()
            .outcome,
        Outcome::NotFound
    );
    let sw = viewer("3a");
    let request = Request {
        viewer: &sw,
        consent: &c,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    let out = policy()
        .redact(adt.as_bytes(), &request, Limits::default())
        .unwrap();
    let text = String::from_utf8(out.body).unwrap();
    assert_eq!(text, "MSH|^~\\&|PAS|RVY|EHR|RVY|20261125||ADT^A01|M2|P|2.5\rPID|1||9990000018\rDG1|1||H33..^Asthma^READ\r");
}

/// Section 6.2, as in FHIR: the person's opt-out of a category covers an
/// HL7 v2 segment carrying its codes wherever the message is placed (an
/// ADT, Hospitals tier 1, where blood-borne virus status is not an
/// exclusion); the rest of the message goes.
#[test]
fn hl7v2_segments_under_a_category_opt_out_go_wherever_the_message_is_placed() {
    let adt = "MSH|^~\\&|PAS|RVY|EHR|RVY|20261125||ADT^A01|M3|P|2.5\rPID|1||9990000018\rDG1|1||B18.2^Chronic viral hepatitis C^I10\rDG1|2||H33..^Asthma^READ\r";
    let v = viewer("1a");
    let run = |c: &CompiledConsent| {
        let request = Request {
            viewer: &v,
            consent: c,
            now: datetime!(2026-11-25 12:00 UTC),
            default_setting: None,
            holding_organisation: None,
        };
        policy()
            .redact(adt.as_bytes(), &request, Limits::default())
            .unwrap()
    };
    let shared = String::from_utf8(run(&consent()).body).unwrap();
    assert!(
        shared.contains("B18.2"),
        "not an exclusion in Hospitals: {shared}"
    );
    let opted_out = ConsentSet::from_json(
        br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}},
            {"id":"no-bbv","kind":"deny","recorded":"2026-02-01","scope":{"categories":["blood_borne_viruses"]}}]}"#,
        policy(),
    )
    .unwrap()
    .compile(policy())
    .unwrap();
    let out = run(&opted_out);
    let text = String::from_utf8(out.body).unwrap();
    assert!(
        !text.contains("B18.2") && !text.contains("hepatitis"),
        "{text}"
    );
    assert!(
        text.contains("H33.."),
        "the rest of the message goes: {text}"
    );
    assert_eq!(
        out.decisions.summary.withheld_by_reason.get("opted_out"),
        Some(&1)
    );
}
