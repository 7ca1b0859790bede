// Loading the conformance vectors (tests/vectors/, see its README) and
// checking a runtime's output against them: the body byte for byte, the
// decisions value for value. Shared by the Node, Chromium and workerd suites.

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const vectorsDir = join(root, "tests", "vectors");

/** Every vector, sorted by file name, with its record's bytes. */
export function loadVectors() {
  const files = readdirSync(vectorsDir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  assert.ok(files.length > 0, `no vectors in ${vectorsDir}`);
  return files.map((file) => {
    const vector = JSON.parse(readFileSync(join(vectorsDir, file), "utf8"));
    const name = file.replace(/\.json$/, "");
    assert.equal(vector.name, name, `${file}: \`name\` must equal the file name`);
    assert.equal(typeof vector.record, "string", `${file}: \`record\` must be a path`);
    const record = new Uint8Array(readFileSync(join(vectorsDir, vector.record)));
    return { name, vector, record };
  });
}

/** Where two bodies first differ, by byte, with context either side. */
export function bodyDiff(expected, actual) {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(actual, "utf8");
  let at = 0;
  const n = Math.min(a.length, b.length);
  while (at < n && a[at] === b[at]) at += 1;
  const context = (buf) => buf.subarray(Math.max(0, at - 80), at + 80).toString("utf8");
  return (
    `    body differs at byte ${at} (expected ${a.length} bytes, got ${b.length})\n` +
    `      expected: …${context(a)}…\n` +
    `      actual:   …${context(b)}…`
  );
}

/** JSON pointers at which two JSON values differ (at most `limit`). */
export function jsonDiff(path, expected, actual, out = [], limit = 12) {
  if (out.length >= limit) return out;
  const kind = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  const show = (v) => (v === undefined ? "nothing" : JSON.stringify(v));
  if (kind(expected) === "object" && kind(actual) === "object") {
    for (const k of Object.keys(expected)) {
      if (k in actual) jsonDiff(`${path}/${k}`, expected[k], actual[k], out, limit);
      else out.push(`    ${path}/${k}: expected ${show(expected[k])}, missing`);
    }
    for (const k of Object.keys(actual)) {
      if (!(k in expected)) out.push(`    ${path}/${k}: unexpected ${show(actual[k])}`);
    }
  } else if (kind(expected) === "array" && kind(actual) === "array") {
    const n = Math.min(expected.length, actual.length);
    for (let i = 0; i < n; i += 1) jsonDiff(`${path}/${i}`, expected[i], actual[i], out, limit);
    if (expected.length !== actual.length) {
      out.push(`    ${path}: expected ${expected.length} items, got ${actual.length}`);
    }
  } else if (expected !== actual) {
    out.push(`    ${path}: expected ${show(expected)}, got ${show(actual)}`);
  }
  return out;
}

/**
 * Throws an AssertionError listing every difference between what a runtime
 * produced ({outcome, body, summary, decisions}) and the vector's
 * expectation. `runtime` names the runtime in the message.
 */
export function check(runtime, name, expected, actual) {
  const problems = [];
  if (actual.outcome !== expected.outcome) {
    problems.push(`    outcome: expected ${JSON.stringify(expected.outcome)}, got ${JSON.stringify(actual.outcome)}`);
  }
  if (typeof actual.body !== "string") {
    problems.push(`    body: expected a string, got ${typeof actual.body}`);
  } else if (!Buffer.from(actual.body, "utf8").equals(Buffer.from(expected.body, "utf8"))) {
    problems.push(bodyDiff(expected.body, actual.body));
  }
  jsonDiff("/decisions", expected.decisions, actual.decisions, problems);
  // The summary `redact` returns is the one `explain` returns.
  jsonDiff("/summary", expected.decisions.summary, actual.summary, problems);
  if (problems.length > 0) {
    throw new assert.AssertionError({
      message: `${runtime}: ${name} differs from the vector:\n${problems.join("\n")}`,
    });
  }
}
