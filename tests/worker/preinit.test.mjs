// Build-time pre-initialisation (scripts/preinit.mjs): the shipped
// worker starts with its state built, and the rewriter keeps exactly what
// the scratch instance built, zeroes dead stack only, refuses a module
// whose set-up reaches for JavaScript or would build again, and leaves a
// pre-initialised module alone.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

import { Miniflare } from "miniflare";

import { scratchWorkerd } from "../../scripts/scratch.mjs";
import { nameBytes, sections, sleb, uleb, vec, section as wasmSection } from "../../scripts/wasm-bytes.mjs";
import { root } from "./lib.mjs";

const script = join(root, "scripts", "preinit.mjs");
const dir = mkdtempSync(join(tmpdir(), "tiergate-preinit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const str = nameBytes;
const section = (id, items) => [...wasmSection(id, vec(items))];

// A module shaped like the worker's: one memory (one page) with a data
// segment, a mutable i32 global, an import, and `tiergate_preinit`, whose
// body is `setup` followed by `i32.const 1`.
function module(setup) {
  const body = [0, ...setup, 0x41, 1, 0x0b];
  return Buffer.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [[0x60, 0, 1, 0x7f], [0x60, 0, 0]]),
    ...section(2, [[...str("env"), ...str("poke"), 0, 1]]),
    ...section(3, [[0]]),
    ...section(5, [[0, 1]]),
    ...section(6, [[0x7f, 1, 0x41, ...sleb(1024), 0x0b]]),
    ...section(7, [
      [...str("memory"), 2, 0],
      [...str("tiergate_preinit"), 0, 1],
      [...str("g"), 3, 0],
    ]),
    ...section(10, [[...uleb(body.length), ...body]]),
    ...section(11, [[0, 0x41, ...sleb(2000), 0x0b, ...str("tg")]]),
  ]);
}

// Set-up pieces. Real set-ups are idempotent (a `OnceLock`): the guard
// runs its body only while memory is one page.
const GUARD = (body) => [0x3f, 0, 0x41, 1, 0x46, 0x04, 0x40, ...body, 0x0b];
const GROW_AND_WRITE = [0x41, 1, 0x40, 0, 0x1a, 0x41, ...sleb(70000), 0x41, 42, 0x3a, 0, 0];
const SET_GLOBAL = [0x41, ...sleb(2048), 0x24, 0];
const SCRIBBLE_ON_STACK = [0x41, ...sleb(100), 0x41, 7, 0x3a, 0, 0];
// Grows memory to two pages, writes 42 at 70000 and sets the global to 2048.
const BUILDS_STATE = GUARD([...GROW_AND_WRITE, ...SET_GLOBAL]);

function preinit(bytes, name) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const r = spawnSync(process.execPath, [script, path], { encoding: "utf8" });
  return { ...r, path, after: readFileSync(path) };
}

// Names of a module's custom sections (Node 20 cannot compile the worker's
// module, which uses newer exception handling, so this reads the bytes).
const customSections = (bytes) =>
  sections(bytes)
    .filter((s) => s.id === 0)
    .map((s) => s.name);

// How many bytes differ between two memories of equal length.
function differing(a, b) {
  assert.equal(a.length, b.length, "the set-up grew memory");
  let n = 0;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) n += 1;
  return n;
}

test("the shipped worker starts with its state built: its set-up finds nothing to do", async () => {
  const bytes = readFileSync(join(root, "worker", "build", "index_bg.wasm"));
  assert.ok(customSections(bytes).includes("tiergate.preinit"), "make worker ships the pre-initialised module");
  const mf = new Miniflare(scratchWorkerd(bytes));
  try {
    const fresh = Buffer.from(await (await mf.dispatchFetch("http://scratch.test/fresh")).arrayBuffer());
    const res = await mf.dispatchFetch("http://scratch.test/run");
    const run = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, run.toString());
    // Only a few stack frames change; building the policy and the demo
    // would write hundreds of kilobytes and grow memory.
    assert.ok(differing(fresh, run) < 4096);
  } finally {
    await mf.dispose();
  }
});

test("a fresh instance starts with the memory and globals the build-time call left", () => {
  const r = preinit(module(BUILDS_STATE), "good.wasm");
  assert.equal(r.status, 0, r.stderr);
  const m = new WebAssembly.Module(r.after);
  assert.equal(WebAssembly.Module.customSections(m, "tiergate.preinit").length, 1);
  const instance = new WebAssembly.Instance(m, { env: { poke() {} } });
  const mem = new Uint8Array(instance.exports.memory.buffer);
  assert.equal(mem.length, 2 * 65536);
  assert.equal(mem[70000], 42);
  assert.equal(Buffer.from(mem.subarray(2000, 2002)).toString(), "tg");
  assert.equal(instance.exports.g.value, 2048);

  const twin = preinit(module(BUILDS_STATE), "twin.wasm");
  assert.deepEqual(twin.after, r.after, "the same module pre-initialises to the same bytes");

  const again = preinit(r.after, "good.wasm");
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already pre-initialised/);
  assert.deepEqual(again.after, r.after);
});

test("memory below an unchanged stack pointer is dead stack and does not ship", () => {
  const r = preinit(module([...SCRIBBLE_ON_STACK, ...GUARD(GROW_AND_WRITE)]), "stack.wasm");
  assert.equal(r.status, 0, r.stderr);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(r.after), { env: { poke() {} } });
  const mem = new Uint8Array(instance.exports.memory.buffer);
  assert.equal(mem[100], 0, "below the stack pointer: zeroed");
  assert.equal(mem[70000], 42);
  assert.equal(Buffer.from(mem.subarray(2000, 2002)).toString(), "tg");
  assert.equal(instance.exports.g.value, 1024);
});

test("a set-up that would build again on the rewritten module is refused", () => {
  const bytes = module(GROW_AND_WRITE);
  const r = preinit(bytes, "not-idempotent.wasm");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /state was not captured/);
  assert.deepEqual(r.after, bytes);
});

test("a module whose set-up calls an import is refused and left as it was", () => {
  const bytes = module([0x10, 0]);
  const r = preinit(bytes, "calls-js.wasm");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /called the import poke/);
  assert.deepEqual(r.after, bytes);
});
