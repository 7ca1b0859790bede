//! `make bench`'s native half: runs the criterion benchmarks with short
//! settings, reads criterion's estimates and writes `results/native.md`
//! (redaction MB/s against the serde_json floor, the audit scan and policy
//! start-up) with the machine it ran on.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml --bin report            # run, then write
//! cargo run --release --manifest-path bench/Cargo.toml --bin report -- --no-run # write from the last run
//! ```
//!
//! Only estimates written by this run (or, with `--no-run`, by the last
//! run) are read, so a stale benchmark never reaches the table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// Criterion arguments: short, because the machine is usually shared.
const CRITERION_ARGS: &[&str] = &["--warm-up-time", "1", "--measurement-time", "3"];
/// The function id of the floor in the redaction groups.
const FLOOR: &str = "serde_json parse+serialise";

type Error = Box<dyn std::error::Error>;

/// One benchmark's result.
#[derive(Debug, Clone)]
struct Estimate {
    group: String,
    function: String,
    value: Option<String>,
    /// Bytes or elements per iteration.
    per_iter: Option<(bool, u64)>,
    /// Median time per iteration, with its 95% interval, in nanoseconds.
    median: f64,
    low: f64,
    high: f64,
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = !args.iter().any(|a| a == "--no-run");
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bench_dir.join("target"));
    let criterion_dir = target.join("criterion");
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let since = if run {
        let started = SystemTime::now();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .arg("bench")
            .arg("--manifest-path")
            .arg(bench_dir.join("Cargo.toml"))
            .args([
                "--bench", "redact", "--bench", "audit", "--bench", "startup", "--bench",
                "decision", "--",
            ])
            .args(CRITERION_ARGS)
            .status()?;
        if !status.success() {
            return Err(format!("cargo bench failed: {status}").into());
        }
        Some(started)
    } else {
        None
    };

    let estimates = read_estimates(&criterion_dir, since)?;
    if estimates.is_empty() {
        return Err(format!("no criterion estimates under {}", criterion_dir.display()).into());
    }
    let mut out = String::new();
    writeln!(out, "# Native benchmarks (generated)\n")?;
    writeln!(
        out,
        "Written by `make bench` (`bench/src/bin/report.rs`) from criterion's estimates; do not edit by hand.\n"
    )?;
    out.push_str(&tiergate_bench::machine(&load_before));
    writeln!(
        out,
        "Settings: `cargo bench -- {}`, bench profile (release settings). Times are criterion's median per iteration; throughput is record bytes in per second, in MB/s (10^6 bytes). The machine is shared with other work (browser tests, builds), so treat single figures as ±10-15%: the ratio, measured in the same run, is steadier than either side.\n",
        CRITERION_ARGS.join(" ")
    )?;
    out.push_str(&redaction_table(&estimates));
    out.push_str(&audit_table(&estimates));
    out.push_str(&startup_table(&estimates));

    let path = bench_dir.join("results/native.md");
    std::fs::write(&path, &out)?;
    print!("{out}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Every `*/new/estimates.json` under `dir` written at or after `since`.
fn read_estimates(dir: &Path, since: Option<SystemTime>) -> Result<Vec<Estimate>, Error> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    if let Some(e) = read_one(&path, since)? {
                        found.push(e);
                    }
                } else {
                    stack.push(path);
                }
            }
        }
    }
    Ok(found)
}

fn read_one(new_dir: &Path, since: Option<SystemTime>) -> Result<Option<Estimate>, Error> {
    let est_path = new_dir.join("estimates.json");
    let Ok(meta) = std::fs::metadata(&est_path) else {
        return Ok(None);
    };
    if let Some(since) = since {
        if meta.modified()? < since {
            return Ok(None);
        }
    }
    let est: Value = serde_json::from_slice(&std::fs::read(&est_path)?)?;
    let bench: Value = serde_json::from_slice(&std::fs::read(new_dir.join("benchmark.json"))?)?;
    let median = &est["median"];
    let num = |v: &Value| {
        v.as_f64()
            .ok_or_else(|| format!("bad estimate in {}", est_path.display()))
    };
    let per_iter = match &bench["throughput"] {
        Value::Object(t) => t
            .get("Bytes")
            .and_then(Value::as_u64)
            .map(|n| (true, n))
            .or_else(|| {
                t.get("Elements")
                    .and_then(Value::as_u64)
                    .map(|n| (false, n))
            }),
        _ => None,
    };
    Ok(Some(Estimate {
        group: bench["group_id"].as_str().unwrap_or_default().to_owned(),
        function: bench["function_id"].as_str().unwrap_or_default().to_owned(),
        value: bench["value_str"].as_str().map(str::to_owned),
        per_iter,
        median: num(&median["point_estimate"])?,
        low: num(&median["confidence_interval"]["lower_bound"])?,
        high: num(&median["confidence_interval"]["upper_bound"])?,
    }))
}

