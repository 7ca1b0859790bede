// Splitting a module in two by function: a primary module with the
// functions a profile saw run, and a secondary module with the rest, which
// the primary loads the first time one of them is called.
//
// V8 decodes and validates every function of a module before the module
// can run, so a module's start-up grows with all the code it carries, run
// or not. Custom policies, the patient portal's features and rare error
// paths need not be paid for by every process that only redacts.
//
// The primary keeps the whole function index space. A cold function's body
// becomes a stub that, when the secondary's table slot for it is still
// empty, calls the imported `tiergate:split`.`load` (which instantiates the
// secondary module and so fills the slot), then calls the slot. The
// secondary imports the primary's memory, tables and globals in index order
// (so their indices need no rewriting), and every function of the primary
// that cold code calls, which the primary lists in a table for the loader.
// Types are copied whole.
//
// Everything here throws on what it does not understand; nothing is
// guessed.

import { nameBytes, Reader, section, sections, sleb, uleb, vec } from "./wasm-bytes.mjs";

/** Namespace the secondary imports the primary's exports from. */
export const PRIMARY = "tiergate:primary";
/** Namespace the secondary imports the primary's functions from. */
export const FUNCTIONS = "tiergate:functions";
/**
 * The primary's table of the functions cold code calls. The loader reads
 * it to build FUNCTIONS (`f0`, `f1`, ...): a table instead of one export
 * per function, because V8 makes a JavaScript function of every exported
 * function when a module is instantiated.
 */
export const FUNCTION_TABLE = "tiergate.split.functions";
/** Namespace of the primary's `load` import. */
export const SPLIT = "tiergate:split";
/** Namespace of an instrumented module's `hit(index)` import. */
export const PROFILE = "tiergate:profile";
/** Custom section marking a split primary. */
export const MARK = "tiergate.split";
/** Prefix of the exports the primary adds for the secondary. */
const EXPORT = "tiergate.split.";
/** Cold functions smaller than their stub stay in the primary. */
const STUB_BYTES = 24;

// ---------------------------------------------------------------------------
// Reading a module.

const isValtypeByte = (b) => b === 0x40 || (b >= 0x6f && b <= 0x7f);

/**
 * Walks one function body. `onFunc(index)` is called for each function
 * index an instruction names (call, return_call, ref.func) and returns the
 * index to write instead; `onOp(name)` is told of instructions that name
 * data or element segments. Returns the body (locals included) rewritten.
 */
export function mapBody(bytes, start, end, onFunc = (i) => i, onOp = () => {}) {
  const r = new Reader(bytes, start);
  for (let n = r.uleb(); n > 0; n -= 1) {
    r.uleb();
    r.valtype();
  }
  const out = [];
  let copied = start;
  const func = () => {
    const at = r.pos;
    const index = r.uleb();
    const to = onFunc(index);
    if (to !== index) {
      out.push(bytes.subarray(copied, at), Buffer.from(uleb(to)));
      copied = r.pos;
    }
  };
  while (r.pos < end) {
    const op = r.u8();
    if (op === 0x02 || op === 0x03 || op === 0x04) {
      const b = bytes[r.pos];
      if (isValtypeByte(b)) r.skip(1);
      else if (b === 0x63 || b === 0x64) r.valtype();
      else r.sleb();
    } else if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) {
      // no immediates
    } else if (op === 0x0c || op === 0x0d || (op >= 0x20 && op <= 0x26)) r.uleb();
    else if (op === 0x0e) {
      for (let n = r.uleb(); n >= 0; n -= 1) r.uleb();
    } else if (op === 0x10 || op === 0x12 || op === 0xd2) func();
    else if (op === 0x11 || op === 0x13) (r.uleb(), r.uleb());
    else if (op === 0x1c) {
      for (let n = r.uleb(); n > 0; n -= 1) r.valtype();
    } else if (op >= 0x28 && op <= 0x3e) {
      const align = r.uleb();
      if (align & 0x40) r.uleb();
      r.uleb();
    } else if (op === 0x3f || op === 0x40) r.uleb();
    else if (op === 0x41 || op === 0x42) r.sleb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op >= 0x45 && op <= 0xc4) {
      // numeric, no immediates
    } else if (op === 0xd0) r.sleb();
    else if (op === 0xfc) {
      const sub = r.uleb();
      if (sub <= 7) {
        // saturating truncations
      } else if (sub === 8) (onOp("memory.init"), r.uleb(), r.uleb());
      else if (sub === 9) (onOp("data.drop"), r.uleb());
      else if (sub === 10 || sub === 14) (r.uleb(), r.uleb());
      else if (sub === 12) (onOp("table.init"), r.uleb(), r.uleb());
      else if (sub === 13) (onOp("elem.drop"), r.uleb());
      else if (sub === 11 || (sub >= 15 && sub <= 17)) r.uleb();
      else throw new Error(`unsupported instruction 0xfc ${sub}`);
    } else throw new Error(`unsupported opcode 0x${op.toString(16)}`);
  }
  if (r.pos !== end) throw new Error("a function body overruns its size");
  out.push(bytes.subarray(copied, end));
  return Buffer.concat(out);
}

