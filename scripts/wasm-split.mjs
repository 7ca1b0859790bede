// Splitting a module in two by function: a primary module with the
// functions a profile saw run, and a secondary module with the rest, which
// the primary loads the first time one of them is called.
//
// V8 decodes and validates every function of a module before the module
// can run, so a module's start-up grows with all the code it carries, run
// or not. Custom policies, the patient portal's features and rare error
// paths need not be paid for by every process that only redacts.
//
// The primary keeps the hot functions and the imports the profile saw
// called. A cold function or import that the primary still names (from hot
// code, a table or an export) becomes a stub there: when the secondary's
// table slot for it is still empty, the stub calls the imported
// `tiergate:split`.`load` (which instantiates the secondary module and so
// fills the slot), then calls the slot. Cold functions nothing in the
// primary names are not declared there at all. The secondary imports the
// primary's memory, tables and globals in index order (so their indices
// need no rewriting), the cold imports straight from the embedder, and
// every primary function that cold code calls, which the primary lists in
// a table for the loader. Types are copied whole.
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
    funcImportNames: [],
    tables: [],
    importedTables: 0,
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
        const module = r.name();
        const name = r.name();
        const kind = r.u8();
        const desc = r.pos;
        if (kind === 0) (m.funcImports.push(r.uleb()), m.funcImportNames.push({ module, name }));
        else if (kind === 1) (r.valtype(), r.limits(), m.tables.push(bytes.subarray(desc, r.pos)), (m.importedTables += 1));
        else if (kind === 2) (r.limits(), (m.memory = bytes.subarray(desc, r.pos)));
        else if (kind === 3) (r.valtype(), r.u8(), m.globals.push(bytes.subarray(desc, r.pos)));
        else throw new Error(`unsupported import kind ${kind}`);
        m.imports.push({ kind, bytes: bytes.subarray(start, r.pos) });
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

// Where each standard section goes (the data count section precedes code).
const ORDER = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12 };

/**
 * `m` with the sections in `owned` (id -> payload; `undefined` drops one)
 * replacing its own, every other section (memory, globals, data, custom)
 * kept where it was, and `custom` ([name, payload]) appended.
 */
function assemble(m, owned, custom = []) {
  const parts = [m.bytes.subarray(0, 8)];
  const pending = new Map(Object.entries(owned).map(([id, payload]) => [Number(id), payload]));
  const emitBefore = (order) => {
    for (const [id, payload] of [...pending].sort((a, b) => ORDER[a[0]] - ORDER[b[0]])) {
      if (ORDER[id] >= order) break;
      if (payload) parts.push(section(id, payload));
      pending.delete(id);
    }
  };
  for (const s of m.all) {
    if (s.id !== 0) emitBefore(ORDER[s.id]);
    if (pending.has(s.id)) {
      const payload = pending.get(s.id);
      if (payload) parts.push(section(s.id, payload));
      pending.delete(s.id);
    } else parts.push(m.bytes.subarray(s.start, s.end));
  }
  emitBefore(Infinity);
  for (const [name, payload] of custom) parts.push(section(0, [...nameBytes(name), ...payload]));
  return Buffer.concat(parts);
}

/** The index of `type` in `types` (byte arrays), appended when missing. */
function typeIndex(types, type) {
  const at = types.findIndex((t) => Buffer.compare(Buffer.from(t), type) === 0);
  if (at >= 0) return at;
  types.push([...type]);
  return types.length - 1;
}

const definedTables = (m) => m.tables.slice(m.importedTables).map((t) => [...t]);

// ---------------------------------------------------------------------------

/**
 * A copy of `bytes` whose every function first calls the imported
 * `tiergate:profile`.`hit` with its own index (as numbered in `bytes`).
 */
