//! Redaction throughput (MB/s of record in) for a GP and an admin profile,
//! against the floor every DOM-based redactor pays: a plain serde_json
//! parse-and-serialise of the same bytes, measured in the same run. Besides
//! the corpus, bundles of notes written three ways (plain ASCII; as word
//! processors type them, with curly quotes, no-break spaces and dashes; as
//! narrative with tags and character references) at 100 KB, 1 MB and 4 MB:
//! flat MB/s across the sizes is a scan linear in its input.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tiergate_bench::{consent, corpus, viewer};
use tiergate_core::{Limits, Policy, Request};

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (dir, names) in [
        (
            "synthea",
            vec![
                "Russel238",
                "Ellis535",
                "Curt84_Legros616",
                "Curt84_Volkman526",
            ],
        ),
        (
            "gpconnect",
            vec![
                "consultations_response1",
                "pathology_response1",
                "meds_response",
            ],
        ),
    ] {
        for name in names {
            let path = std::fs::read_dir(corpus(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name))
                .unwrap();
            out.push((format!("{dir}/{name}"), std::fs::read(path).unwrap()));
        }
    }
    for (style, note) in [
        ("ascii", "Asthma review: inhaler technique checked (good), peak flow 420 L/min; plan unchanged, see again in 6 months."),
        ("typographic", "Asthma review \u{2014} inhaler technique \u{201c}good\u{201d}, peak flow 420\u{a0}L/min;\nthe patient\u{2019}s plan is unchanged\u{2026} see again in 6\u{a0}months."),
        ("markup", "<p>Asthma review &#8212; inhaler technique <b>good</b>, peak flow 420&nbsp;L/min;</p><p>plan *unchanged*, see again in 6&nbsp;months.</p>"),
    ] {
        for (label, size) in [("100 KB", 100_000), ("1 MB", 1_000_000), ("4 MB", 4_000_000)] {
            out.push((format!("text/{style} {label}"), notes(note, size)));
        }
    }
    out
}

/// A searchset of primary-care asthma Conditions, each with `note`, of
/// about `size` bytes.
fn notes(note: &str, size: usize) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut bytes = 0;
    let mut i = 0;
    while bytes < size {
        let entry = serde_json::json!({"resource": {"resourceType": "Condition", "id": format!("c{i}"),
            "meta": {"tag": [{"system": "https://fhir.tiergate.example/CodeSystem/care-setting", "code": "primary_care"}]},
            "code": {"coding": [{"system": "http://read.info/readv2", "code": "H33..", "display": "Asthma"}]},
            "note": [{"text": note}]}});
        bytes += entry.to_string().len();
        entries.push(entry);
        i += 1;
    }
    serde_json::to_vec(&serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": entries}))
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let policy = Policy::default_policy().unwrap();
    let consent = consent(&policy);
    let now = time::macros::datetime!(2026-11-25 12:00 UTC);
    for (name, bytes) in inputs() {
        let mut group = c.benchmark_group(name.clone());
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(20);
        group.bench_function("serde_json parse+serialise", |b| {
            b.iter(|| {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                serde_json::to_vec(&v).unwrap()
            })
        });
        for profile in ["1b", "5"] {
            let v = viewer(profile);
            let request = Request {
                viewer: &v,
                consent: &consent,
                now,
                default_setting: Some("primary_care"),
                holding_organisation: None,
            };
            group.bench_with_input(BenchmarkId::new("redact", profile), &bytes, |b, bytes| {
                b.iter(|| policy.redact(bytes, &request, Limits::default()).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