/** Where a body's instructions start (after its locals). */
function instructionsStart(bytes, start) {
  const r = new Reader(bytes, start);
  for (let n = r.uleb(); n > 0; n -= 1) (r.uleb(), r.valtype());
  return r.pos;
}

/** The parts of a module this file rewrites, with their byte ranges. */
export function readModule(bytes) {
  const all = sections(bytes);
  const m = {
    bytes,
    all,
    types: [],
    imports: [],
    funcImports: [],
    tables: [],
    memory: null,
    globals: [],
    funcTypes: [],
    exports: [],
    start: null,
    elems: [],
    bodies: [],
  };
  for (const s of all) {
    const r = new Reader(bytes, s.body);
    const count = s.id === 0 || s.id === 8 || s.id === 12 ? 0 : r.uleb();
    if (s.id === 1) {
      for (let i = 0; i < count; i += 1) {
        const start = r.pos;
        if (r.u8() !== 0x60) throw new Error("only function types are supported");
        const params = r.uleb();
        for (let p = 0; p < params; p += 1) r.valtype();
        for (let n = r.uleb(); n > 0; n -= 1) r.valtype();
        m.types.push({ params, bytes: bytes.subarray(start, r.pos) });
      }
    } else if (s.id === 2) {
      for (let i = 0; i < count; i += 1) {
        const start = r.pos;
        r.name();
        r.name();
        const kind = r.u8();
        const desc = r.pos;
        if (kind === 0) m.funcImports.push(r.uleb());
        else if (kind === 1) (r.valtype(), r.limits(), m.tables.push(bytes.subarray(desc, r.pos)));
        else if (kind === 2) (r.limits(), (m.memory = bytes.subarray(desc, r.pos)));
        else if (kind === 3) (r.valtype(), r.u8(), m.globals.push(bytes.subarray(desc, r.pos)));
        else throw new Error(`unsupported import kind ${kind}`);
        m.imports.push(bytes.subarray(start, r.pos));
      }
    } else if (s.id === 3) {
      for (let i = 0; i < count; i += 1) m.funcTypes.push(r.uleb());
    } else if (s.id === 4) {
      for (let i = 0; i < count; i += 1) {
        const start = r.pos;
        r.valtype();
        r.limits();
        m.tables.push(bytes.subarray(start, r.pos));
      }
    } else if (s.id === 5) {
      if (count !== 1 || m.memory) throw new Error("exactly one memory is supported");
      const start = r.pos;
      r.limits();
      m.memory = bytes.subarray(start, r.pos);
    } else if (s.id === 6) {
      for (let i = 0; i < count; i += 1) {
        const start = r.pos;
        r.valtype();
        r.u8();
        const type = bytes.subarray(start, r.pos);
        const init = r.pos;
        r.constExpr();
        if (bytes.subarray(init, r.pos).includes(0xd2)) throw new Error(`global ${i} is initialised by a function reference`);
        m.globals.push(type);
      }
    } else if (s.id === 7) {
      for (let i = 0; i < count; i += 1) m.exports.push({ name: r.name(), kind: r.u8(), index: r.uleb() });
    } else if (s.id === 8) m.start = r.uleb();
    else if (s.id === 9) {
      for (let i = 0; i < count; i += 1) {
        const flags = r.uleb();
        const e = { flags, table: 0, offset: null, kind: 0, funcs: [] };
        if (flags === 2) e.table = r.uleb();
        if (flags === 0 || flags === 2) {
          const start = r.pos;
          r.constExpr();
          e.offset = bytes.subarray(start, r.pos);
        } else if (flags !== 1 && flags !== 3) throw new Error(`unsupported element segment kind ${flags}`);
        if (flags !== 0) {
          e.kind = r.u8();
          if (e.kind !== 0) throw new Error("unsupported element kind");
        }
        for (let n = r.uleb(); n > 0; n -= 1) e.funcs.push(r.uleb());
        m.elems.push(e);
      }
    } else if (s.id === 10) {
      for (let i = 0; i < count; i += 1) {
        const size = r.uleb();
        m.bodies.push({ start: r.pos, end: r.pos + size });
        r.skip(size);
      }
    }
  }
  if (m.bodies.length !== m.funcTypes.length) throw new Error("function and code sections disagree");
  if (!m.memory) throw new Error("the module has no memory");
  return m;
}