export function instrument(bytes) {
  const m = readModule(bytes);
  const F = m.funcImports.length;
  const types = m.types.map((t) => [...t.bytes]);
  const hitType = typeIndex(types, Buffer.from([0x60, 1, 0x7f, 0]));
  const shift = (j) => (j < F ? j : j + 1);
  const code = m.bodies.map(({ start, end }, i) => {
    const locals = instructionsStart(bytes, start) - start;
    const rest = mapBody(bytes, start, end, shift);
    return withSize([...rest.subarray(0, locals), 0x41, ...sleb(F + i), 0x10, ...uleb(F), ...rest.subarray(locals)]);
  });
  return assemble(m, {
    1: vec(types),
    2: vec([...m.imports.map((i) => [...i.bytes]), importBytes(PROFILE, "hit", 0, uleb(hitType))]),
    7: vec(m.exports.map((e) => exportBytes(e.kind === 0 ? { ...e, index: shift(e.index) } : e))),
    8: m.start === null ? undefined : uleb(shift(m.start)),
    9: vec(m.elems.map((e) => elemBytes({ ...e, funcs: e.funcs.map(shift) }))),
    10: vec(code),
  });
}

/**
 * Splits `bytes`. `hot` holds the defined functions to keep (indices as
 * numbered in `bytes`), `hotImports` the function imports to keep (all of
 * them when omitted). Also kept: the start function, functions that name
 * data or element segments, imports that are exported or in a table, and
 * cold functions that the primary would name but that are smaller than a
 * stub (with what they call, in turn).
 *
 * Returns `{ primary, secondary, cold, hot }`: the bytes of each module
 * and how many defined functions each has.
 */
