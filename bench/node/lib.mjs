// Shared by the Node benchmarks: the repository root, statistics and the
// machine description written with every result.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { webBuildWorker } from "../../tests/workerd/options.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function quantile(values, q) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const at = (v.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return v[lo] + (v[hi] - v[lo]) * (at - lo);
}

export const median = (values) => quantile(values, 0.5);

/** One line: CPU model, cores, memory, rustc, Node, date, load. */
export function machine() {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    const m = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
    if (m) model = m[1].trim();
  } catch {}
  let rustc = "rustc (unknown)";
  try {
    rustc = execFileSync("rustc", ["-V"], { encoding: "utf8" }).trim();
  } catch {}
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const load = loadavg().map((l) => l.toFixed(2)).join(" ");
  return `Machine: ${model}, ${cpus().length} cores available (${process.arch}), ${Math.round(totalmem() / 2 ** 30)} GiB, ${rustc}, Node ${process.version}, ${date} UTC. Load average (1, 5, 15 min) at the start: ${load}; the machine is shared with other work (browser tests, builds), so treat single figures as ±10-15%.`;
}

/** The records every throughput benchmark redacts (as bench/benches/redact.rs). */
export function benchRecords() {
  return [
    ["synthea", ["Russel238", "Ellis535", "Curt84_Legros616", "Curt84_Volkman526"]],
    ["gpconnect", ["meds_response", "pathology_response1", "consultations_response1"]],
  ].flatMap(([dir, names]) =>
    names.map((name) => {
      const file = readdirSync(join(root, "tests", "corpus", dir)).find((f) => f.startsWith(name));
      return { name: `${dir}/${name}`, bytes: new Uint8Array(readFileSync(join(root, "tests", "corpus", dir, file))) };
    }),
  );
}

/** Miniflare options for a benchmark worker under `base` that imports `pkg/web`. */
export function benchWorker(base, script) {
  return webBuildWorker(join(base, "bench", "node", script), base);
}

/** A start-up table row: median, min and p90 of `values` (ms). */
export function msRow(label, values) {
  return `| ${label} | ${median(values).toFixed(1)} ms | ${Math.min(...values).toFixed(1)} ms | ${quantile(values, 0.9).toFixed(1)} ms |`;
}

/** Times one request to `mf` from outside; throws unless it answers 200 (and `want`, if given). */
export async function timedFetch(mf, path, { init, want } = {}) {
  const t = performance.now();
  const res = await mf.dispatchFetch(`http://bench.test${path}`, init);
  const text = await res.text();
  if (res.status !== 200 || (want !== undefined && text !== want)) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
  return performance.now() - t;
}

/** Appends a `## heading` section (an introduction, then table lines) to a results file. */
export function appendSection(path, heading, intro, lines) {
  appendFileSync(path, ["", `## ${heading}`, "", intro, "", ...lines, ""].join("\n"));
  console.error(`appended to ${path}`);
}

let scripts = null;
let scriptCount = 0;
/**
 * Runs `source` (CommonJS) in a fresh `node` from a script file, as an
 * application loads the package (the same code under `node -e` measures
 * about 1.3 ms slower), and returns the JSON it writes to stdout.
 */
export function runNodeScript(source) {
  if (!scripts) {
    scripts = mkdtempSync(join(tmpdir(), "tiergate-bench-"));
    process.on("exit", () => rmSync(scripts, { recursive: true, force: true }));
  }
  const file = join(scripts, `child-${(scriptCount += 1)}.cjs`);
  writeFileSync(file, source);
  return JSON.parse(execFileSync(process.execPath, [file], { encoding: "utf8" }));
}
