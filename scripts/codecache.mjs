#!/usr/bin/env node
// Ships V8's code cache for pkg/node's JavaScript glue.
//
//   node scripts/codecache.mjs DIR/NAME.js
//
// Parsing wasm-bindgen's 30 KB glue is about a tenth of a fresh process's
// start-up. This moves the glue to DIR/NAME_glue.HASH.js, writes V8's code
// cache for it (made in a fresh process after `new Engine()`, so it holds
// what start-up runs) to DIR/NAME_glue.HASH.cache, and makes DIR/NAME.js a
// loader that compiles the glue with that cache and re-exports the glue's
// exports by name (so `import { Engine }` from ESM still finds them).
//
// V8 (11.3, in Node 20) checks a cache against the length of the source,
// not its content, and against its own version and flags; when they do not
// match it refuses the cache and compiles the source as usual (another
// Node version costs time, never correctness). HASH, the start of the
// glue's SHA-256, names both files, so a loader only ever pairs the glue
// and cache of its own build. The files are build output, trusted as the
// module is: V8 does not checksum a cache, so one edited or damaged in
// place can make the process fail or crash; rebuild instead. Node cannot
// checksum them at start-up for less than the cache saves.
//
// The build checks, by requiring the loader in a fresh process, that V8
// accepts the cache and that the loader exports what the glue does. Exits
// 1, leaving DIR untouched, on any failure.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const target = process.argv[2];
if (!target || !target.endsWith(".js")) {
  console.error("usage: node scripts/codecache.mjs DIR/NAME.js");
  process.exit(2);
}
const entry = resolve(target);
const dir = dirname(entry);
const stem = basename(entry, ".js");
const MARK = "// tiergate: code-cache loader";

const text = readFileSync(entry, "utf8");
if (text.includes(MARK)) {
  console.log(`codecache: ${entry} is already a loader`);
  process.exit(0);
}
const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
const glueName = `${stem}_glue.${hash}.js`;
const cacheName = `${stem}_glue.${hash}.cache`;
const written = [glueName, cacheName, `${cacheName}.new`, `${stem}.js.new`];

function fail(message) {
  for (const name of written) rmSync(join(dir, name), { force: true });
  console.error(`codecache: ${entry}: ${message}`);
  process.exit(1);
}

// Node's own CommonJS wrapper, on one line so line numbers stay the glue's.
const HEAD = "(function (exports, require, module, __filename, __dirname) {";
const TAIL = "\n})";

/** Source of the loader for a glue exporting `names`. */
function loader(names) {
  return [
    `/* @ts-self-types="./${stem}.d.ts" */`,
    MARK,
    `// Compiles ${glueName} (wasm-bindgen's glue) with V8's code cache for it,`,
    `// ${cacheName}, made at build time by scripts/codecache.mjs; V8 compiles`,
    "// the source as usual when the cache is not for this Node. Build output:",
    "// rebuild rather than edit these files (see scripts/codecache.mjs).",
    '"use strict";',
    'const { readFileSync } = require("fs");',
    'const { Script } = require("vm");',
    `const file = \`\${__dirname}/${glueName}\`;`,
    "let cachedData;",
    "try {",
    `    cachedData = readFileSync(\`\${__dirname}/${cacheName}\`);`,
    "} catch {",
    "    cachedData = undefined;",
    "}",
    `const script = new Script(${JSON.stringify(HEAD)} + readFileSync(file, "utf8") + ${JSON.stringify(TAIL)}, { filename: file, cachedData });`,
    "const glue = { exports: {} };",
    "script.runInThisContext().call(glue.exports, glue.exports, require, glue, file, __dirname);",
    ...names.map((n) => `exports.${n} = glue.exports.${n};`),
    "",
  ].join("\n");
}

/** A fresh process compiles the glue, starts an engine and writes the cache; prints the glue's exports. */
const makeCache = (glue, cache) => `
const { readFileSync, writeFileSync } = require("fs");
const { Script } = require("vm");
const file = ${JSON.stringify(glue)};
const source = ${JSON.stringify(HEAD)} + readFileSync(file, "utf8") + ${JSON.stringify(TAIL)};
const script = new Script(source, { filename: file });
const glue = { exports: {} };
script.runInThisContext().call(glue.exports, glue.exports, require, glue, file, ${JSON.stringify(dir)});
const engine = new glue.exports.Engine();
engine.policyHash();
engine.free();
writeFileSync(${JSON.stringify(cache)}, script.createCachedData());
process.stdout.write(JSON.stringify(Object.keys(glue.exports)));
`;

/** A fresh process requires the loader at `path` and prints its exports and whether V8 took the cache. */
const loaderCheck = (path) => `
const vm = require("vm");
let script = null;
vm.Script = class extends vm.Script { constructor(...a) { super(...a); script = this; } };
const exported = Object.keys(require(${JSON.stringify(path)}));
process.stdout.write(JSON.stringify({ exported, accepted: script !== null && script.cachedDataRejected === false }));
`;

const names = [...text.matchAll(/^exports\.([A-Za-z_$][\w$]*) = /gm)].map((m) => m[1]);
if (names.length === 0) fail("the glue exports nothing by `exports.NAME =`");
if (readdirSync(dir).some((f) => f.startsWith(`${stem}_glue.`))) fail(`${stem}_glue.* already exists`);

const node = (source) => execFileSync(process.execPath, ["-e", source], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const sorted = (list) => JSON.stringify([...list].sort());
try {
  // The cache is made for the glue at its final path, so write that first.
  const glueFile = join(dir, glueName);
  writeFileSync(glueFile, text);
  const exported = JSON.parse(node(makeCache(glueFile, join(dir, `${cacheName}.new`))));
  if (sorted(exported) !== sorted(names)) fail(`the glue exports ${JSON.stringify(exported)}, of which only ${JSON.stringify(names)} are found by \`exports.NAME =\``);
  writeFileSync(join(dir, `${stem}.js.new`), loader(names));
  renameSync(join(dir, `${cacheName}.new`), join(dir, cacheName));
  const check = JSON.parse(node(loaderCheck(join(dir, `${stem}.js.new`))));
  if (!check.accepted) fail("a fresh process refuses the code cache");
  if (sorted(check.exported) !== sorted(names)) fail(`the loader exports ${JSON.stringify(check.exported)}, the glue ${JSON.stringify(names)}`);
  renameSync(join(dir, `${stem}.js.new`), entry);
} catch (e) {
  fail(e.stderr ? String(e.stderr).trim().split("\n").slice(-3).join(" ") : e.message);
}
const size = readFileSync(join(dir, cacheName)).length;
console.log(`codecache: ${entry}: loads ${glueName} with a ${size}-byte code cache; exports ${names.join(", ")}`);
