// What scripts/split.mjs runs a build of pkg/node through.
//
// `hot` is what a process serving records does on every request: the
// default Engine, then redact, explain and classifyAll over every
// conformance vector (allowed, withheld and refused alike). The functions
// it runs stay in the primary module. `cold` is the rest of the API: a
// policy compiled from text, a policy refused, the patient portal's
// leaflets, reminders, calendar and plan.
//
//   node scripts/split-workload.cjs GLUE.js hot|all OUT.json
//
// Writes every call's result (or the error it threw) and how many times
// a `.cold.wasm` file was read, after the hot part and in all.
"use strict";

const fs = require("node:fs");
const { join, resolve } = require("node:path");

const root = resolve(__dirname, "..");
const NOW = "2026-11-25T12:00:00Z";

function outcome(call) {
  try {
    return { ok: call() };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e) };
  }
}

function vectors() {
  const dir = join(root, "tests", "vectors");
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => {
      const v = JSON.parse(fs.readFileSync(join(dir, f), "utf8"));
      return { v, record: fs.readFileSync(join(dir, v.record)) };
    });
}

function hot(m) {
  const results = [outcome(() => m.tiergate_preinit())];
  const engine = new m.Engine();
  results.push(outcome(() => engine.policyHash()));
  for (const { v, record } of vectors()) {
    results.push(outcome(() => engine.redact(record, v.viewer, v.consent, v.now, v.setting)));
    results.push(outcome(() => engine.explain(record, v.viewer, v.consent, v.now, v.setting)));
    results.push(outcome(() => engine.classifyAll(record, v.setting ?? undefined)));
  }
  return results;
}

function cold(m) {
  const policy = fs.readFileSync(join(root, "crates", "core", "policy", "default.json"));
  const engine = new m.Engine(policy);
  const results = [outcome(() => engine.policyHash())];
  results.push(outcome(() => new m.Engine('{"version": 1}').policyHash()));
  for (const call of ["policyInfo", "contentLines", "proxyScopes"]) results.push(outcome(() => engine[call]()));
  for (const { v, record } of vectors().slice(0, 8)) {
    results.push(outcome(() => engine.redact(record, v.viewer, v.consent, v.now, v.setting)));
    results.push(outcome(() => engine.leaflets(record)));
    results.push(outcome(() => engine.reminders(record, NOW)));
    results.push(outcome(() => engine.ics(record, NOW, "Appointments")));
  }
  const fields = { goals: [{ text: "Walk to the shop" }], preferences: ["Mornings"] };
  results.push(outcome(() => engine.planFromCarePlan(engine.planToCarePlan("p", fields, NOW))));
  results.push(outcome(() => engine.planFromCarePlan({ resourceType: "CarePlan" })));
  return results;
}

if (require.main === module) {
  const [glue, mode, out] = process.argv.slice(2);
  if (!glue || !["hot", "all"].includes(mode) || !out) {
    console.error("usage: node scripts/split-workload.cjs GLUE.js hot|all OUT.json");
    process.exit(2);
  }
  let coldReads = 0;
  const readFileSync = fs.readFileSync;
  fs.readFileSync = function (path, ...rest) {
    if (String(path).endsWith(".cold.wasm")) coldReads += 1;
    return readFileSync.call(this, path, ...rest);
  };
  const m = require(resolve(glue));
  const report = { hot: hot(m), coldReadsAfterHot: coldReads };
  if (mode === "all") report.cold = cold(m);
  report.coldReads = coldReads;
  report.hits = globalThis.__tiergateHits ? [...globalThis.__tiergateHits] : null;
  report.importHits = globalThis.__tiergateImportHits ? [...globalThis.__tiergateImportHits] : null;
  fs.writeFileSync(out, JSON.stringify(report));
}

module.exports = { hot, cold };
