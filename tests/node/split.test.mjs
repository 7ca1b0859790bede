// Splitting pkg/node's module (scripts/split.mjs, scripts/wasm-split.mjs):
// the rewrite keeps every call's meaning across the two modules, a fresh
// process serving records never loads the second module, everything else
// still works and loads it once, and without it the engine refuses rather
// than answering.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import { CALL, dispatcher, funnel, FUNCTION_TABLE, FUNCTIONS, instrument, MARK, mapBody, PRIMARY, PROFILE, RESULT, split, SPLIT } from "../../scripts/wasm-split.mjs";
import { root } from "./lib/vectors.mjs";

const dir = mkdtempSync(join(tmpdir(), "tiergate-split-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function assemble(wat) {
  const input = join(dir, "m.wat");
  const output = join(dir, "m.wasm");
  writeFileSync(input, wat);
  execFileSync(process.execPath, [
    join(root, "node_modules", "binaryen", "bin", "wasm-as"),
    "--enable-reference-types",
    "--enable-bulk-memory",
    input,
    "-o",
    output,
  ]);
  return readFileSync(output);
}

// Functions 1.. in order: $inc, $entry, $viaTable, $stackPointer, $work,
// $double, $load8 (the import `log` is function 0). $work and $double are
// the cold ones in most tests below; they and $entry are padded past the
// size of a stub. $work calls hot, cold and imported functions, reaches a function
// through the table by `ref.func`, and changes memory and the mutable
// global that hot code then reads.
const nops = "nop ".repeat(24);
const bytes = assemble(`
(module
  (type $ii (func (param i32) (result i32)))
  (import "env" "log" (func $log (param i32)))
  (memory (export "memory") 1)
  (global $sp (mut i32) (i32.const 1024))
  (table $t 3 3 funcref)
  (elem (i32.const 0) $double $inc)
  (func $inc (export "inc") (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $entry (export "entry") (type $ii) ${nops} (call $work (local.get 0)))
  (func $viaTable (export "viaTable") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
  (func $stackPointer (export "stackPointer") (result i32) (global.get $sp))
  (func $work (type $ii) (local $x i32)
    ${nops}
    (call $log (local.get 0))
    (local.set $x (call $double (call $inc (local.get 0))))
    (table.set $t (i32.const 2) (ref.func $double))
    (global.set $sp (i32.sub (global.get $sp) (i32.const 16)))
    (i32.store8 (i32.const 100) (local.get $x))
    (local.get $x))
  (func $double (type $ii)
    ${nops}
    (i32.mul (local.get 0) (i32.const 2)))
  (func $load8 (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
)`);
const INC = 1;
const ENTRY = 2;
const VIA_TABLE = 3;
const STACK_POINTER = 4;
const WORK = 5;
const DOUBLE = 6;
const LOAD8 = 7;

function plainInstance(logged) {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { log: (x) => logged.push(x) } }).exports;
}

// The two modules wired as the glue wires them; `loads` counts loads.
function splitInstance(parts, logged, { missing = false } = {}) {
  const state = { loads: 0, exports: null };
  const load = () => {
    state.loads += 1;
    if (missing) throw new Error("the cold module is missing");
    const table = state.exports[FUNCTION_TABLE];
    const functions = {};
    for (let i = 0; i < table.length; i += 1) functions[`f${i}`] = table.get(i);
    new WebAssembly.Instance(new WebAssembly.Module(parts.secondary), {
      env: { log: (x) => logged.push(x) },
      [PRIMARY]: state.exports,
      [FUNCTIONS]: functions,
    });
  };
  state.exports = new WebAssembly.Instance(new WebAssembly.Module(parts.primary), {
    env: { log: (x) => logged.push(x) },
    [SPLIT]: { load },
  }).exports;
  return state;
}

const hotSet = new Set([INC, ENTRY, VIA_TABLE, STACK_POINTER, LOAD8]);

