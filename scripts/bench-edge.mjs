#!/usr/bin/env node
// Edge load benchmark: the built worker under `wrangler dev` on 127.0.0.1,
// redacting, against the same worker in pass-through mode (checked and
// audited, not redacted; honoured only with the demo on), over the same
// origin on 127.0.0.1 serving Synthea bundles of about 430, 480 and 680 KB
// (the goal is stated at 500 KB). Both workers run side by side and take
// turns in blocks of requests (A B B A, repeated), so a change in the
// machine's load during the run falls on both alike; a mode's throughput
// is its requests over the time its own blocks took.
// Bounded: REQUESTS per mode and record, in blocks of BLOCK, CONCURRENCY
// in flight, a deadline per block.
// Writes bench/results/edge.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";

import { root } from "../tests/worker/lib.mjs";
import { startWranglerDev } from "../tests/worker/wrangler.mjs";

const REQUESTS = Number(process.env.EDGE_REQUESTS ?? 480);
const BLOCK = 40;
const CONCURRENCY = Number(process.env.EDGE_CONCURRENCY ?? 8);
const DEADLINE_MS = 60_000;
const BUNDLES = [
  "Ellis535_Will178_5075a165-7c21-fb9c-d7d9-16ff846ab38d.json",
  "Laura391_Anaya940_2dcc3717-38e0-b2e0-f09b-6d9310c74d3a.json",
  "Cornell131_Frami345_67f75bc6-55d9-42fe-e85c-d1241bb212c4.json",
];
const MODES = ["redacting", "pass-through"];

const records = BUNDLES.map((file) => {
  const text = readFileSync(join(root, "tests", "corpus", "synthea", file), "utf8");
  const bundle = JSON.parse(text);
  const patient = bundle.entry.find((e) => e.resource.resourceType === "Patient").resource.id;
  return { file, text, patient, bytes: Buffer.byteLength(text) };
});