export function split(bytes, hot, hotImports = null) {
  const m = readModule(bytes);
  const F = m.funcImports.length;
  const N = m.bodies.length;
  const isImport = (j) => j < F;

  const pinned = new Set();
  const callees = m.bodies.map(({ start, end }, i) => {
    const out = new Set();
    mapBody(
      bytes,
      start,
      end,
      (j) => (out.add(j), j),
      () => pinned.add(F + i),
    );
    return out;
  });
  const outside = new Set([
    ...m.elems.flatMap((e) => e.funcs),
    ...m.exports.filter((e) => e.kind === 0).map((e) => e.index),
    ...(m.start === null ? [] : [m.start]),
  ]);

  // Which functions and imports stay.
  const keep = new Set();
  for (let j = 0; j < F; j += 1) {
    if (!hotImports || hotImports.has(j) || outside.has(j)) keep.add(j);
  }
  const work = [];
  const keepDefined = (j) => {
    if (!keep.has(j)) (keep.add(j), work.push(j));
  };
  for (let i = 0; i < N; i += 1) {
    const j = F + i;
    if (hot.has(j) || pinned.has(j) || m.start === j) keepDefined(j);
  }
  const small = (j) => !isImport(j) && m.bodies[j - F].end - m.bodies[j - F].start < STUB_BYTES;
  for (const j of outside) if (small(j)) keepDefined(j);
  while (work.length) {
    for (const c of callees[work.pop() - F]) if (!keep.has(c) && small(c)) keepDefined(c);
  }
  const coldDefined = [];
  for (let i = 0; i < N; i += 1) if (!keep.has(F + i)) coldDefined.push(F + i);
  if (coldDefined.length === 0) throw new Error("no function is cold: nothing to split");
  const coldImports = [];
  for (let j = 0; j < F; j += 1) if (!keep.has(j)) coldImports.push(j);

  // What the primary still names among the cold: each gets a stub.
  const named = new Set(outside);
  for (const j of keep) if (!isImport(j)) for (const c of callees[j - F]) named.add(c);
  const stubbed = [...coldImports, ...coldDefined].filter((j) => named.has(j));
  const slot = new Map(stubbed.map((j, k) => [j, k]));

  // The primary's index space: kept imports, then `load`, then kept
  // functions, then stubs.
  const keptImports = [...Array(F).keys()].filter((j) => keep.has(j));
  const keptDefined = [...Array(N).keys()].map((i) => F + i).filter((j) => keep.has(j));
  const P = new Map();
  keptImports.forEach((j, n) => P.set(j, n));
  const loadIndex = keptImports.length;
  const primaryDefined = [...keptDefined, ...stubbed];
  primaryDefined.forEach((j, n) => P.set(j, loadIndex + 1 + n));
  const inPrimary = (j) => {
    const to = P.get(j);
    if (to === undefined) throw new Error(`function ${j} has no place in the primary`);
    return to;
  };
  const typeOf = (j) => (isImport(j) ? m.funcImports[j] : m.funcTypes[j - F]);

  const types = m.types.map((t) => [...t.bytes]);
  const loadType = typeIndex(types, Buffer.from([0x60, 0, 0]));
  const T2 = m.tables.length;
  const T3 = T2 + 1;
  const coldTable = [0x70, 0x01, ...uleb(stubbed.length), ...uleb(stubbed.length)];

  // What cold code calls in the primary, by primary index.
  const coldSet = new Set([...coldDefined, ...coldImports]);
  const needed = [
    ...new Set(coldDefined.flatMap((j) => [...callees[j - F]].filter((c) => !coldSet.has(c)).map(inPrimary))),
  ].sort((a, b) => a - b);
  const neededTable = [0x70, 0x01, ...uleb(needed.length), ...uleb(needed.length)];

  const stub = (j) => {
    const k = slot.get(j);
    const type = typeOf(j);
    const params = m.types[type].params;
    return withSize([
      0x00, // no locals
      0x02, 0x40, // block
      0x41, ...sleb(k), 0x25, ...uleb(T2), 0xd1, 0x45, 0x0d, 0x00, // loaded: leave the block
      0x10, ...uleb(loadIndex), // call load
      0x0b,
      ...Array.from({ length: params }, (_, p) => [0x20, ...uleb(p)]).flat(),
      0x41, ...sleb(k), 0x11, ...uleb(type), ...uleb(T2),
      0x0b,
    ]);
  };
  const primaryCode = [
    ...keptDefined.map((j) => withSize([...mapBody(bytes, m.bodies[j - F].start, m.bodies[j - F].end, inPrimary)])),
    ...stubbed.map(stub),
  ];
  const exported = [
    { name: FUNCTION_TABLE, kind: 1, index: T3 },
    ...Array.from({ length: T2 + 1 }, (_, t) => ({ name: `${EXPORT}t${t}`, kind: 1, index: t })),
    { name: `${EXPORT}memory`, kind: 2, index: 0 },
    ...m.globals.map((_, g) => ({ name: `${EXPORT}g${g}`, kind: 3, index: g })),
  ];
  const keptImportEntries = [];
  {
    let fn = 0;
    for (const { kind, bytes: entry } of m.imports) {
      if (kind !== 0 || keep.has(fn++)) keptImportEntries.push([...entry]);
    }
  }
  // The load import goes after the kept function imports: its index is
  // their count whatever other kinds of import follow.
  const primary = assemble(
    m,
    {
      1: vec(types),
      2: vec([...keptImportEntries, importBytes(SPLIT, "load", 0, uleb(loadType))]),
      3: vec(primaryDefined.map((j) => uleb(typeOf(j)))),
      4: vec([...definedTables(m), coldTable, neededTable]),
      7: vec([...m.exports.map((e) => (e.kind === 0 ? { ...e, index: inPrimary(e.index) } : e)), ...exported].map(exportBytes)),
      8: m.start === null ? undefined : uleb(inPrimary(m.start)),
      9: vec([
        ...m.elems.map((e) => elemBytes({ ...e, funcs: e.funcs.map(inPrimary) })),
        elemBytes({ flags: 2, table: T3, offset: Buffer.from([0x41, 0x00, 0x0b]), kind: 0, funcs: needed }),
      ]),
      10: vec(primaryCode),
    },
    [[MARK, Buffer.from(JSON.stringify({ hot: keptDefined.length, stubs: stubbed.length, cold: coldDefined.length }))]],
  );

  // The secondary: functions from the primary's table, then the cold
  // imports, then its own.
  const S = new Map();
  needed.forEach((p, n) => S.set(`p${p}`, n));
  coldImports.forEach((j, n) => S.set(j, needed.length + n));
  const firstOwn = needed.length + coldImports.length;
  coldDefined.forEach((j, n) => S.set(j, firstOwn + n));
  const inSecondary = (j) => (coldSet.has(j) ? S.get(j) : S.get(`p${inPrimary(j)}`));
  const primaryTypeOf = (p) => {
    if (p < loadIndex) return m.funcImports[keptImports[p]];
    if (p === loadIndex) return loadType;
    return typeOf(primaryDefined[p - loadIndex - 1]);
  };
  const tables = [...m.tables.map((t) => [...t]), coldTable];
  const referenced = new Set();
  const coldCode = coldDefined.map((j) => {
    const { start, end } = m.bodies[j - F];
    return withSize([
      ...mapBody(bytes, start, end, (c) => {
        const to = inSecondary(c);
        if (to === undefined) throw new Error(`function ${c} is neither cold nor in the primary's table`);
        referenced.add(to);
        return to;
      }),
    ]);
  });
  const secondary = Buffer.concat([
    Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]),
    section(1, vec(types)),
    section(
      2,
      vec([
        ...needed.map((p, n) => importBytes(FUNCTIONS, `f${n}`, 0, uleb(primaryTypeOf(p)))),
        ...coldImports.map((j) => importBytes(m.funcImportNames[j].module, m.funcImportNames[j].name, 0, uleb(m.funcImports[j]))),
        ...tables.map((t, n) => importBytes(PRIMARY, `${EXPORT}t${n}`, 1, t)),
        importBytes(PRIMARY, `${EXPORT}memory`, 2, [...m.memory]),
        ...m.globals.map((g, n) => importBytes(PRIMARY, `${EXPORT}g${n}`, 3, [...g])),
      ]),
    ),
    section(3, vec(coldDefined.map((j) => uleb(typeOf(j))))),
    section(
      9,
      vec([
        elemBytes({ flags: 2, table: T2, offset: Buffer.from([0x41, 0x00, 0x0b]), kind: 0, funcs: stubbed.map(inSecondary) }),
        // ref.func needs its target declared; calls do not, so this over-declares harmlessly.
        elemBytes({ flags: 3, table: 0, offset: null, kind: 0, funcs: [...referenced].sort((a, b) => a - b) }),
      ]),
    ),
    section(10, vec(coldCode)),
  ]);
  return { primary, secondary, cold: coldDefined.length, hot: keptDefined.length, stubs: stubbed.length, coldImports: coldImports.length };
}

