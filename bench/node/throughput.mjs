// Redaction throughput in wasm under Node: MB/s of record in for
// `engine.redact` (pkg/node) over the corpus Synthea and GP Connect bundles,
// for a GP (1b) and an admin (5) viewer with full consent, against two
// floors measured in the same run: the floor, a plain serde_json
// parse-and-serialise of the same bytes in the same wasm module (taken and
// returned as redact takes and returns them), and the JS engine's own
// `JSON.parse` + `JSON.stringify` (native code, for reference).
//
//   node bench/node/throughput.mjs [--seconds 2] [--out bench/results/wasm-node.md]
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { benchRecords, machine, median, quantile, root } from "./lib.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(opt("--seconds", "2"));
const out = opt("--out", null);

const require = createRequire(import.meta.url);
const { Engine } = require(process.env.TIERGATE_PKG_NODE ?? join(root, "pkg", "node", "tiergate_wasm.js"));
const engine = new Engine();

// The same records, viewers and consent as bench/benches/redact.rs.
const records = benchRecords();
const viewer = (profile) => ({
  user_id: "bench", organisation: "RVY", profile, purpose: "direct-care", training: { expires: "2099-01-01" },
});
const consent = {
  directives: [{ id: "c", kind: "permit", recorded: "2026-01-01", actors: { organisations: ["RVY"] } }],
};
const now = "2026-11-25T12:00:00Z";

/** Median and p90 time per call (ms) after a warm-up of a third of the budget. */
function measure(fn) {
  const warmUntil = performance.now() + (seconds * 1000) / 3;
  while (performance.now() < warmUntil) fn();
  const times = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until || times.length < 5) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return { p50: median(times), p90: quantile(times, 0.9), n: times.length };
}

const decoder = new TextDecoder();
const rows = [];
for (const { name, bytes } of records) {
  const floor = measure(() => engine.__serdeRoundTrip(bytes));
  const js = measure(() => JSON.stringify(JSON.parse(decoder.decode(bytes))));
  const row = { name, size: bytes.length, floor, js };
  for (const profile of ["1b", "5"]) {
    const v = viewer(profile);
    let outcome;
    try {
      outcome = engine.redact(bytes, v, consent, now, "primary_care").outcome;
      row[profile] = measure(() => engine.redact(bytes, v, consent, now, "primary_care"));
      row[profile].outcome = outcome;
    } catch (e) {
      row[profile] = { error: `${e.name}: ${e.message}` };
    }
  }
  rows.push(row);
  console.error(`${name}: done`);
}

const mbps = (size, ms) => size / 1e6 / (ms / 1e3);
const fmtSize = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${Math.round(n / 1e3)} KB`);
const cell = (row, p) => {
  const r = row[p];
  if (!r || r.error) return "- | - | -";
  const m = mbps(row.size, r.p50);
  return `${m.toFixed(0)} | ${(m / mbps(row.size, row.floor.p50)).toFixed(2)} | ${(m / mbps(row.size, row.js.p50)).toFixed(2)}`;
};
const table = [
  "| record | size | serde floor MB/s | JS floor MB/s | redact GP (1b) MB/s | ratio | vs JS | redact admin (5) MB/s | ratio | vs JS |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${fmtSize(r.size)} | ${mbps(r.size, r.floor.p50).toFixed(0)} | ${mbps(r.size, r.js.p50).toFixed(0)} | ${cell(r, "1b")} | ${cell(r, "5")} |`,
  ),
];
const ratios = (p, floor) =>
  rows.filter((r) => r[p]?.p50).map((r) => mbps(r.size, r[p].p50) / mbps(r.size, r[floor].p50));
const side = (r) => (Math.max(...r) < 1 ? "slower than" : Math.min(...r) >= 1 ? "at or above" : "either side of");
const range = (r) => `${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}x`;
const summary = ["1b", "5"].map((p) => {
  const serde = ratios(p, "floor");
  const js = ratios(p, "js");
  return `Profile ${p}: redaction in wasm runs at ${range(serde)} the serde floor's throughput (${side(serde)} the floor), and ${range(js)} the JS floor's (${side(js)} it).`;
});
const errors = rows.flatMap((r) => ["1b", "5"].filter((p) => r[p]?.error).map((p) => `${r.name} (${p}): ${r[p].error}`));
console.log([...table, "", ...summary, ...errors].join("\n"));

if (out) {
  writeFileSync(
    out,
    [
      "# Redaction throughput in wasm under Node (generated)",
      "",
      "Written by `node bench/node/throughput.mjs --out ...` (`make bench`); do not edit by hand.",
      "",
      machine(),
      "",
      `\`engine.redact(bytes, viewer, consent, now, "primary_care")\` on \`pkg/node\` as \`make wasm\` builds it (size-tuned: \`opt-level = "z"\`, \`wasm-opt -Oz\`), record passed as a \`Uint8Array\`, body returned as a string; full consent for RVY, as the native benchmark. Floors, in the same run: **serde floor**, \`engine.__serdeRoundTrip(bytes)\`, a plain \`serde_json\` parse into \`serde_json::Value\` and serialise in the same wasm module, taking and returning the record as \`redact\` does (the floor every DOM-based redactor pays); **JS floor**, \`JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)))\`, V8's native JSON, for reference. Median time per call over ${seconds} s after ${(seconds / 3).toFixed(1)} s of warm-up; MB/s is 10^6 bytes of record in per second. **ratio** = redaction MB/s ÷ serde floor MB/s, **vs JS** = redaction MB/s ÷ JS floor MB/s (above 1: faster than that floor).`,
      "",
      ...table,
      "",
      ...summary,
      ...(errors.length ? ["", "Errors:", ...errors.map((e) => `- ${e}`)] : []),
      "",
    ].join("\n"),
  );
  console.error(`wrote ${out}`);
}