describe("the split rewrite", () => {
  test("every call means what it meant: across modules, through the table, on shared memory and globals", () => {
    const parts = split(bytes, hotSet);
    assert.equal(parts.cold, 2);
    const logged = [];
    const plainLogged = [];
    const plain = plainInstance(plainLogged);
    const s = splitInstance(parts, logged);
    const w = s.exports;
    assert.equal(w.inc(4), plain.inc(4));
    assert.equal(s.loads, 0, "hot calls load nothing");
    const first = w.entry(5);
    assert.equal(first, plain.entry(5));
    assert.equal(first, 12);
    assert.equal(s.loads, 1);
    assert.deepEqual(logged, [5]);
    assert.deepEqual(plainLogged, [5]);
    assert.equal(w.stackPointer(), plain.stackPointer(), "cold code's global writes are the primary's");
    assert.equal(w.load8(100), plain.load8(100), "cold code's memory writes are the primary's");
    assert.equal(w.viaTable(0, 21), 42, "a table entry naming a cold function reaches it");
    assert.equal(w.viaTable(2, 8), plain.viaTable(2, 8), "ref.func in cold code names the same function");
    assert.equal(w.entry(1), plain.entry(1));
    assert.equal(s.loads, 1, "the cold module loads once");
  });

  test("an import only cold code calls moves to the cold module, and hot code still reaches it through a stub", () => {
    const parts = split(bytes, hotSet, new Set());
    assert.equal(parts.coldImports, 1);
    const primaryImports = WebAssembly.Module.imports(new WebAssembly.Module(parts.primary)).map((i) => `${i.module}.${i.name}`);
    assert.deepEqual(primaryImports, [`${SPLIT}.load`]);
    const logged = [];
    const s = splitInstance(parts, logged);
    assert.equal(s.exports.entry(5), 12);
    assert.deepEqual(logged, [5]);
    assert.equal(s.loads, 1);
  });

  test("cold functions nothing hot names get no stub: only the ones hot code, tables or exports name", () => {
    // $double is in the table and called by $work; $work is called by
    // $entry: both are named, so both get stubs. With $entry cold too,
    // $work is named only by cold code.
    const named = split(bytes, hotSet);
    assert.equal(named.stubs, 2);
    const fewer = split(bytes, new Set([INC, VIA_TABLE, STACK_POINTER, LOAD8]));
    assert.equal(fewer.cold, 3);
    assert.equal(fewer.stubs, 2, "$entry (exported) and $double (in the table); $work is named only by $entry");
    const s = splitInstance(fewer, []);
    assert.equal(s.exports.entry(5), 12);
    assert.equal(s.exports.viaTable(0, 4), 8);
    assert.equal(s.loads, 1);
  });

  test("a cold function reached first through the table loads the cold module", () => {
    const s = splitInstance(split(bytes, hotSet), []);
    assert.equal(s.exports.viaTable(0, 5), 10);
    assert.equal(s.loads, 1);
  });

  test("without the cold module, hot calls answer and cold ones throw", () => {
    const s = splitInstance(split(bytes, hotSet), [], { missing: true });
    assert.equal(s.exports.inc(1), 2);
    assert.throws(() => s.exports.entry(5), /cold module is missing/);
    assert.throws(() => s.exports.viaTable(0, 5), /cold module is missing/);
  });

  test("the primary is marked; a module with nothing cold is refused", () => {
    const parts = split(bytes, hotSet);
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(parts.primary), MARK).length, 1);
    const all = new Set([INC, ENTRY, VIA_TABLE, STACK_POINTER, WORK, DOUBLE, LOAD8]);
    assert.throws(() => split(bytes, all), /nothing to split/);
  });

  test("the instrumented module reports each function it enters, by its index in the original", () => {
    const hits = new Set();
    const m = new WebAssembly.Module(instrument(bytes));
    const w = new WebAssembly.Instance(m, { env: { log: () => {} }, [PROFILE]: { hit: (i) => hits.add(i) } }).exports;
    w.inc(1);
    assert.deepEqual([...hits], [INC]);
    w.entry(3);
    assert.deepEqual(
      [...hits].sort((a, b) => a - b),
      [INC, ENTRY, WORK, DOUBLE],
    );
  });

  test("instructions it does not know are refused, not copied blind", () => {
    // One body: no locals, then a SIMD instruction (0xfd prefix), then end.
    const body = Buffer.from([0x00, 0xfd, 0x0c, 0x0b]);
    assert.throws(() => mapBody(body, 0, body.length), /unsupported opcode 0xfd/);
  });
});

