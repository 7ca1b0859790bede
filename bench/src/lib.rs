//! Inputs shared by the benchmarks.

use std::path::{Path, PathBuf};

use tiergate_core::{CompiledConsent, ConsentSet, Policy, Viewer};

/// The corpus folder of the repository.
pub fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus").join(dir)
}

/// A viewer of `profile` at organisation RVY with current training.
pub fn viewer(profile: &str) -> Viewer {
    let text = format!(
        r#"{{"user_id":"bench","organisation":"RVY","profile":"{profile}","purpose":"direct-care","training":{{"expires":"2099-01-01"}}}}"#
    );
    Viewer::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// Consent for organisation RVY to see the whole record.
pub fn consent(policy: &Policy) -> CompiledConsent {
    ConsentSet::from_json(
        br#"{"directives":[{"id":"c","kind":"permit","recorded":"2026-01-01","actors":{"organisations":["RVY"]}}]}"#,
        policy,
    )
    .and_then(|c| c.compile(policy))
    .unwrap_or_else(|e| panic!("{e}"))
}