// ---------------------------------------------------------------------------
// Writing a module.

const withSize = (body) => [...uleb(body.length), ...body];

function elemBytes(e) {
  const out = [...uleb(e.flags)];
  if (e.flags === 2) out.push(...uleb(e.table));
  if (e.offset) out.push(...e.offset);
  if (e.flags !== 0) out.push(e.kind);
  out.push(...vec(e.funcs.map((f) => uleb(f))));
  return out;
}

const exportBytes = (e) => [...nameBytes(e.name), e.kind, ...uleb(e.index)];
const importBytes = (module, name, kind, desc) => [...nameBytes(module), ...nameBytes(name), kind, ...desc];

/**
 * `m` with one more function import, `module`.`name` of type `type`
 * (appended to the type section when no type matches), placed after the
 * existing function imports. Every defined function's index moves up by
 * one; `body(i, shift)` gives defined function i's new body (locals
 * included) and `extra` adds tables, exports, element segments and custom
 * sections.
 */
function withImport(m, module, name, type, body, extra = {}) {
  const F = m.funcImports.length;
  const shift = (j) => (j < F ? j : j + 1);
  let typeIndex = m.types.findIndex((t) => t.bytes.equals(type));
  const types = m.types.map((t) => t.bytes);
  if (typeIndex < 0) {
    typeIndex = types.length;
    types.push(type);
  }
  const imports = [...m.imports, Buffer.from(importBytes(module, name, 0, uleb(typeIndex)))];
  const exports = m.exports.map((e) => (e.kind === 0 ? { ...e, index: shift(e.index) } : e)).concat(extra.exports ?? []);
  const elems = m.elems.map((e) => ({ ...e, funcs: e.funcs.map(shift) })).concat(extra.elems ?? []);
  const definedTables = m.tables.length - m.imports.filter((b) => importKind(b) === 1).length;
  const tables = m.tables.slice(m.tables.length - definedTables).concat(extra.tables ?? []);
  const code = m.bodies.map((_, i) => withSize([...body(i, shift)]));

  const has = (id) => m.all.some((s) => s.id === id);
  const parts = [m.bytes.subarray(0, 8)];
  const emit = (id, payload) => parts.push(section(id, payload));
  for (const s of m.all) {
    // Sections the module lacks but the rewrite needs go where they belong.
    if (s.id === 5 && !has(4) && tables.length) emit(4, vec(tables.map((t) => [...t])));
    if (s.id === 10 && !has(9) && elems.length) emit(9, vec(elems.map(elemBytes)));
    if (s.id === 1) emit(1, vec(types.map((t) => [...t])));
    else if (s.id === 2) emit(2, vec(imports.map((b) => [...b])));
    else if (s.id === 4) emit(4, vec(tables.map((t) => [...t])));
    else if (s.id === 7) emit(7, vec(exports.map(exportBytes)));
    else if (s.id === 8) emit(8, uleb(shift(m.start)));
    else if (s.id === 9) emit(9, vec(elems.map(elemBytes)));
    else if (s.id === 10) emit(10, vec(code));
    else parts.push(m.bytes.subarray(s.start, s.end));
  }
  if (!has(1) || !has(2) || !has(7) || !has(10)) throw new Error("the module lacks a type, import, export or code section");
  for (const [name, payload] of extra.custom ?? []) emit(0, [...nameBytes(name), ...payload]);
  return { bytes: Buffer.concat(parts), typeIndex, F, shift };
}