// Imports of five signatures, one of them also in a table, each called
// from an export that passes its arguments through.
const calls = assemble(`
(module
  (import "env" "len" (func $len (param externref) (result i32)))
  (import "env" "make" (func $make (param i32 i32) (result externref)))
  (import "env" "put" (func $put (param i32 externref)))
  (import "env" "now" (func $now (result f64)))
  (import "env" "mix" (func $mix (param externref i32 f64 externref) (result f64)))
  (memory 1)
  (table 1 1 funcref)
  (elem (i32.const 0) $put)
  (func (export "lenOfMade") (param i32 i32) (result i32) (call $len (call $make (local.get 0) (local.get 1))))
  (func (export "make") (param i32 i32) (result externref) (call $make (local.get 0) (local.get 1)))
  (func (export "put") (param i32 externref) (call $put (local.get 0) (local.get 1)))
  (func (export "now") (result f64) (call $now))
  (func (export "mix") (param externref i32 f64 externref) (result f64)
    (call $mix (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "viaTable") (param i32 externref)
    (call_indirect (param i32 externref) (local.get 0) (local.get 1) (i32.const 0)))
)`);

function envOf(log) {
  return {
    len: (x) => (log.push(["len", x]), x.length),
    make: (a, b) => (log.push(["make", a, b]), `${a}:${b}`),
    put: (a, x) => void log.push(["put", a, x]),
    now: () => (log.push(["now"]), 1.5),
    mix: (x, a, d, y) => (log.push(["mix", x, a, d, y]), a * d),
  };
}

/** The dispatcher built from its source, as the glue builds it. */
const dispatch = (ops) => (0, eval)(dispatcher(ops));

function exercise(e) {
  return [e.lenOfMade(12, 345), e.make(-7, 0), e.put(3, { k: 1 }), e.now(), e.mix("s", 4, 0.25, null), e.viaTable(9, "t")];
}

describe("funnelling imports", () => {
  test("one import carries every call, with the same arguments and results", () => {
    const { bytes: funnelled, ops } = funnel(calls);
    const module = new WebAssembly.Module(funnelled);
    assert.deepEqual(
      WebAssembly.Module.imports(module).map((i) => [i.module, i.name, i.kind]),
      [[SPLIT, CALL, "function"]],
    );
    const direct = [];
    const expected = exercise(new WebAssembly.Instance(new WebAssembly.Module(calls), { env: envOf(direct) }).exports);
    const through = [];
    let instance = null;
    const call = dispatch(ops)({ env: envOf(through) }, () => instance.exports);
    instance = new WebAssembly.Instance(module, { [SPLIT]: { [CALL]: call } });
    assert.deepEqual(exercise(instance.exports), expected);
    assert.deepEqual(through, direct);
    assert.equal(instance.exports[`${RESULT}externref`].value, null, "a returned reference is not kept alive");
  });

  test("globals, and imports that are not functions, keep their indices", () => {
    const wat = `
(module
  (import "env" "memory" (memory 1))
  (import "env" "base" (global $base i32))
  (import "env" "make" (func $make (param i32 i32) (result externref)))
  (import "env" "len" (func $len (param externref) (result i32)))
  (global $count (mut i32) (i32.const 40))
  (func (export "lenPlusBase") (param i32 i32) (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (i32.store (i32.const 8) (call $len (call $make (local.get 0) (local.get 1))))
    (i32.add (i32.add (i32.load (i32.const 8)) (global.get $base)) (global.get $count)))
)`;
    const original = assemble(wat);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const env = { memory, base: 1000, ...envOf([]) };
    const expected = new WebAssembly.Instance(new WebAssembly.Module(original), { env }).exports.lenPlusBase(12, 345);
    const { bytes: funnelled, ops } = funnel(original);
    let instance = null;
    const imports = { env: { memory, base: 1000, ...envOf([]) } };
    const call = dispatch(ops)(imports, () => instance.exports);
    instance = new WebAssembly.Instance(new WebAssembly.Module(funnelled), { ...imports, [SPLIT]: { [CALL]: call } });
    assert.equal(instance.exports.lenPlusBase(12, 345), expected);
    assert.equal(expected, 6 + 1000 + 41);
  });

  test("a start function that could take a result through a global is refused", () => {
    const started = assemble(`
(module
  (import "env" "make" (func $make (param i32 i32) (result externref)))
  (memory 1)
  (global $kept (mut externref) (ref.null extern))
  (func $start (global.set $kept (call $make (i32.const 1) (i32.const 2))))
  (start $start)
)`);
    assert.throws(() => funnel(started), /start function/);
  });

  test("an import that is not a function is refused when the dispatcher is built", () => {
    const { ops } = funnel(calls);
    const { len, ...rest } = envOf([]);
    assert.equal(typeof len, "function");
    assert.throws(() => dispatch(ops)({ env: rest }, () => null), /the import env\.len is not a function/);
  });

  test("a value type with no slot is refused", () => {
    const wide = assemble(`(module (import "env" "big" (func (param i64))) (memory 1))`);
    assert.throws(() => funnel(wide), /value type 0x7e, which cannot be funnelled/);
  });
});

