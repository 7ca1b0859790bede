#!/usr/bin/env node
// Builds the wasm package of tiergate-core for every runtime:
//
//   pkg/web/      --target web     browser portals (ES module, `await init()`)
//   pkg/node/     --target nodejs  Node tests and tooling (CommonJS, loads synchronously)
//
// workerd uses pkg/web: a module worker imports the .wasm (workerd compiles
// it ahead of time and forbids compiling bytes at run time) and passes it to
// `initSync({ module })`; tests/workerd/worker.mjs shows how.
//
// Steps: cargo build (profile `wasm-release`, tuned for size) -> wasm-bindgen
// (the CLI must be the exact version in Cargo.lock) -> wasm-opt from the npm
// `binaryen` package (never a system binaryen: Debian's produces modules that
// throw at instantiation) -> for pkg/node only, scripts/preinit.mjs (the
// default policy compiled at build time), then scripts/split.mjs (the
// functions serving records never runs move to a second module, loaded on
// first use), then scripts/codecache.mjs (the glue loads with V8's code
// cache). Sizes before and after wasm-opt go to pkg/build.json for
// scripts/wasm-size.mjs.
//
// Environment: WASM_OPT=0 skips wasm-opt; WASM_BINDGEN=path picks the CLI.
// Skips the wasm-bindgen/wasm-opt steps when the cargo output and the
// settings have not changed since the last build.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

import { nameBytes, Reader, section, sections, vec } from "./wasm-bytes.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const crate = "tiergate-wasm";
const stem = "tiergate_wasm";
const profile = "wasm-release";
const input = join(root, "target", "wasm32-unknown-unknown", profile, `${stem}.wasm`);
const wasmBindgen = process.env.WASM_BINDGEN || "wasm-bindgen";
const wasmOpt = join(root, "node_modules", "binaryen", "bin", "wasm-opt");
const useWasmOpt = process.env.WASM_OPT !== "0";

// -Oz, but without inlining functions that have a single caller: that
// inlining shrinks the raw module yet makes it compress worse (measured:
// plain -Oz is 9% smaller raw but 10% larger gzipped than no wasm-opt;
// without it, 7% smaller raw and 2% smaller gzipped).
// The feature flags match what rustc enables for wasm32-unknown-unknown.
const wasmOptFlags = [
  "-Oz",
  "--one-caller-inline-max-function-size", "0",
  "--enable-bulk-memory",
  "--enable-nontrapping-float-to-int",
  "--enable-sign-ext",
  "--enable-mutable-globals",
  "--enable-reference-types",
  "--enable-multivalue",
  "--strip-debug",
  "--strip-producers",
];

const targets = [
  { target: "web", dir: "pkg/web", type: "module" },
  { target: "nodejs", dir: "pkg/node", type: "commonjs", preinit: true },
];
// The Node build before pre-initialisation, with its glue, for
// bench/node/startup.mjs to compare against.
const plainNode = join(root, "target", "preinit", "node");

function fail(message) {
  console.error(`wasm-build: ${message}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")} exited ${r.status}`);
}

function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`)),
    );
  });
}

function lockedVersion(name) {
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8");
  const m = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`));
  if (!m) fail(`${name} is not in Cargo.lock`);
  return m[1];
}

