// Redaction throughput in wasm under workerd (Miniflare, on this machine):
// the same records, viewers and consent as bench/node/throughput.mjs, with
// `pkg/web` in one isolate (bench/node/throughput-worker.mjs). A worker's
// clock stands still while it computes, so each request (n calls on a
// record already in the isolate) is timed from outside, less the median of
// no-op requests, and divided by n; the median of ROUNDS such requests.
//
//   node bench/node/throughput-workerd.mjs [--out bench/results/wasm-workerd.md]
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

import { Miniflare } from "miniflare";

import { benchRecords, benchWorker, machine, median, root } from "./lib.mjs";

const args = process.argv.slice(2);
const out = args.includes("--out") ? args[args.indexOf("--out") + 1] : null;
const ROUNDS = 5;
// Calls per timed request: about this many bytes of record each time.
const BYTES_PER_REQUEST = 8e6;

const records = benchRecords();

const mf = new Miniflare(benchWorker(root, "throughput-worker.mjs"));

async function timed(path, init) {
  const t = performance.now();
  const res = await mf.dispatchFetch(`http://bench.test${path}`, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return { ms: performance.now() - t, text };
}

const rows = [];
try {
  await mf.ready;
  for (let i = 0; i < 5; i += 1) await timed("/noop");
  const noops = [];
  for (let i = 0; i < 15; i += 1) noops.push((await timed("/noop")).ms);
  const noop = median(noops);
  for (const { name, bytes } of records) {
    const q = `name=${encodeURIComponent(name)}`;
    await timed(`/load?${q}`, { method: "POST", body: bytes });
    const n = Math.max(1, Math.round(BYTES_PER_REQUEST / bytes.length));
    const perCall = async (path) => {
      await timed(`${path}&n=1`); // warm
      const times = [];
      for (let r = 0; r < ROUNDS; r += 1) times.push(((await timed(`${path}&n=${n}`)).ms - noop) / n);
      return median(times);
    };
    const row = { name, size: bytes.length, floor: await perCall(`/floor?${q}`) };
    for (const profile of ["1b", "5"]) row[profile] = await perCall(`/redact?${q}&profile=${profile}`);
    rows.push(row);
    console.error(`${name}: done`);
  }
} finally {
  await mf.dispose();
}

const mbps = (size, ms) => size / 1e6 / (ms / 1e3);
const fmtSize = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${Math.round(n / 1e3)} KB`);
const cell = (row, p) => {
  const m = mbps(row.size, row[p]);
  return `${m.toFixed(0)} | ${(m / mbps(row.size, row.floor)).toFixed(2)}`;
};
const table = [
  "| record | size | serde floor MB/s | redact GP (1b) MB/s | ratio | redact admin (5) MB/s | ratio |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((r) => `| ${r.name} | ${fmtSize(r.size)} | ${mbps(r.size, r.floor).toFixed(0)} | ${cell(r, "1b")} | ${cell(r, "5")} |`),
];
const summary = ["1b", "5"].map((p) => {
  const r = rows.map((row) => row.floor / row[p]);
  const side = Math.max(...r) < 1 ? "slower than" : Math.min(...r) >= 1 ? "at or above" : "either side of";
  return `Profile ${p}: redaction in wasm under workerd runs at ${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}x the serde floor's throughput (${side} the floor).`;
});
console.log([...table, "", ...summary].join("\n"));
if (out) {
  writeFileSync(
    out,
    [
      "# Redaction throughput in wasm under workerd (generated)",
      "",
      "Written by `node bench/node/throughput-workerd.mjs --out ...` (`make bench`); do not edit by hand.",
      "",
      machine(),
      "",
      `Miniflare (workerd) with \`pkg/web\` as \`make wasm\` builds it (size-tuned) in one isolate (bench/node/throughput-worker.mjs), the record already in the isolate as a \`Uint8Array\`; the same viewers and consent as the Node benchmark. Each timed request makes n calls (about ${BYTES_PER_REQUEST / 1e6} MB of record) and is timed from outside less the median no-op request, since a worker's clock stands still while it computes; the figure is the median of ${ROUNDS} requests. **serde floor**: \`engine.__serdeRoundTrip(bytes)\`, a plain \`serde_json\` parse-and-serialise in the same module. **ratio** = redaction MB/s ÷ floor MB/s (above 1: faster than the floor).`,
      "",
      ...table,
      "",
      ...summary,
      "",
    ].join("\n"),
  );
  console.error(`wrote ${out}`);
}
