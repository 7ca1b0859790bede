#!/usr/bin/env node
// Splits pkg/node's module (after pre-initialisation) into the functions a
// record-serving process runs and the rest, so a fresh process decodes and
// validates only the first part before its first `new Engine()`.
//
//   node scripts/split.mjs DIR/NAME_bg.wasm [--keep COPY.wasm]
//
// 1. Profile: an instrumented copy runs the `hot` calls of
//    scripts/split-workload.cjs; every function it entered, and every
//    import it called, is hot.
// 2. Split (scripts/wasm-split.mjs): DIR/NAME_bg.wasm keeps the hot
//    functions and imports, DIR/NAME_bg.cold.wasm gets the rest, and
//    DIR/NAME.js (the wasm-bindgen glue) gains the loader the primary calls
//    the first time it needs something cold. Then the primary's imports
//    are funnelled into one (`funnel`), and the glue gains its dispatcher.
// 3. Check, before anything is written: the split build must give the same
//    result as the unsplit one for every call of the hot and the cold
//    calls, must not read the cold module during the hot calls, and must
//    read it exactly once in all.
//
// --keep writes the unsplit module to COPY.wasm. Idempotent: a module that
// carries the `tiergate.split` custom section is left alone. Exits 1,
// leaving DIR untouched, on any failure.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

import { sections } from "./wasm-bytes.mjs";
import { CALL, codeBytes, dispatcher, funnel, FUNCTION_TABLE, FUNCTIONS, instrument, MARK, PRIMARY, PROFILE, readModule, split, SPLIT } from "./wasm-split.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const keepAt = args.indexOf("--keep");
const keep = keepAt >= 0 ? resolve(args[keepAt + 1]) : null;
const target = args.find((a, i) => !a.startsWith("--") && (keepAt < 0 || i !== keepAt + 1));
if (!target || !target.endsWith("_bg.wasm")) {
  console.error("usage: node scripts/split.mjs DIR/NAME_bg.wasm [--keep COPY.wasm]");
  process.exit(2);
}
const wasmPath = resolve(target);
const dir = dirname(wasmPath);
const wasmName = basename(wasmPath);
const coldName = wasmName.replace(/\.wasm$/, ".cold.wasm");
const glueName = wasmName.replace(/_bg\.wasm$/, ".js");

let scratch = null;
function fail(message) {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  console.error(`split: ${message}`);
  process.exit(1);
}
process.on("uncaughtException", (e) => fail(`${wasmPath}: ${e.message}`));

const INSTANTIATE = "new WebAssembly.Instance(wasmModule, __wbg_get_imports())";

/** The glue with `prelude` before the instantiation, which gets `imports` (JavaScript source) as its import object. */
function glueWith(text, prelude, imports) {
  const at = text.indexOf(INSTANTIATE);
  if (at < 0 || text.indexOf(INSTANTIATE, at + 1) >= 0) fail(`${glueName}: the instantiation is not where it was expected`);
  const line = text.lastIndexOf("\n", at) + 1;
  return text.slice(0, line) + prelude + text.slice(line, at) + `new WebAssembly.Instance(wasmModule, ${imports})` + text.slice(at + INSTANTIATE.length);
}

// Functions report themselves through `hit`; imports are wrapped to report
// their calls.
const profileGlue = (text) =>
  glueWith(
    text,
    [
      "const __tiergateHits = (globalThis.__tiergateHits = new Set());",
      "const __tiergateImportHits = (globalThis.__tiergateImportHits = new Set());",
      "function __tiergateWatched(imports) {",
      "    for (const [module, ns] of Object.entries(imports)) {",
      "        for (const [name, f] of Object.entries(ns)) {",
      "            if (typeof f === 'function') ns[name] = function (...a) { __tiergateImportHits.add(`${module}\\u0000${name}`); return f.apply(this, a); };",
      "        }",
      "    }",
      "    return imports;",
      "}",
      "",
    ].join("\n"),
    `Object.assign(__tiergateWatched(__wbg_get_imports()), { ${JSON.stringify(PROFILE)}: { hit: (i) => __tiergateHits.add(i) } })`,
  );

