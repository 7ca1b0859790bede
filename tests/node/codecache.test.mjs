// pkg/node's entry loads the wasm-bindgen glue with V8's code cache
// (scripts/codecache.mjs): a fresh process accepts the shipped cache, and a
// damaged or missing cache only costs time, never an answer.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import { root } from "./lib/vectors.mjs";

const dir = mkdtempSync(join(tmpdir(), "tiergate-codecache-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const vector = JSON.parse(readFileSync(join(root, "tests", "vectors", "single-resource-allowed.json"), "utf8"));
const record = join(root, "tests", "vectors", vector.record);

/** In a fresh process: whether V8 took the cache, and a redaction. */
function load(pkg) {
  const script = `
    const vm = require("vm");
    const scripts = [];
    vm.Script = class extends vm.Script { constructor(...a) { super(...a); scripts.push(this); } };
    const { Engine } = require(${JSON.stringify(join(pkg, "tiergate_wasm.js"))});
    const v = ${JSON.stringify(vector)};
    const out = new Engine().redact(require("fs").readFileSync(${JSON.stringify(record)}), v.viewer, v.consent, v.now, v.setting);
    process.stdout.write(JSON.stringify({ compiled: scripts.length, rejected: scripts.map((s) => s.cachedDataRejected ?? "no cache offered"), body: out.body }));
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The cache file of a pkg/node directory (named by the glue's hash). */
function cacheIn(pkg) {
  const found = readdirSync(pkg).filter((f) => /^tiergate_wasm_glue\.[0-9a-f]{16}\.cache$/.test(f));
  assert.equal(found.length, 1, `one code cache in ${pkg}`);
  return join(pkg, found[0]);
}

function copy(name) {
  const to = join(dir, name);
  cpSync(join(root, "pkg", "node"), to, { recursive: true });
  return to;
}

describe("pkg/node's code cache", () => {
  test("a fresh process compiles the glue from the shipped cache, named by the glue's hash", () => {
    const pkg = join(root, "pkg", "node");
    const glue = readFileSync(cacheIn(pkg).replace(/\.cache$/, ".js"), "utf8");
    const hash = createHash("sha256").update(glue).digest("hex").slice(0, 16);
    assert.ok(cacheIn(pkg).endsWith(`.${hash}.cache`), "the cache is named by the glue it was made for");
    const out = load(pkg);
    assert.equal(out.compiled, 1, "the loader compiles the glue once");
    assert.deepEqual(out.rejected, [false]);
    assert.equal(out.body, vector.expected.body);
  });

  test("a cache V8 does not recognise (its header changed) is refused, and the glue compiles from source", () => {
    const pkg = copy("damaged");
    const cache = cacheIn(pkg);
    const bytes = readFileSync(cache);
    bytes.fill(0x5a, 16);
    writeFileSync(cache, bytes);
    const out = load(pkg);
    assert.deepEqual(out.rejected, [true]);
    assert.equal(out.body, vector.expected.body);
  });

  test("without a cache the glue compiles from source", () => {
    const pkg = copy("missing");
    rmSync(cacheIn(pkg));
    const out = load(pkg);
    assert.deepEqual(out.rejected, ["no cache offered"]);
    assert.equal(out.body, vector.expected.body);
  });

  test("ES modules still import the glue's exports by name", async () => {
    const { Engine, tiergate_preinit } = await import(join(root, "pkg", "node", "tiergate_wasm.js"));
    assert.equal(typeof Engine, "function");
    assert.equal(typeof tiergate_preinit, "function");
    assert.match(new Engine().policyHash(), /^sha256:[0-9a-f]{64}$/);
  });
});
