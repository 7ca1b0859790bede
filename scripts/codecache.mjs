#!/usr/bin/env node
// Ships V8's code cache for pkg/node's JavaScript glue.
//
//   node scripts/codecache.mjs DIR/NAME.js
//
// Parsing wasm-bindgen's 30 KB glue is about a tenth of a fresh process's
// start-up. This moves the glue to DIR/NAME_glue.js, writes V8's code
// cache for it (made in a fresh process after `new Engine()`, so it holds
// what start-up runs) to DIR/NAME_glue.cache, and makes DIR/NAME.js a
// loader that compiles the glue with that cache and re-exports the glue's
// exports by name (so `import { Engine }` from ESM still finds them).
//
// V8 accepts a cache only for the same source, V8 version and flags; in
// any other case it compiles the source as usual, so a stale or missing
// cache costs time, never correctness. The build checks that a fresh
// process accepts the cache and that the loader exports what the glue does.
// Exits 1, leaving DIR untouched, on any failure.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const target = process.argv[2];
if (!target || !target.endsWith(".js")) {
  console.error("usage: node scripts/codecache.mjs DIR/NAME.js");
  process.exit(2);
}
const entry = resolve(target);
const dir = dirname(entry);
const stem = basename(entry, ".js");
const glueName = `${stem}_glue.js`;
const cacheName = `${stem}_glue.cache`;
const MARK = "// tiergate: code-cache loader";

function fail(message) {
  for (const name of [`${glueName}.new`, `${cacheName}.new`, `${stem}.js.new`]) rmSync(join(dir, name), { force: true });
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
    `// ${cacheName}, made at build time by scripts/codecache.mjs. V8 checks the`,
    "// cache against the source, its version and its flags, and compiles the",
    "// source as usual when it does not match.",
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
    "script.runInThisContext()(glue.exports, require, glue, file, __dirname);",
    ...names.map((n) => `exports.${n} = glue.exports.${n};`),
    "",
  ].join("\n");
}

/** A fresh process compiles the glue, starts an engine and writes the cache; prints whether a second compile accepts it. */
const makeCache = (glue, cache) => `
const { readFileSync, writeFileSync } = require("fs");
const { Script } = require("vm");
const file = ${JSON.stringify(glue)};
const source = ${JSON.stringify(HEAD)} + readFileSync(file, "utf8") + ${JSON.stringify(TAIL)};
const script = new Script(source, { filename: file });
const glue = { exports: {} };
script.runInThisContext()(glue.exports, require, glue, file, ${JSON.stringify(dir)});
const engine = new glue.exports.Engine();
engine.policyHash();
engine.free();
writeFileSync(${JSON.stringify(cache)}, script.createCachedData());
`;

const acceptedIn = (glue, cache) => `
const { readFileSync } = require("fs");
const { Script } = require("vm");
const source = ${JSON.stringify(HEAD)} + readFileSync(${JSON.stringify(glue)}, "utf8") + ${JSON.stringify(TAIL)};
const script = new Script(source, { filename: ${JSON.stringify(glue)}, cachedData: readFileSync(${JSON.stringify(cache)}) });
process.stdout.write(String(script.cachedDataRejected === false));
`;

const text = readFileSync(entry, "utf8");
if (text.includes(MARK)) {
  console.log(`codecache: ${entry} is already a loader`);
  process.exit(0);
}
const names = [...text.matchAll(/^exports\.([A-Za-z_$][\w$]*) = /gm)].map((m) => m[1]);
if (names.length === 0) fail("the glue exports nothing by `exports.NAME =`");
if (existsSync(join(dir, glueName))) fail(`${glueName} already exists`);

const node = (source) => execFileSync(process.execPath, ["-e", source], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
try {
  // The cache is made for the glue at its final path, so write that first
  // (as .new) and make the cache from it in place.
  const glueFile = join(dir, glueName);
  writeFileSync(`${glueFile}.new`, text);
  renameSync(`${glueFile}.new`, glueFile);
  node(makeCache(glueFile, join(dir, `${cacheName}.new`)));
  if (node(acceptedIn(glueFile, join(dir, `${cacheName}.new`))) !== "true") {
    rmSync(glueFile);
    fail("a fresh process rejects the code cache");
  }
  writeFileSync(join(dir, `${stem}.js.new`), loader(names));
  const exported = node(`process.stdout.write(JSON.stringify(Object.keys(require(${JSON.stringify(join(dir, `${stem}.js.new`))}))))`);
  if (JSON.stringify(JSON.parse(exported).sort()) !== JSON.stringify([...names].sort())) {
    rmSync(glueFile);
    fail(`the loader exports ${exported}, the glue ${JSON.stringify(names)}`);
  }
  renameSync(join(dir, `${cacheName}.new`), join(dir, cacheName));
  renameSync(join(dir, `${stem}.js.new`), entry);
} catch (e) {
  rmSync(join(dir, glueName), { force: true });
  fail(e.message);
}
const size = readFileSync(join(dir, cacheName)).length;
console.log(`codecache: ${entry}: loads ${glueName} with a ${size}-byte code cache; exports ${names.join(", ")}`);