const splitGlue = (text, ops) =>
  glueWith(
    text,
    [
      "// Functions that serving records never runs are in a second module",
      "// (scripts/split.mjs), compiled and instantiated the first time one is called.",
      "// If that fails, the call that needed it was cut short inside the module, so",
      "// the instance is retired: every later call throws (freeing does nothing).",
      "function __tiergate_load_cold() {",
      "    try {",
      `        const bytes = require('fs').readFileSync(\`\${__dirname}/${coldName}\`);`,
      `        const table = wasm[${JSON.stringify(FUNCTION_TABLE)}];`,
      "        const functions = {};",
      "        for (let i = 0; i < table.length; i++) functions[`f${i}`] = table.get(i);",
      `        const imports = Object.assign(__wbg_get_imports(), { ${JSON.stringify(PRIMARY)}: wasm, ${JSON.stringify(FUNCTIONS)}: functions });`,
      "        new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);",
      "    } catch (e) {",
      `        const error = new Error(\`tiergate: cannot load ${coldName}, so this engine is unusable: \${e && e.message}\`);`,
      "        const retired = () => { throw error; };",
      "        wasm = new Proxy({}, { get: (_, name) => (/^__wbg_\\w+_free$/.test(String(name)) ? () => {} : retired) });",
      "        throw error;",
      "    }",
      "}",
      "// The module's imports all come through one function (one wrapper for V8 to",
      "// compile instead of one per signature): scripts/wasm-split.mjs `funnel`.",
      `const __tiergate_funnel = ${dispatcher(ops)};`,
      "",
    ].join("\n"),
    // The primary keeps its imports other than functions, so it gets the
    // whole import object, with `call` in place of `load`.
    `((imports) => Object.assign({}, imports, { ${JSON.stringify(SPLIT)}: { ${CALL}: __tiergate_funnel(imports, () => wasmInstance.exports) } }))` +
      `(Object.assign(__wbg_get_imports(), { ${JSON.stringify(SPLIT)}: { load: __tiergate_load_cold } }))`,
  );

function run(glue, mode) {
  const out = join(dirname(glue), `${mode}.json`);
  execFileSync(process.execPath, [join(here, "split-workload.cjs"), glue, mode, out], { stdio: ["ignore", "ignore", "inherit"] });
  return JSON.parse(readFileSync(out, "utf8"));
}

function stage(root, name, glue, wasm, cold) {
  const d = join(root, name);
  mkdirSync(d);
  writeFileSync(join(d, glueName), glue);
  writeFileSync(join(d, wasmName), wasm);
  if (cold) writeFileSync(join(d, coldName), cold);
  return join(d, glueName);
}

const input = readFileSync(wasmPath);
if (sections(input).some((s) => s.id === 0 && s.name === MARK)) {
  console.log(`split: ${wasmPath} is already split`);
  process.exit(0);
}
const glueText = readFileSync(join(dir, glueName), "utf8");
scratch = mkdtempSync(join(tmpdir(), "tiergate-split-"));
try {
  // 1. Profile.
  const profiled = run(stage(scratch, "profile", profileGlue(glueText), instrument(input)), "hot");
  const hot = new Set(profiled.hits);
  if (hot.size === 0) fail("the profile saw no function run");
  const called = new Set(profiled.importHits);
  const hotImports = new Set();
  readModule(input).funcImportNames.forEach(({ module, name }, j) => {
    if (called.has(`${module}\u0000${name}`)) hotImports.add(j);
  });

  // 2. Split.
  const parts = split(input, hot, hotImports);
  const { secondary, cold, hot: kept, stubs, coldImports } = parts;
  const { bytes: primary, ops } = funnel(parts.primary);
  const newGlue = splitGlue(glueText, ops);

  // 3. Check.
  const plain = run(stage(scratch, "plain", glueText, input), "all");
  const parted = run(stage(scratch, "split", newGlue, primary, secondary), "all");
  if (!isDeepStrictEqual(parted.hot, plain.hot)) fail("the split module answers a hot call differently");
  if (!isDeepStrictEqual(parted.cold, plain.cold)) fail("the split module answers a cold call differently");
  if (parted.coldReadsAfterHot !== 0) fail("the hot calls loaded the cold module");
  if (parted.coldReads !== 1) fail(`the cold module was read ${parted.coldReads} times, not once`);

  // Written whole or not at all: the cold module and glue first, the
  // primary (which names them) last.
  if (keep) {
    mkdirSync(dirname(keep), { recursive: true });
    copyFileSync(wasmPath, keep);
  }
  for (const [name, bytes] of [
    [coldName, secondary],
    [glueName, newGlue],
    [wasmName, primary],
  ]) {
    const temporary = join(dir, `${name}.split-${process.pid}`);
    writeFileSync(temporary, bytes);
    renameSync(temporary, join(dir, name));
  }
  console.log(
    `split: ${wasmPath}: ${kept} functions and ${stubs} stubs stay (${codeBytes(primary)} bytes of code), ` +
      `${cold} functions and ${coldImports} imports move to ${coldName} (${codeBytes(secondary)}); code was ${codeBytes(input)} bytes; ` +
      `the primary's ${ops.length} imports come through one`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