describe("pkg/node as built", () => {
  const glue = join(root, "pkg", "node", "tiergate_wasm.js");
  const workload = join(root, "scripts", "split-workload.cjs");

  test("is split, and the unsplit build answers every call the same", () => {
    const wasm = readFileSync(join(root, "pkg", "node", "tiergate_wasm_bg.wasm"));
    const module = new WebAssembly.Module(wasm);
    assert.equal(WebAssembly.Module.customSections(module, MARK).length, 1);
    assert.deepEqual(
      WebAssembly.Module.imports(module).filter((i) => i.kind === "function").map((i) => `${i.module}.${i.name}`),
      [`${SPLIT}.${CALL}`],
      "the primary's imports come through one",
    );
    const out = (g, name) => {
      const file = join(dir, name);
      execFileSync(process.execPath, [workload, g, "all", file]);
      return JSON.parse(readFileSync(file, "utf8"));
    };
    const shipped = out(glue, "shipped.json");
    const unsplit = out(join(root, "target", "preinit", "node", "tiergate_wasm.js"), "unsplit.json");
    assert.equal(shipped.coldReadsAfterHot, 0, "serving records never loads the cold module");
    assert.equal(shipped.coldReads, 1, "everything else loads it once");
    assert.deepEqual(shipped.hot, unsplit.hot);
    assert.deepEqual(shipped.cold, unsplit.cold);
    assert.ok(shipped.hot.some((r) => r.ok?.body), "the hot calls include redactions that return records");
  });

  test("without its cold module, it redacts until a call needs that module, then refuses every call", () => {
    const copy = join(dir, "node-without-cold");
    cpSync(join(root, "pkg", "node"), copy, { recursive: true });
    rmSync(join(copy, "tiergate_wasm_bg.cold.wasm"));
    const vector = JSON.parse(readFileSync(join(root, "tests", "vectors", "single-resource-allowed.json"), "utf8"));
    const record = join(root, "tests", "vectors", vector.record);
    const script = `
      const fs = require("fs");
      const { Engine } = require(${JSON.stringify(join(copy, "tiergate_wasm.js"))});
      const v = ${JSON.stringify(vector)};
      const engine = new Engine();
      const redact = () => engine.redact(fs.readFileSync(${JSON.stringify(record)}), v.viewer, v.consent, v.now, v.setting);
      const message = (f) => { try { f(); return null; } catch (e) { return String(e && e.message); } };
      const body = redact().body;
      const refused = message(() => new Engine(fs.readFileSync(${JSON.stringify(join(root, "crates", "core", "policy", "default.json"))})));
      const after = message(redact);
      engine.free();
      process.stdout.write(JSON.stringify({ body, refused, after }));
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const { body, refused, after } = JSON.parse(r.stdout);
    assert.equal(body, vector.expected.body);
    assert.match(refused ?? "", /cannot load tiergate_wasm_bg\.cold\.wasm, so this engine is unusable/);
    assert.equal(after, refused, "a call after the failure is refused with the same error, not answered");
  });
});
