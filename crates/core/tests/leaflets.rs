//! Every demo patient, reading their own record in the portal, is offered
//! at least one leaflet; leaflets come only from what the viewer received.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use serde_json::{json, Value};
use tiergate_core::leaflets::Leaflets;
use tiergate_core::{ConsentSet, Limits, Policy, Request, Viewer};
use time::macros::datetime;

fn demo(rel: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "demo", "data", rel]
        .iter()
        .collect();
    std::fs::read(&path).unwrap()
}

/// The record as `viewer` receives it.
fn received(file: &str, viewer: &Viewer) -> Value {
    let policy = Policy::default_policy().unwrap();
    let consent = ConsentSet::from_json(&demo(&format!("consents/{file}")), &policy)
        .unwrap()
        .compile(&policy)
        .unwrap();
    let request = Request {
        viewer,
        consent: &consent,
        now: datetime!(2026-11-25 12:00 UTC),
        default_setting: None,
        holding_organisation: None,
    };
    let r = policy
        .redact(&demo(file), &request, Limits::default())
        .unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

fn patient(id: &str) -> Viewer {
    Viewer::from_json(
        json!({"user_id": "me", "organisation": "PATIENT", "profile": "patient",
               "purpose": "direct-care", "training": null, "patient": id})
        .to_string()
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn every_demo_patient_gets_a_leaflet() {
    let leaflets = Leaflets::default_catalogue().unwrap();
    for (file, id, expected) in [
        ("joe.json", "joe-patient", "type-2-diabetes"),
        ("joan.json", "joan-patient", "heart-failure"),
        ("brenda.json", "brenda-patient", "psychosis-staying-well"),
        ("david.json", "david-patient", "motor-neurone-disease"),
        (
            "phil-ed-patient.json",
            "margaret-patient",
            "atrial-fibrillation",
        ),
        ("neighbourhood.json", "ronald-patient", "leg-ulcer-care"),
        ("susan.json", "susan-patient", "bipolar-disorder"),
        ("lily.json", "lily-patient", "asthma-children"),
        ("lily.json", "lily-patient", "childhood-immunisations"),
    ] {
        let record = received(file, &patient(id));
        let hits: Vec<&str> = leaflets
            .matching(&record)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert!(hits.contains(&expected), "{file}: {hits:?}");
    }
}

#[test]
fn a_proxy_without_the_record_scope_gets_no_condition_leaflets() {
    let leaflets = Leaflets::default_catalogue().unwrap();
    let mut carer = patient("joe-patient");
    carer.proxy_scopes = Some(vec!["appointments".into()]);
    let record = received("joe.json", &carer);
    assert!(leaflets.matching(&record).is_empty());
}