// ---------------------------------------------------------------------------
// Funnelling imports.

/** Name (in SPLIT) of a funnelled module's one function import. */
export const CALL = "call";
/** Prefix of the globals a funnelled module passes results through. */
export const RESULT = "tiergate.split.result.";

// The value types a funnelled import may take or return, in slot order.
const SLOTS = [
  { type: 0x7f, name: "i32", prefix: "i", zero: [0x41, 0x00] },
  { type: 0x7c, name: "f64", prefix: "d", zero: [0x44, 0, 0, 0, 0, 0, 0, 0, 0] },
  { type: 0x6f, name: "externref", prefix: "x", zero: [0xd0, 0x6f] },
];

function signature(type) {
  const r = new Reader(type.bytes, 1);
  const params = Array.from({ length: r.uleb() }, () => r.u8());
  const results = Array.from({ length: r.uleb() }, () => r.u8());
  const slotOf = (t) => {
    const s = SLOTS.find((x) => x.type === t);
    if (!s) throw new Error(`an import takes or returns value type 0x${t.toString(16)}, which cannot be funnelled`);
    return s;
  };
  if (results.length > 1) throw new Error("an import returns more than one value, which cannot be funnelled");
  return { params: params.map(slotOf), result: results.length ? slotOf(results[0]) : null };
}