function sizes(path) {
  const bytes = readFileSync(path);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

// 1. The CLI must match the wasm-bindgen crate exactly, or the glue is wrong.
const want = lockedVersion("wasm-bindgen");
const have = spawnSync(wasmBindgen, ["--version"], { encoding: "utf8" });
if (have.error) {
  fail(`${wasmBindgen} not found; install it with: cargo install wasm-bindgen-cli --version ${want}`);
}
const haveVersion = (have.stdout || "").trim().split(/\s+/)[1];
if (haveVersion !== want) {
  fail(`wasm-bindgen CLI is ${haveVersion}, Cargo.lock has ${want}: cargo install wasm-bindgen-cli --version ${want}`);
}
if (useWasmOpt && !existsSync(wasmOpt)) fail("npm binaryen is missing: run `npm ci`");

// 2. Compile.
const started = Date.now();
run("cargo", ["build", "--locked", "-p", crate, "--target", "wasm32-unknown-unknown", "--profile", profile]);

// rustc's standard library is built with the `multivalue` feature, so
// the cargo output declares it, and wasm-bindgen then gives every export
// that returns a `Result` or a string several results. V8 compiles a
// dedicated JavaScript-to-wasm wrapper for each such signature while it
// compiles the module (about 0.5 ms each, 10 of them); exports that return
// through memory instead use one shared wrapper. So wasm-bindgen is shown
// the module without that declaration. Nothing in Rust's own code returns
// several values, so no code changes meaning.
function withoutMultivalue(bytes) {
  return Buffer.concat([
    bytes.subarray(0, 8),
    ...sections(bytes).map((s) => {
      if (s.id !== 0 || s.name !== "target_features") return bytes.subarray(s.start, s.end);
      const r = new Reader(bytes, s.body);
      r.name();
      const kept = [];
      for (let n = r.uleb(); n > 0; n -= 1) {
        const prefix = r.u8();
        const name = r.name();
        if (name !== "multivalue") kept.push([prefix, ...nameBytes(name)]);
      }
      return section(0, [...nameBytes("target_features"), ...vec(kept)]);
    }),
  ]);
}

// 3. Bind and optimise, unless nothing changed.
const cargoOutput = readFileSync(input);
const vectorsDir = join(root, "tests", "vectors");
const hash = createHash("sha256")
  .update(cargoOutput)
  .update(JSON.stringify({ want, useWasmOpt, wasmOptFlags, targets, script: readFileSync(fileURLToPath(import.meta.url)) }));
for (const script of ["preinit.mjs", "scratch.mjs", "scratch-worker.mjs", "split.mjs", "wasm-split.mjs", "split-workload.cjs", "wasm-bytes.mjs", "codecache.mjs"]) {
  hash.update(readFileSync(join(root, "scripts", script)));
}
// The split's profile runs the conformance vectors.
hash.update(
  readdirSync(vectorsDir)
    .sort()
    .filter((f) => f.endsWith(".json"))
    .map((f) => readFileSync(join(vectorsDir, f), "utf8"))
    .join("\n"),
);
const stamp = hash.digest("hex");
const buildFile = join(root, "pkg", "build.json");
const previous = existsSync(buildFile) ? JSON.parse(readFileSync(buildFile, "utf8")) : null;
const outputs = targets
  .map((t) => t.dir)
  .map((d) => join(root, d, `${stem}_bg.wasm`))
  .concat([join(plainNode, `${stem}_bg.wasm`), join(root, "pkg", "node", `${stem}_bg.cold.wasm`)]);
// scripts/codecache.mjs names the glue's cache by the glue's hash.
const nodeDir = join(root, "pkg", "node");
const hasCodeCache = () => existsSync(nodeDir) && readdirSync(nodeDir).some((f) => /_glue\.[0-9a-f]{16}\.cache$/.test(f));
if (previous?.stamp === stamp && outputs.every((p) => existsSync(p)) && hasCodeCache()) {
  console.log("wasm-build: pkg/ is up to date");
  process.exit(0);
}

const report = {
  stamp,
  wasmBindgen: want,
  profile,
  wasmOpt: useWasmOpt ? { package: "binaryen", flags: wasmOptFlags } : null,
  sizes: {},
};
const bindgenInput = join(root, "target", "wasm-bindgen-input", `${stem}.wasm`);
mkdirSync(dirname(bindgenInput), { recursive: true });
writeFileSync(bindgenInput, withoutMultivalue(cargoOutput));
for (const t of targets) {
  const dir = join(root, t.dir);
  rmSync(dir, { recursive: true, force: true });
  run(wasmBindgen, [
    "--target", t.target,
    "--out-dir", dir,
    "--remove-name-section",
    "--remove-producers-section",
    bindgenInput,
  ]);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: t.type }, null, 2)}\n`);
  report.sizes[t.target] = { unoptimised: sizes(join(dir, `${stem}_bg.wasm`)) };
}
if (useWasmOpt) {
  // wasm-bindgen usually emits the same module for every target: optimise
  // each distinct module once and copy the result to its twins.
  const t0 = Date.now();
  const byContent = new Map();
  for (const t of targets) {
    const wasm = join(root, t.dir, `${stem}_bg.wasm`);
    const key = createHash("sha256").update(readFileSync(wasm)).digest("hex");
    byContent.set(key, [...(byContent.get(key) || []), wasm]);
  }
  await Promise.all(
    [...byContent.values()].map(async ([first, ...twins]) => {
      await runAsync(process.execPath, [wasmOpt, ...wasmOptFlags, first, "-o", first]);
      for (const twin of twins) copyFileSync(first, twin);
    }),
  ).catch((e) => fail(e.message));
  report.wasmOpt.seconds = (Date.now() - t0) / 1000;
}
// 4. The Node build starts with the default policy compiled: one scratch
// instance compiles it at build time and its memory ships as the module's
// initial memory (scripts/preinit.mjs). The browser build stays as it is,
// within its size budget.
for (const t of targets.filter((t) => t.preinit)) {
  const wasm = join(root, t.dir, `${stem}_bg.wasm`);
  report.sizes[t.target].beforePreinit = sizes(wasm);
  rmSync(plainNode, { recursive: true, force: true });
  run(process.execPath, [join(root, "scripts", "preinit.mjs"), wasm, "--keep", join(plainNode, `${stem}_bg.wasm`)]);
  for (const f of [`${stem}.js`, "package.json"]) copyFileSync(join(root, t.dir, f), join(plainNode, f));
  // 5. Then split: a fresh process decodes only what serving records runs.
  report.sizes[t.target].beforeSplit = sizes(wasm);
  run(process.execPath, [join(root, "scripts", "split.mjs"), wasm]);
  report.sizes[t.target].cold = sizes(join(root, t.dir, `${stem}_bg.cold.wasm`));
  // 6. And its JavaScript glue loads with V8's code cache.
  run(process.execPath, [join(root, "scripts", "codecache.mjs"), join(root, t.dir, `${stem}.js`)]);
}
for (const t of targets) {
  Object.assign(report.sizes[t.target], sizes(join(root, t.dir, `${stem}_bg.wasm`)));
}

report.seconds = (Date.now() - started) / 1000;
writeFileSync(buildFile, `${JSON.stringify(report, null, 2)}\n`);
for (const [target, s] of Object.entries(report.sizes)) {
  console.log(
    `wasm-build: ${target}: ${s.raw} bytes (${s.gzip} gzip); before wasm-opt ${s.unoptimised.raw} (${s.unoptimised.gzip} gzip)`,
  );
}
