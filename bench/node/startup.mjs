// Start-up of the engine in Node: each run is a fresh `node` process that
// loads pkg/node (compiles and instantiates the wasm module) and builds
// `new Engine()` (the default policy: parse, hash, validate, compile the
// code sets and automata), then a second Engine in the same process (the
// steady-state cost once V8 has compiled the code that runs).
//
//   node bench/node/startup.mjs [runs=21] [--out bench/results/startup.md]
//
// Prints the median and spread of each phase; with --out, writes them as a
// markdown table (appended to by bench/node/startup-workerd.mjs when run).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { machine, median, quantile, root } from "./lib.mjs";

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const out = outAt >= 0 ? args[outAt + 1] : null;
const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--out") ?? 21);

const child = `
const { performance } = require("node:perf_hooks");
const t0 = performance.now();
const m = require(${JSON.stringify(process.env.TIERGATE_PKG_NODE ?? join(root, "pkg", "node", "tiergate_wasm.js"))});
const t1 = performance.now();
const e = new m.Engine();
const t2 = performance.now();
const hash = e.policyHash();
const t3 = performance.now();
const e2 = new m.Engine();
const t4 = performance.now();
const times = [];
for (let i = 0; i < 10; i++) { const s = performance.now(); new m.Engine().free(); times.push(performance.now() - s); }
times.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ load: t1 - t0, first: t2 - t1, hash: t3 - t2, second: t4 - t3, warm: times[5], policy: hash }));
`;

const samples = [];
for (let i = 0; i < runs; i += 1) {
  samples.push(JSON.parse(execFileSync(process.execPath, ["-e", child], { encoding: "utf8" })));
}

const phases = [
  ["load", "load and instantiate `pkg/node` (require)"],
  ["first", "first `new Engine()` (default policy compiled)"],
  ["load+first", "**start-up: load + first `new Engine()`**"],
  ["second", "second `new Engine()`, same process"],
  ["warm", "`new Engine()` once warm (median of 10 more)"],
];
for (const s of samples) s["load+first"] = s.load + s.first;
const rows = phases.map(([key, label]) => {
  const v = samples.map((s) => s[key]);
  return { key, label, p50: median(v), min: Math.min(...v), p90: quantile(v, 0.9) };
});

const lines = [
  `| phase | median | min | p90 |`,
  `| --- | ---: | ---: | ---: |`,
  ...rows.map((r) => `| ${r.label} | ${r.p50.toFixed(1)} ms | ${r.min.toFixed(1)} ms | ${r.p90.toFixed(1)} ms |`),
];
console.log(`Node ${process.version}, ${runs} fresh processes, policy ${samples[0].policy}`);
console.log(lines.join("\n"));

if (out) {
  const md = [
    "# Start-up in Node and workerd (generated)",
    "",
    "Written by `node bench/node/startup.mjs --out ...` (`make bench`); do not edit by hand.",
    "",
    machine(),
    "",
    `Node ${process.version}, \`pkg/node\` as built by \`make wasm\` (${samples.length} fresh processes; each loads the module, builds one Engine with the default policy, then more in the same process). Goal: load + first Engine under 5 ms.`,
    "",
    ...lines,
    "",
  ].join("\n");
  writeFileSync(out, md);
  console.error(`wrote ${out}`);
}
