#!/usr/bin/env node
// Pre-initialises a built module: the policy (and, in the edge worker, the
// demo) is compiled at build time instead of in each fresh process or
// isolate.
//
//   node scripts/preinit.mjs MODULE.wasm [--keep COPY.wasm]
//
// The module is instantiated in workerd (Miniflare, the scratch worker of
// scripts/scratch-worker.mjs), with every import replaced by a function
// that throws, and its `tiergate_preinit` export builds the state. That
// instance's memory and mutable globals then become the module's initial
// memory (data segments) and global values, so every instance starts where
// the scratch instance stopped. The throwing imports prove the state was
// built by Rust alone: nothing from the build machine's JavaScript
// environment is captured. The rewritten module must start with the same
// memory, globals and tables, and its set-up must find nothing left to
// build, before it replaces the input.
//
// --keep writes the module as it was to COPY.wasm (the start-up benchmark
// compares the two). Idempotent: a module that carries the
// `tiergate.preinit` custom section is left alone. Exits 1, leaving the
// input untouched, on anything it does not understand or cannot carry
// (an import call, a changed table, a start function, passive data
// segments, non-integer mutable globals, a memory that cannot grow to the
// snapshot).

import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Miniflare } from "miniflare";

import { scratchWorkerd } from "./scratch.mjs";
import { nameBytes, Reader, section, sections, sleb, uleb, vec } from "./wasm-bytes.mjs";

const args = process.argv.slice(2);
const keepAt = args.indexOf("--keep");
const keep = keepAt >= 0 ? resolve(args[keepAt + 1]) : null;
const target = args.find((a, i) => !a.startsWith("--") && (keepAt < 0 || i !== keepAt + 1));
if (!target) {
  console.error("usage: node scripts/preinit.mjs MODULE.wasm [--keep COPY.wasm]");
  process.exit(2);
}
const path = resolve(target);
const MARK = "tiergate.preinit";
// Zero runs shorter than this stay inside one data segment (a segment's
// header costs about a dozen bytes).
const MERGE_GAP = 32;
const PAGE = 65536;

function fail(message) {
  console.error(`preinit: ${message}`);
  process.exit(1);
}

// What the shared reader cannot read ends the run like any other refusal.
process.on("uncaughtException", (e) => fail(`${path}: ${e.message}`));
process.on("unhandledRejection", (e) => fail(`${path}: ${e instanceof Error ? e.message : e}`));

// ---------------------------------------------------------------------------
// What the module holds.

function inspect(bytes) {
  const all = sections(bytes);
  const byId = (id) => all.find((s) => s.id === id);
  let importedGlobals = 0;
  let importedTables = 0;
  const imports = byId(2);
  if (imports) {
    const r = new Reader(bytes, imports.body);
    for (let n = r.uleb(); n > 0; n -= 1) {
      r.name();
      r.name();
      const kind = r.u8();
      if (kind === 0) r.uleb();
      else if (kind === 1) (r.valtype(), r.limits(), (importedTables += 1));
      else if (kind === 2) fail("the module imports its memory");
      else if (kind === 3) (r.valtype(), r.u8(), (importedGlobals += 1));
      else if (kind === 4) (r.u8(), r.uleb());
      else fail(`unknown import kind ${kind}`);
    }
  }
  const globals = [];
  const globalSection = byId(6);
  if (globalSection) {
    const r = new Reader(bytes, globalSection.body);
    for (let i = 0, n = r.uleb(); i < n; i += 1) {
      const start = r.pos;
      const type = r.valtype();
      const mutable = r.u8() === 1;
      r.constExpr();
      globals.push({ index: importedGlobals + i, type, mutable, bytes: bytes.subarray(start, r.pos) });
    }
  }
  if (byId(8)) fail("the module has a start function (it would run again on the snapshot)");
  const tables = [];
  const tableSection = byId(4);
  if (tableSection) {
    const count = new Reader(bytes, tableSection.body).uleb();
    for (let i = 0; i < count; i += 1) tables.push(importedTables + i);
  }
  const memorySection = byId(5);
  if (!memorySection) fail("the module defines no memory");
  const mr = new Reader(bytes, memorySection.body);
  if (mr.uleb() !== 1) fail("the module defines more than one memory");
  const memory = mr.limits();
  if (memory.flags & ~1) fail("shared or 64-bit memory is not supported");
  const dataStarts = [];
  const data = byId(11);
  if (data) {
    const r = new Reader(bytes, data.body);
    for (let n = r.uleb(); n > 0; n -= 1) {
      const flags = r.uleb();
      if (flags !== 0) fail("passive or multi-memory data segments are not supported");
      if (r.u8() !== 0x41) fail("a data segment's offset is not a constant");
      dataStarts.push(Number(r.sleb()));
      if (r.u8() !== 0x0b) fail("a data segment's offset is not a constant");
      r.skip(r.uleb());
    }
  }
  return { all, globals, tables, memory, dataStarts };
}

// ---------------------------------------------------------------------------
// Running the module in workerd.