/** How many slots of each kind (SLOTS order) a list of signatures' parameters (SLOTS entries) needs. */
const slotCounts = (paramLists) => SLOTS.map((s) => Math.max(0, ...paramLists.map((ps) => ps.filter((p) => p === s).length)));

/** Where each parameter (a SLOTS entry) goes: the n-th slot of its kind, in order of appearance. */
function placement(params) {
  const seen = new Map();
  return params.map((p) => {
    const n = seen.get(p) ?? 0;
    seen.set(p, n + 1);
    return { slot: p, n };
  });
}

/**
 * `bytes` with every function import replaced by a stub that calls one
 * import, `tiergate:split`.`call`(op, i32 slots, f64 slots, externref
 * slots) -> i32, with the import's number and its arguments in their
 * slots. V8 in Node 20 compiles a wrapper for each distinct signature of
 * imported JavaScript function when it compiles and instantiates a module
 * (about 0.1 ms each, the first about 0.4 ms); one signature costs one
 * wrapper. An i32 result comes back as the call's result; an f64 or
 * externref result through the exported mutable global RESULT + type,
 * which the stub reads and (for a reference) clears.
 *
 * Every function index moves up by one (the import is function 0, the
 * stubs 1..F in the old imports' order), so bodies, exports, elements and
 * the start are renumbered. Returns `{ bytes, ops }`: `ops[op]` is
 * `{ module, name, params, result }` (type names) for `dispatcher`.
 */
export function funnel(bytes) {
  const m = readModule(bytes);
  const F = m.funcImports.length;
  if (F === 0) throw new Error("the module has no function imports to funnel");
  const sigs = m.funcImports.map((t) => signature(m.types[t]));
  const counts = slotCounts(sigs.map((g) => g.params));
  const types = m.types.map((t) => [...t.bytes]);
  const slotTypes = SLOTS.flatMap((s, k) => Array(counts[k]).fill(s.type));
  const callType = typeIndex(types, Buffer.from([0x60, ...uleb(1 + slotTypes.length), 0x7f, ...slotTypes, 1, 0x7f]));

  // Result globals go after every existing one, so no global moves.
  const resultKinds = SLOTS.filter((s) => s.type !== 0x7f && sigs.some((g) => g.result === s));
  if (m.start !== null && resultKinds.length > 0) {
    throw new Error("the module has a start function, which could call an import whose result comes back through a global before the instance exists");
  }
  const resultGlobal = new Map(resultKinds.map((s, k) => [s, m.globals.length + k]));
  const globalSection = m.all.find((s) => s.id === 6);
  let globals;
  {
    const own = globalSection ? new Reader(bytes, globalSection.body) : null;
    const count = own ? own.uleb() : 0;
    const rest = own ? [...bytes.subarray(own.pos, globalSection.end)] : [];
    const added = resultKinds.map((s) => [s.type, 0x01, ...s.zero, 0x0b]);
    globals = [...uleb(count + added.length), ...rest, ...added.flat()];
  }

  const shift = (j) => j + 1;
  const stub = ({ params, result }, op) => {
    const body = [0x00, 0x41, ...sleb(op)];
    const placed = placement(params);
    SLOTS.forEach((s, k) => {
      for (let n = 0; n < counts[k]; n += 1) {
        const at = placed.findIndex((q) => q.slot === s && q.n === n);
        body.push(...(at >= 0 ? [0x20, ...uleb(at)] : s.zero));
      }
    });
    body.push(0x10, 0x00);
    if (result === null) body.push(0x1a);
    else if (result.type !== 0x7f) {
      const g = uleb(resultGlobal.get(result));
      body.push(0x1a, 0x23, ...g);
      if (result.type === 0x6f) body.push(0xd0, 0x6f, 0x24, ...g);
    }
    body.push(0x0b);
    return withSize(body);
  };
  const imports = [];
  let fn = 0;
  for (const { kind, bytes: entry } of m.imports) {
    if (kind !== 0) imports.push([...entry]);
    else if (fn++ === 0) imports.push(importBytes(SPLIT, CALL, 0, uleb(callType)));
  }
  const ops = m.funcImportNames.map(({ module, name }, op) => ({
    module,
    name,
    params: sigs[op].params.map((s) => s.name),
    result: sigs[op].result?.name ?? null,
  }));
  const out = assemble(m, {
    1: vec(types),
    2: vec(imports),
    3: vec([...m.funcImports, ...m.funcTypes].map((t) => uleb(t))),
    6: globals,
    7: vec([
      ...m.exports.map((e) => exportBytes(e.kind === 0 ? { ...e, index: shift(e.index) } : e)),
      ...resultKinds.map((s) => exportBytes({ name: `${RESULT}${s.name}`, kind: 3, index: resultGlobal.get(s) })),
    ]),
    8: m.start === null ? undefined : uleb(shift(m.start)),
    9: vec(m.elems.map((e) => elemBytes({ ...e, funcs: e.funcs.map(shift) }))),
    10: vec([...sigs.map(stub), ...m.bodies.map(({ start, end }) => withSize([...mapBody(bytes, start, end, shift)]))]),
  });
  return { bytes: out, ops };
}

