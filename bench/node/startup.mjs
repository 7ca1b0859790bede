// Start-up of the engine in Node: each run is a fresh `node` process that
// loads pkg/node (compiles and instantiates the wasm module) and builds
// `new Engine()` with the default policy (compiled at build time in the
// shipped build; parsed, validated and compiled on first use in the build
// before pre-initialisation, target/preinit/node), redacts one record, then
// compiles the same policy from its text (what a custom policy costs, and
// in the shipped build the first call that loads the cold module of
// scripts/split.mjs), cold and once warm.
//
//   node bench/node/startup.mjs [runs=21] [--out bench/results/startup.md]
//
// Prints the median and spread of each phase; with --out, writes them as a
// markdown table (appended to by bench/node/startup-workerd.mjs when run).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { machine, median, msRow, root, runNodeScript } from "./lib.mjs";

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const out = outAt >= 0 ? args[outAt + 1] : null;
const runs = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--out") ?? 21);

// The first request: a record with a resource the viewer may see.
const firstVector = JSON.parse(readFileSync(join(root, "tests", "vectors", "single-resource-allowed.json"), "utf8"));

const child = (glue) => `
const { performance } = require("node:perf_hooks");
const t0 = performance.now();
const m = require(${JSON.stringify(glue)});
const t1 = performance.now();
const e = new m.Engine();
const t2 = performance.now();
const hash = e.policyHash();
const v = ${JSON.stringify(firstVector)};
const record = require("node:fs").readFileSync(${JSON.stringify(join(root, "tests", "vectors"))} + "/" + v.record);
const t2b = performance.now();
const firstRedact = e.redact(record, v.viewer, v.consent, v.now, v.setting);
const t3 = performance.now();
if (firstRedact.body !== v.expected.body) throw new Error("the first redaction differs from its vector");
const text = require("node:fs").readFileSync(${JSON.stringify(join(root, "crates", "core", "policy", "default.json"))});
const t3b = performance.now();
new m.Engine(text).free();
const t4 = performance.now();
const times = [];
for (let i = 0; i < 10; i++) { const s = performance.now(); new m.Engine(text).free(); times.push(performance.now() - s); }
times.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ load: t1 - t0, first: t2 - t1, redact: t3 - t2b, second: t4 - t3b, warm: times[5], policy: hash }));
`;

// V8 decoding and validating the module's bytes, alone in a fresh process.
// The time is taken before `process.stdout` is touched: its first use sets
// up the stream (about 3 ms), which must not be counted.
const compileOnly = (glue) => `
const { performance } = require("node:perf_hooks");
const bytes = require("node:fs").readFileSync(${JSON.stringify(glue.replace(/\.js$/, "_bg.wasm"))});
const t0 = performance.now();
new WebAssembly.Module(bytes);
const compile = performance.now() - t0;
process.stdout.write(JSON.stringify({ compile }));
`;

function measure(glue) {
  const samples = [];
  for (let i = 0; i < runs; i += 1) {
    const s = runNodeScript(child(glue));
    Object.assign(s, runNodeScript(compileOnly(glue)));
    s["load+first"] = s.load + s.first;
    samples.push(s);
  }
  const compile = median(samples.map((s) => s.compile));
  for (const s of samples) s.rest = s["load+first"] - compile;
  return samples;
}

const phases = [
  ["load", "load and instantiate (require)"],
  ["first", "first `new Engine()` (default policy)"],
  ["load+first", "**start-up: load + first `new Engine()`**"],
  ["compile", "of which V8 compiling the module from its bytes (`new WebAssembly.Module`, timed alone in another process)"],
  ["rest", "the rest: reading, instantiating, JS glue, first Engine (start-up less the median compile)"],
  ["redact", "then the first `redact` (a one-resource record)"],
  ["second", "then `new Engine(text)`: the same policy compiled from its text (in the split build, the first call that loads the cold module)"],
  ["warm", "`new Engine(text)` once warm (median of 10 more)"],
];

function table(samples) {
  return [
    `| phase | median | min | p90 |`,
    `| --- | ---: | ---: | ---: |`,
    ...phases.map(([key, label]) => msRow(label, samples.map((s) => s[key]))),
  ];
}

const shipped = process.env.TIERGATE_PKG_NODE ?? join(root, "pkg", "node", "tiergate_wasm.js");
const plain = join(root, "target", "preinit", "node", "tiergate_wasm.js");
const samples = measure(shipped);
const lines = table(samples);
const plainLines = existsSync(plain) ? table(measure(plain)) : null;

console.log(`Node ${process.version}, ${runs} fresh processes, policy ${samples[0].policy}`);
console.log(lines.join("\n"));
if (plainLines) console.log(`\nbefore pre-initialisation (${plain})\n${plainLines.join("\n")}`);

if (out) {
  const md = [
    "# Start-up in Node and workerd (generated)",
    "",
    "Written by `node bench/node/startup.mjs --out ...` (`make bench`); do not edit by hand.",
    "",
    machine(),
    "",
    `Node ${process.version}, \`pkg/node\` as built by \`make wasm\`: its default policy was compiled at build time (\`scripts/preinit.mjs\` ships a scratch instance's memory as the module's initial memory), and the functions serving records never runs were moved to a second module loaded on first use, with the imports of the first module funnelled into one (\`scripts/split.mjs\`); its JavaScript glue is compiled with V8's code cache made at build time (\`scripts/codecache.mjs\`). ${samples.length} fresh processes; each loads the module, builds one Engine with the default policy, then more in the same process. Goal: load + first Engine under 5 ms.`,
    "",
    ...lines,
    "",
    ...(plainLines
      ? [
          "The same module before pre-initialisation and splitting (`target/preinit/node/`), which compiles the default policy on the first `new Engine()` and shares it with later ones:",
          "",
          ...plainLines,
          "",
        ]
      : []),
  ].join("\n");
  writeFileSync(out, md);
  console.error(`wrote ${out}`);
}
