// Start-up of the engine in workerd (Miniflare, on this machine): for each
// run a fresh Miniflare (a fresh isolate, the .wasm compiled ahead of time as
// workerd does), then, timed from outside because a worker's clock stands
// still while it computes: the first request, which instantiates the module
// and builds `new Engine()` (bench/node/startup-worker.mjs), less the median
// of no-op requests; and N Engines compiled from the policy's text in one
// request (what a custom policy costs once warm).
//
//   node bench/node/startup-workerd.mjs [runs=7] [--append bench/results/startup.md]
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Miniflare } from "miniflare";

import { appendSection, benchWorker, median, msRow, root as repoRoot, timedFetch } from "./lib.mjs";

// TIERGATE_BENCH_ROOT: another checkout (with its own pkg/web and this worker) to compare against.
const root = process.env.TIERGATE_BENCH_ROOT ?? repoRoot;

const args = process.argv.slice(2);
const appendAt = args.indexOf("--append");
const append = appendAt >= 0 ? args[appendAt + 1] : null;
const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--append") ?? 7);
const N = 10;
const policyText = readFileSync(join(root, "crates", "core", "policy", "default.json"), "utf8");

const first = [];
const warm = [];
const noops = [];
for (let r = 0; r < runs; r += 1) {
  const mf = new Miniflare(benchWorker(root, "startup-worker.mjs"));
  try {
    await mf.ready;
    for (let i = 0; i < 3; i += 1) await timedFetch(mf, "/noop");
    const init = await timedFetch(mf, "/init");
    const base = [];
    for (let i = 0; i < 7; i += 1) base.push(await timedFetch(mf, "/noop"));
    const noop = median(base);
    noops.push(noop);
    first.push(init - noop);
    warm.push(((await timedFetch(mf, `/engine?n=${N}`, { init: { method: "POST", body: policyText } })) - noop) / N);
  } finally {
    await mf.dispose();
  }
}

const lines = [
  "| phase | median | min | p90 |",
  "| --- | ---: | ---: | ---: |",
  msRow("**first request: `initSync` + first `new Engine()`** (less a no-op request)", first),
  msRow(`\`new Engine(text)\` once warm: the default policy compiled from its text (${N} in one request)`, warm),
  msRow("a no-op request through Miniflare (subtracted above)", noops),
];
console.log(`workerd via Miniflare, ${runs} fresh instances`);
console.log(lines.join("\n"));
if (append) {
  appendSection(
    append,
    "workerd",
    `Miniflare (workerd) on this machine, \`pkg/web\` imported as a compiled module and instantiated with \`initSync\` (bench/node/startup-worker.mjs), ${runs} fresh instances. A worker's clock does not advance while it computes, so requests are timed from outside and a no-op request's time is subtracted. Module compilation happens when workerd loads the worker (as on the edge) and is not counted.`,
    lines,
  );
}
