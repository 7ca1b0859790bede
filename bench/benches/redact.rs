//! Redaction throughput (MB/s of record in) for a GP and an admin profile,
//! against the floor every DOM-based redactor pays: a plain serde_json
//! parse-and-serialise of the same bytes, measured in the same run.

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
    out
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
