//! Start-up natively: compiling the embedded default policy, and the pieces
//! of it (parsing the JSON, hashing the canonical form), so a regression
//! shows where it comes from. The wasm figures are bench/node/startup.mjs's.

use criterion::{criterion_group, criterion_main, Criterion};
use tiergate_core::{canonical, Policy, DEFAULT_POLICY_JSON};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    group.sample_size(20);
    group.bench_function("Policy::default_policy", |b| {
        b.iter(|| Policy::default_policy().unwrap())
    });
    group.bench_function("Policy::from_json (default policy text)", |b| {
        b.iter(|| Policy::from_json(DEFAULT_POLICY_JSON.as_bytes()).unwrap())
    });
    group.bench_function("serde_json::Value parse", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(DEFAULT_POLICY_JSON).unwrap())
    });
    let value: serde_json::Value = serde_json::from_str(DEFAULT_POLICY_JSON).unwrap();
    group.bench_function("content_hash (canonical JSON + sha256)", |b| {
        b.iter(|| canonical::content_hash(&value))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