/**
 * JavaScript source of a function `(imports, exports)` -> the `call`
 * import of a module funnelled into `ops`: `imports` is the import object
 * the module had, `exports()` gives the instance's exports (read only when
 * a result goes through a global, so after instantiation). Each import is
 * looked up once, and one that is not a function is refused then, as
 * instantiation would have; each is called with its arguments in their
 * own order.
 */
export function dispatcher(ops) {
  const slotOf = (name) => SLOTS.find((s) => s.name === name);
  const counts = slotCounts(ops.map((o) => o.params.map(slotOf)));
  const slots = SLOTS.flatMap((s, k) => Array.from({ length: counts[k] }, (_, n) => `${s.prefix}${n}`));
  const lines = ["(function (imports, exports) {"];
  ops.forEach((o, op) => lines.push(`    const f${op} = imports[${JSON.stringify(o.module)}]?.[${JSON.stringify(o.name)}];`));
  lines.push(
    `    const names = ${JSON.stringify(ops.map((o) => `${o.module}.${o.name}`))};`,
    `    [${ops.map((_, op) => `f${op}`).join(", ")}].forEach((f, op) => {`,
    '        if (typeof f !== "function") throw new TypeError(`tiergate: the import ${names[op]} is not a function`);',
    "    });",
  );
  lines.push(`    return function (op${slots.map((x) => `, ${x}`).join("")}) {`, "        switch (op) {");
  ops.forEach((o, op) => {
    const args = placement(o.params.map(slotOf)).map(({ slot, n }) => `${slot.prefix}${n}`);
    const call = `f${op}(${args.join(", ")})`;
    if (o.result === "i32") lines.push(`            case ${op}: return ${call};`);
    else if (o.result === null) lines.push(`            case ${op}: ${call}; return 0;`);
    else lines.push(`            case ${op}: exports()[${JSON.stringify(RESULT + o.result)}].value = ${call}; return 0;`);
  });
  lines.push("        }", '        throw new Error(`tiergate: no import numbered ${op}`);', "    };", "})");
  return lines.join("\n");
}

/** Bytes of the code section of `bytes`. */
export function codeBytes(bytes) {
  const code = sections(bytes).find((s) => s.id === 10);
  return code ? code.end - code.body : 0;
}
