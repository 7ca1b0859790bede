//! Inputs shared by the benchmarks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use tiergate_core::{CompiledConsent, ConsentSet, Policy, Viewer};

/// The corpus folder of the repository.
pub fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/corpus")
        .join(dir)
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

/// CPU model, cores, memory, rustc, date and load, as a short paragraph.
pub fn machine(load_before: &str) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0 / 1024.0);
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned()))
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "rustc (unknown)".to_owned());
    let now = time::OffsetDateTime::now_utc();
    let load = |s: &str| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut s = String::new();
    let _ = write!(
        s,
        "Machine: {model}, {cores} cores available ({}), {}, {} {:02}:{:02} UTC. ",
        std::env::consts::ARCH,
        mem_gib
            .map(|g| format!("{g:.0} GiB"))
            .map_or(rustc.clone(), |m| format!("{m}, {rustc}")),
        now.date(),
        now.hour(),
        now.minute(),
    );
    let _ = writeln!(
        s,
        "Load average (1, 5, 15 min) before the run: {}; after: {}.\n",
        load(load_before),
        load(&load_after)
    );
    s
}