function startOrigin() {
  const server = createServer((req, res) => {
    const m = /^\/Patient\/([^/]+)\/\$everything/.exec(req.url);
    const r = m && records.find((x) => x.patient === m[1]);
    if (!r) {
      res.writeHead(404, { "content-type": "application/fhir+json" });
      return res.end('{"resourceType":"OperationOutcome"}');
    }
    res.writeHead(200, { "content-type": "application/fhir+json", "content-length": r.bytes });
    res.end(r.text);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

// One block: `count` requests, CONCURRENCY in flight.
async function block(url, token, patient, count) {
  const latencies = [];
  let next = 0;
  let failures = 0;
  let bytesOut = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count && performance.now() - started < DEADLINE_MS) {
      next += 1;
      const t0 = performance.now();
      const res = await fetch(`${url}/fhir/Patient/${patient}/$everything`, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.arrayBuffer();
      latencies.push(performance.now() - t0);
      if (res.status !== 200) failures += 1;
      bytesOut += body.byteLength;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { latencies, failures, bytesOut, wall: performance.now() - started };
}

function summary(blocks) {
  const latencies = blocks.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const wall = blocks.reduce((sum, b) => sum + b.wall, 0);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    n: latencies.length,
    failures: blocks.reduce((sum, b) => sum + b.failures, 0),
    rps: latencies.length / (wall / 1000),
    p50: q(0.5),
    p99: q(0.99),
    bytesOut: blocks.reduce((sum, b) => sum + b.bytesOut, 0) / latencies.length,
  };
}

async function setUp(dir, vars, origin, name) {
  const dev = await startWranglerDev(dir, { DEMO: "on", ORIGIN_URL: origin, ORIGIN_SETTING: "primary_care", ORIGIN_TIMEOUT_MS: "20000", ...vars }, { name });
  const t = await fetch(`${dev.url}/demo/token`, { method: "POST", body: JSON.stringify({ user: "gp-1b" }) });
  const { token } = await t.json();
  for (const r of records) {
    // The GP's organisation records the patient's consent, so the whole
    // record is decided and most of it released.
    const c = await fetch(`${dev.url}/consent/Patient/${r.patient}`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{}" });
    if (c.status !== 201) throw new Error(`consent: ${c.status}`);
  }
  return { dev, token };
}

const origin = await startOrigin();
const originUrl = `http://127.0.0.1:${origin.address().port}`;
const workers = {};
const dirs = [];
const rows = [];
try {
  for (const mode of MODES) {
    const dir = mkdtempSync(join(tmpdir(), "tiergate-bench-edge-"));
    dirs.push(dir);
    workers[mode] = await setUp(dir, { PASS_THROUGH: mode === "pass-through" ? "on" : "off" }, originUrl, `tiergate-bench-${mode}`);
  }
  // Warm-up: every record through both workers twice, so the isolates
  // have compiled and tiered up before anything is measured.
  for (let i = 0; i < 2; i += 1) {
    for (const r of records) {
      for (const mode of MODES) await block(workers[mode].dev.url, workers[mode].token, r.patient, BLOCK);
    }
  }
  for (const r of records) {
    const blocks = Object.fromEntries(MODES.map((m) => [m, []]));
    for (const mode of MODES) {
      await block(workers[mode].dev.url, workers[mode].token, r.patient, BLOCK); // warm the isolate
    }
    for (let i = 0; i < REQUESTS / BLOCK; i += 1) {
      const order = i % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        blocks[mode].push(await block(workers[mode].dev.url, workers[mode].token, r.patient, BLOCK));
      }
    }
    for (const mode of MODES) {
      const m = summary(blocks[mode]);
      if (m.failures) throw new Error(`${mode} ${r.file}: ${m.failures} failures`);
      rows.push({ mode, record: r, ...m });
      console.log(`${mode.padEnd(12)} ${(r.bytes / 1024).toFixed(0).padStart(4)} KB  ${m.rps.toFixed(1)} req/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms`);
    }
  }
} finally {
  for (const w of Object.values(workers)) await w.dev.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  origin.close();
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
const lines = [
  "# Edge: redacting vs pass-through",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} by \`node scripts/bench-edge.mjs\` on ${cpu}, ${cpus().length} cores (shared with other work), Node ${process.versions.node}.`,
  `The built worker under \`wrangler dev\` on 127.0.0.1 (local D1: every request writes its audit row), ${REQUESTS} requests per mode and record, ${CONCURRENCY} in flight, after every record has been through both workers twice and a warm-up block; the origin on 127.0.0.1 serves one Synthea bundle; the viewer is a GP (profile 1b) whose organisation has the patient's consent. Pass-through mode checks, parses and audits the origin's answer but does not redact (a benchmark baseline, honoured only with the demo on). The two workers (a \`wrangler dev\` each) ran side by side and took turns in blocks of ${BLOCK} requests, A B B A and so on, so a change in the machine's load falls on both; a mode's req/s is its requests over the time its own blocks took.`,
  "",
  "| record | mode | req/s | p50 ms | p99 ms | bytes out |",
  "| --- | --- | ---: | ---: | ---: | ---: |",
];
for (const r of rows) {
  lines.push(`| ${(r.record.bytes / 1024).toFixed(0)} KB | ${r.mode} | ${r.rps.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${Math.round(r.bytesOut)} |`);
}
lines.push("");
const meanRps = (mode, r) => rows.find((x) => x.mode === mode && x.record === r).rps;
for (const r of records) {
  const red = meanRps("redacting", r);
  const pass = meanRps("pass-through", r);
  const cost = 1 - red / pass;
  lines.push(`${(r.bytes / 1024).toFixed(0)} KB: redaction costs ${(cost * 100).toFixed(0)}% of pass-through throughput (${red.toFixed(1)} against ${pass.toFixed(1)} req/s; goal: under 25% at 500 KB).`);
  lines.push("");
}
writeFileSync(join(root, "bench", "results", "edge.md"), lines.join("\n"));
console.log(lines.slice(-2 * records.length).join("\n"));