fn mbps(bytes: u64, ns: f64) -> f64 {
    bytes as f64 / ns * 1e3
}

fn size(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{} KB", (bytes as f64 / 1e3).round())
    }
}

/// Redaction groups: every group holding the serde_json floor.
fn redaction_table(all: &[Estimate]) -> String {
    let mut groups: BTreeMap<&str, Vec<&Estimate>> = BTreeMap::new();
    for e in all {
        groups.entry(e.group.as_str()).or_default().push(e);
    }
    let mut rows = Vec::new();
    let mut ratios: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (group, items) in &groups {
        let Some(floor) = items.iter().find(|e| e.function == FLOOR) else {
            continue;
        };
        let Some((true, bytes)) = floor.per_iter else {
            continue;
        };
        let floor_mbps = mbps(bytes, floor.median);
        let mut row = format!("| {group} | {} | {floor_mbps:.0} |", size(bytes));
        for profile in ["1b", "5"] {
            match items
                .iter()
                .find(|e| e.function == "redact" && e.value.as_deref() == Some(profile))
            {
                Some(r) => {
                    let m = mbps(bytes, r.median);
                    let ratio = m / floor_mbps;
                    ratios.entry(profile.to_owned()).or_default().push(ratio);
                    let _ = write!(
                        row,
                        " {m:.0} ({:.0}-{:.0}) | {ratio:.2} |",
                        mbps(bytes, r.high),
                        mbps(bytes, r.low)
                    );
                }
                None => row.push_str(" - | - |"),
            }
        }
        rows.push((bytes, group.starts_with("gpconnect"), row));
    }
    if rows.is_empty() {
        return String::new();
    }
    // Synthea first, each source by size.
    rows.sort_by_key(|(bytes, gp, _)| (*gp, *bytes));
    let mut s = String::from("## Redaction throughput\n\n");
    s.push_str(
        "Each record redacted with full consent for organisation RVY, against a plain `serde_json` parse-and-serialise of the same bytes in the same run (the floor every DOM-based redactor pays). **ratio** = redaction MB/s ÷ floor MB/s: above 1 is faster than the floor, below 1 slower. Brackets: criterion's 95% interval of the median.\n\n",
    );
    s.push_str("| record | size | floor MB/s | redact GP (1b) MB/s | ratio | redact admin (5) MB/s | ratio |\n");
    s.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (_, _, row) in &rows {
        s.push_str(row);
        s.push('\n');
    }
    s.push('\n');
    for (profile, r) in &ratios {
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(0.0, f64::max);
        let verdict = if hi < 1.0 {
            "slower than the floor"
        } else if lo >= 1.0 {
            "at or above the floor"
        } else {
            "either side of the floor"
        };
        let _ = writeln!(s, "Profile {profile}: redaction runs at {lo:.2}-{hi:.2}x the floor's throughput ({verdict}).");
    }
    s.push('\n');
    s
}

fn audit_table(all: &[Estimate]) -> String {
    let mut items: Vec<&Estimate> = all.iter().filter(|e| e.group == "audit").collect();
    if items.is_empty() {
        return String::new();
    }
    items.sort_by(|a, b| a.function.cmp(&b.function));
    let mut s = String::from(
        "## Audit scan\n\nSee `results/2026-11-25-audit.md` for the stream and the rules.\n\n",
    );
    s.push_str("| benchmark | time | events/s |\n| --- | ---: | ---: |\n");
    for e in items {
        let rate = match e.per_iter {
            Some((false, n)) => format!("{:.0} thousand", n as f64 / e.median * 1e6),
            _ => "-".to_owned(),
        };
        let _ = writeln!(s, "| {} | {:.0} ms | {rate} |", e.function, e.median / 1e6);
    }
    s.push('\n');
    s
}

fn startup_table(all: &[Estimate]) -> String {
    let mut items: Vec<&Estimate> = all.iter().filter(|e| e.group == "startup").collect();
    if items.is_empty() {
        return String::new();
    }
    items.sort_by(|a, b| a.function.cmp(&b.function));
    let mut s = String::from(
        "## Start-up (native)\n\nCompiling the embedded default policy once, and two pieces of what `Policy::from_json` does for any other policy. The wasm figures are in `startup.md`.\n\n",
    );
    s.push_str("| benchmark | median | 95% interval |\n| --- | ---: | ---: |\n");
    for e in items {
        let _ = writeln!(
            s,
            "| {} | {:.0} µs | {:.0}-{:.0} µs |",
            e.function,
            e.median / 1e3,
            e.low / 1e3,
            e.high / 1e3
        );
    }
    s.push('\n');
    s
}
