// Start-up of the edge worker's module in workerd (Miniflare): for each run
// a fresh Miniflare with the module compiled ahead of time, then, timed
// from outside (a worker's clock stands still while it computes), one
// request that instantiates the module and builds the isolate state (the
// policy and the demo, what the worker's first request needs), less the
// median of no-op requests. Two modules: the one `make worker` ships,
// whose state was built at build time (scripts/preinit.mjs), and
// the same module before that step, which builds it at run time.
//
//   node bench/node/startup-edge.mjs [runs=7] [--append bench/results/startup.md]
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { Miniflare } from "miniflare";

import { scratchWorkerd } from "../../scripts/scratch.mjs";
import { appendSection, median, msRow, root, timedFetch } from "./lib.mjs";

const args = process.argv.slice(2);
const appendAt = args.indexOf("--append");
const append = appendAt >= 0 ? args[appendAt + 1] : null;
const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--append") ?? 7);

const shipped = join(root, "worker", "build", "index_bg.wasm");
const plain = join(root, "worker", "target", "preinit", "index_bg.plain.wasm");
for (const p of [shipped, plain]) {
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`make worker\``);
}

async function measure(wasm) {
  const starts = [];
  const noops = [];
  for (let r = 0; r < runs; r += 1) {
    const mf = new Miniflare(scratchWorkerd(wasm));
    try {
      await mf.ready;
      for (let i = 0; i < 3; i += 1) await timedFetch(mf, "/noop", { want: "noop" });
      const start = await timedFetch(mf, "/run?dump=0", { want: "built" });
      const base = [];
      for (let i = 0; i < 7; i += 1) base.push(await timedFetch(mf, "/noop", { want: "noop" }));
      const noop = median(base);
      noops.push(noop);
      starts.push(start - noop);
    } finally {
      await mf.dispose();
    }
  }
  return { starts, noops };
}

const a = await measure(readFileSync(shipped));
const b = await measure(readFileSync(plain));
const lines = [
  "| edge worker module | median | min | p90 |",
  "| --- | ---: | ---: | ---: |",
  msRow("**as shipped (state built at build time): instantiate + state**", a.starts),
  msRow("before pre-initialisation: instantiate + build the state", b.starts),
  msRow("a no-op request through Miniflare (subtracted above)", [...a.noops, ...b.noops]),
];
console.log(`edge worker module in workerd via Miniflare, ${runs} fresh instances each`);
console.log(lines.join("\n"));
if (append) {
  appendSection(
    append,
    "Edge worker (workerd)",
    `The edge worker's own module (\`worker/build/index_bg.wasm\`, speed-tuned), in Miniflare, ${runs} fresh instances for each of two builds: as \`make worker\` ships it, with the policy and the demo compiled at build time (\`scripts/preinit.mjs\` ships a scratch instance's memory as the module's initial memory), and the same module before that step. One request instantiates the module (imports that throw) and asks for the isolate state, which the second build must compile; timed from outside, less a no-op request. Goal: under 5 ms.`,
    lines,
  );
}
