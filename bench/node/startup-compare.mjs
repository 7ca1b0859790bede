// Compares the start-up of two builds of pkg/node, interleaved process by
// process so that load on a shared machine hits both alike:
//
//   node bench/node/startup-compare.mjs <a/tiergate_wasm.js> <b/tiergate_wasm.js> [runs=15]
//
// Prints, for each, the median of the first `new Engine()` in a fresh
// process and of a warm one (median of 10 more in the same process).
import { resolve } from "node:path";

import { median, runNodeScript } from "./lib.mjs";

const [a, b, n = "15"] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: node bench/node/startup-compare.mjs <a/tiergate_wasm.js> <b/tiergate_wasm.js> [runs]");
  process.exit(2);
}
const child = (pkg) => `
const { performance } = require("node:perf_hooks");
const m = require(${JSON.stringify(resolve(pkg))});
const t1 = performance.now(); new m.Engine(); const t2 = performance.now();
const times = [];
for (let i = 0; i < 10; i++) { const s = performance.now(); new m.Engine().free(); times.push(performance.now() - s); }
times.sort((x, y) => x - y);
process.stdout.write(JSON.stringify({ first: t2 - t1, warm: times[5] }));`;
const runs = { [a]: [], [b]: [] };
for (let i = 0; i < Number(n); i += 1) {
  for (const pkg of [a, b]) {
    runs[pkg].push(runNodeScript(child(pkg)));
  }
}
for (const pkg of [a, b]) {
  const r = runs[pkg];
  console.log(
    `${pkg}: first new Engine() ${median(r.map((x) => x.first)).toFixed(1)} ms, warm ${median(r.map((x) => x.warm)).toFixed(1)} ms (${r.length} processes)`,
  );
}