function importKind(entry) {
  const r = new Reader(entry);
  r.name();
  r.name();
  return r.u8();
}

// ---------------------------------------------------------------------------

/**
 * A copy of `bytes` whose every function first calls the imported
 * `tiergate:profile`.`hit` with its own index (as numbered in `bytes`).
 */
export function instrument(bytes) {
  const m = readModule(bytes);
  const F = m.funcImports.length;
  const hitType = Buffer.from([0x60, 1, 0x7f, 0]);
  return withImport(m, PROFILE, "hit", hitType, (i, shift) => {
    const { start, end } = m.bodies[i];
    const at = instructionsStart(bytes, start);
    const rest = mapBody(bytes, start, end, shift);
    const locals = at - start;
    return Buffer.concat([rest.subarray(0, locals), Buffer.from([0x41, ...sleb(F + i), 0x10, ...uleb(F)]), rest.subarray(locals)]);
  }).bytes;
}

/**
 * Splits `bytes` so that the functions in `hot` (indices as numbered in
 * `bytes`) stay in the primary and every other defined function moves to
 * the secondary, except the start function, functions that name data or
 * element segments, and functions smaller than a stub.
 *
 * Returns `{ primary, secondary, cold, hot }` (bytes of each module, and
 * counts of functions).
 */
export function split(bytes, hot) {
  const m = readModule(bytes);
  const F = m.funcImports.length;
  const pinned = new Set();
  const callees = m.bodies.map(({ start, end }, i) => {
    const out = new Set();
    mapBody(
      bytes,
      start,
      end,
      (j) => (out.add(j), j),
      () => pinned.add(i),
    );
    return out;
  });
  const slot = new Map();
  const cold = [];
  m.bodies.forEach(({ start, end }, i) => {
    const index = F + i;
    if (hot.has(index) || pinned.has(i) || m.start === index || end - start < STUB_BYTES) return;
    slot.set(index, cold.length);
    cold.push(i);
  });
  if (cold.length === 0) throw new Error("no function is cold: nothing to split");

  const loadType = Buffer.from([0x60, 0, 0]);
  const T2 = m.tables.length;
  const coldTable = Buffer.from([0x70, 0x01, ...uleb(cold.length), ...uleb(cold.length)]);
  const shift = (j) => (j < F ? j : j + 1);

  // What cold code calls in the primary, by primary index.
  const needed = [
    ...new Set(cold.flatMap((i) => [...callees[i]].filter((j) => !slot.has(j)).map(shift))),
  ].sort((a, b) => a - b);
  const globalsCount = m.globals.length;
  const T3 = T2 + 1;
  const neededTable = Buffer.from([0x70, 0x01, ...uleb(needed.length), ...uleb(needed.length)]);
  const exportsForSecondary = [
    { name: FUNCTION_TABLE, kind: 1, index: T3 },
    ...Array.from({ length: T2 + 1 }, (_, t) => ({ name: `${EXPORT}t${t}`, kind: 1, index: t })),
    { name: `${EXPORT}memory`, kind: 2, index: 0 },
    ...Array.from({ length: globalsCount }, (_, g) => ({ name: `${EXPORT}g${g}`, kind: 3, index: g })),
  ];

  let loadIndex = -1;
  let typeOfLoad = -1;
  const primaryBody = (i, sh) => {
    const { start, end } = m.bodies[i];
    if (!slot.has(F + i)) return mapBody(bytes, start, end, sh);
    const k = slot.get(F + i);
    const type = m.funcTypes[i];
    const params = m.types[type].params;
    return Buffer.from([
      0x00, // no locals
      0x02, 0x40, // block
      0x41, ...sleb(k), 0x25, ...uleb(T2), 0xd1, 0x45, 0x0d, 0x00, // loaded: leave the block
      0x10, ...uleb(F), // call load
      0x0b,
      ...Array.from({ length: params }, (_, p) => [0x20, ...uleb(p)]).flat(),
      0x41, ...sleb(k), 0x11, ...uleb(type), ...uleb(T2),
      0x0b,
    ]);
  };
  const built = withImport(m, SPLIT, "load", loadType, primaryBody, {
    tables: [coldTable, neededTable],
    exports: exportsForSecondary,
    elems: [{ flags: 2, table: T3, offset: Buffer.from([0x41, 0x00, 0x0b]), kind: 0, funcs: needed }],
    custom: [[MARK, Buffer.from(JSON.stringify({ cold: cold.length, hot: m.bodies.length - cold.length }))]],
  });
  loadIndex = built.F;
  typeOfLoad = built.typeIndex;
  if (loadIndex !== F) throw new Error("the load import is not where it was placed");

  // The secondary module.
  const primaryTypes = readModule(built.bytes).types.map((t) => [...t.bytes]);
  const typeOf = (j) => (j < F ? m.funcImports[j] : j === F ? typeOfLoad : m.funcTypes[j - F - 1]);
  const sIndex = new Map(needed.map((j, n) => [j, n]));
  const tables = [...m.tables, coldTable];
  const imports = [
    ...needed.map((j, n) => importBytes(FUNCTIONS, `f${n}`, 0, uleb(typeOf(j)))),
    ...tables.map((t, n) => importBytes(PRIMARY, `${EXPORT}t${n}`, 1, [...t])),
    importBytes(PRIMARY, `${EXPORT}memory`, 2, [...m.memory]),
    ...m.globals.map((g, n) => importBytes(PRIMARY, `${EXPORT}g${n}`, 3, [...g])),
  ];
  const referenced = new Set();
  const coldCode = cold.map((i) => {
    const { start, end } = m.bodies[i];
    return withSize([
      ...mapBody(bytes, start, end, (j) => {
        const to = slot.has(j) ? needed.length + slot.get(j) : sIndex.get(shift(j));
        if (to === undefined) throw new Error(`function ${j} is neither cold nor exported to the secondary`);
        referenced.add(to);
        return to;
      }),
    ]);
  });
  const secondaryElems = [
    { flags: 2, table: T2, offset: Buffer.from([0x41, 0x00, 0x0b]), kind: 0, funcs: cold.map((_, k) => needed.length + k) },
    // ref.func needs its target declared; calls do not, so this over-declares harmlessly.
    { flags: 3, table: 0, offset: null, kind: 0, funcs: [...referenced].sort((a, b) => a - b) },
  ];
  const secondary = Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    section(1, vec(primaryTypes)),
    section(2, vec(imports)),
    section(3, vec(cold.map((i) => uleb(m.funcTypes[i])))),
    section(9, vec(secondaryElems.map(elemBytes))),
    section(10, vec(coldCode)),
  ]);
  return { primary: built.bytes, secondary, cold: cold.length, hot: m.bodies.length - cold.length };
}

/** Bytes of the code section of `bytes`. */
export function codeBytes(bytes) {
  const code = sections(bytes).find((s) => s.id === 10);
  return code ? code.end - code.body : 0;
}