// The scratch worker's answers for `module` on each route (each request
// instantiates the module afresh), from one workerd.
async function inWorkerd(module, routes) {
  const mf = new Miniflare(scratchWorkerd(module));
  try {
    const out = [];
    for (const route of routes) {
      const res = await mf.dispatchFetch(`http://127.0.0.1/${route}`);
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) fail(`workerd: ${body.toString("utf8")}`);
      out.push({
        memory: body,
        globals: JSON.parse(res.headers.get("x-globals")),
        tables: JSON.parse(res.headers.get("x-tables")),
      });
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

// ---------------------------------------------------------------------------

const input = readFileSync(path);
const info = inspect(input);
if (info.all.some((s) => s.id === 0 && s.name === MARK)) {
  console.log(`preinit: ${path} is already pre-initialised`);
  process.exit(0);
}
if (!info.all.some((s) => s.id === 11)) fail("the module has no data section");
const mutable = info.globals.filter((g) => g.mutable);
for (const g of mutable) {
  if (g.type !== 0x7f && g.type !== 0x7e) fail(`mutable global ${g.index} is not an integer`);
}

// A copy of `bytes` that also exports every mutable global and every table
// it defines, so the scratch worker can read them.
function instrument(bytes) {
  const { all, globals, tables } = inspect(bytes);
  const exportSection = all.find((s) => s.id === 7);
  if (!exportSection) fail("the module has no exports");
  const r = new Reader(bytes, exportSection.body);
  const count = r.uleb();
  const entries = bytes.subarray(r.pos, exportSection.end);
  const extra = [
    ...globals.filter((g) => g.mutable).map((g) => [...nameBytes(`${MARK}.global.${g.index}`), 3, ...uleb(g.index)]),
    ...tables.map((t) => [...nameBytes(`${MARK}.table.${t}`), 1, ...uleb(t)]),
  ];
  return Buffer.concat([
    bytes.subarray(0, 8),
    ...all.map((s) =>
      s.id === 7 ? section(7, [...uleb(count + extra.length), ...entries, ...extra.flat()]) : bytes.subarray(s.start, s.end),
    ),
  ]);
}

// Globals and table lengths, as the scratch worker reports them.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// 1. Run the set-up once on the instrumented copy.
const [before, after] = await inWorkerd(instrument(input), ["fresh", "run"]);
if (!same(before.tables, after.tables)) fail("the set-up changed a table, which a snapshot of memory cannot carry");
const snapshot = Buffer.from(after.memory);

// The stack: with Rust's stack-first layout every data segment sits above
// the stack pointer's initial value, and what lies below it once the call
// has returned is dead stack, zeroed so it does not ship.
let deadStack = 0;
const stackPointers = mutable.filter((g) => g.type === 0x7f && before.globals[g.index] === after.globals[g.index]);
if (stackPointers.length === 1 && info.dataStarts.length > 0) {
  const sp = Number(after.globals[stackPointers[0].index]);
  if (info.dataStarts.every((start) => start >= sp) && sp <= snapshot.length) {
    snapshot.fill(0, 0, sp);
    deadStack = sp;
  }
}

// 2. The data segments: every run of non-zero bytes, short gaps merged.
const segments = [];
let i = 0;
while (i < snapshot.length) {
  while (i < snapshot.length && snapshot[i] === 0) i += 1;
  if (i >= snapshot.length) break;
  const start = i;
  let end = i;
  while (i < snapshot.length) {
    if (snapshot[i] !== 0) {
      end = i + 1;
      i += 1;
    } else if (i - end >= MERGE_GAP) break;
    else i += 1;
  }
  segments.push([0, 0x41, ...sleb(start | 0), 0x0b, ...uleb(end - start), ...snapshot.subarray(start, end)]);
}

const pages = snapshot.length / PAGE;
if (info.memory.max !== null && info.memory.max < pages) fail("the snapshot is larger than the memory's maximum");
const memory = [...uleb(1), info.memory.flags, ...uleb(Math.max(info.memory.min, pages))];
if (info.memory.max !== null) memory.push(...uleb(info.memory.max));

// Mutable globals (integers, checked above) start at the values the call
// left; the others are copied as they were.
const globalSection = info.globals.map((g) => {
  if (!g.mutable) return [...g.bytes];
  const bits = g.type === 0x7f ? 32 : 64;
  const value = BigInt.asIntN(bits, BigInt(after.globals[g.index]));
  return [g.type, 1, bits === 32 ? 0x41 : 0x42, ...sleb(value), 0x0b];
});

const marker = [...nameBytes(MARK), ...Buffer.from(JSON.stringify({ bytes: snapshot.length, segments: segments.length }))];
const parts = [input.subarray(0, 8)];
for (const s of info.all) {
  if (s.id === 5) parts.push(section(5, memory));
  else if (s.id === 6) parts.push(section(6, [...uleb(info.globals.length), ...globalSection.flat()]));
  else if (s.id === 12) parts.push(section(12, uleb(segments.length)));
  else if (s.id === 11) parts.push(section(11, vec(segments)));
  else parts.push(input.subarray(s.start, s.end));
}
parts.push(section(0, marker));
const output = Buffer.concat(parts);

// 3. The rewritten module must start exactly where the scratch instance
// stopped (memory, globals, tables), and its set-up must then find nothing
// left to build: calling it again changes no memory above the dead stack.
const [fresh, rerun] = await inWorkerd(instrument(output), ["fresh", "run"]);
if (!Buffer.from(fresh.memory).equals(snapshot)) fail("the rewritten module's initial memory differs from the snapshot");
if (!same(fresh.globals, after.globals)) fail("the rewritten module's globals differ from the snapshot");
if (!same(fresh.tables, after.tables)) fail("the rewritten module's tables differ");
if (!Buffer.from(rerun.memory).subarray(deadStack).equals(snapshot.subarray(deadStack))) {
  fail("the set-up still changes memory in the rewritten module: its state was not captured");
}

// Written whole or not at all.
if (keep) {
  mkdirSync(dirname(keep), { recursive: true });
  writeFileSync(keep, input);
}
const temporary = `${path}.preinit-${process.pid}`;
writeFileSync(temporary, output);
renameSync(temporary, path);
console.log(
  `preinit: ${path}: state built at build time; ${(snapshot.length / 1024 / 1024).toFixed(1)} MiB of memory, ` +
    `${segments.length} data segments; ${input.length} -> ${output.length} bytes`,
);
