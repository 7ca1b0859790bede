// The `engine` cases of the hostile catalogue (tests/hostile/catalogue.json)
// for the wasm builds: each case's input bytes as a replayable vector with
// the fixed viewer, consent and time of crates/core/tests/hostile.rs, and
// the check of what the case expects. Node, Chromium and workerd replay the
// same vectors; their outputs must be byte-identical.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { root } from "./vectors.mjs";

export const VIEWER = { user_id: "u", organisation: "RVY", profile: "2a", purpose: "direct-care", training: { expires: "2027-01-01" } };
export const CONSENT = { directives: [{ id: "c", kind: "permit", recorded: "2026-01-01", actors: { organisations: ["RVY"] } }] };
export const NOW = "2026-11-25T12:00:00Z";

/** Every `engine` case: its name, the vector to replay, its record bytes and what it expects. */
export function engineCases() {
  const catalogue = JSON.parse(readFileSync(join(root, "tests", "hostile", "catalogue.json"), "utf8"));
  const cases = catalogue.cases.filter((c) => c.layer === "engine");
  assert.ok(cases.length >= 30, `${cases.length} engine cases`);
  return cases.map((c) => {
    assert.equal(c.kind, "record", `${c.name}: engine cases are records`);
    assert.equal(typeof c.input, "string", `${c.name}: engine cases give their input as text`);
    return {
      name: c.name,
      vector: { viewer: VIEWER, consent: CONSENT, now: NOW, setting: null },
      record: new TextEncoder().encode(c.input),
      expect: c.expect,
    };
  });
}

/** The case's expectations of a replay (`{outcome, body}`). */
export function checkExpect(name, expect, actual) {
  assert.equal(actual.outcome, expect.outcome, `${name}: outcome`);
  for (const s of expect.absent ?? []) assert.ok(!actual.body.includes(s), `${name}: ${JSON.stringify(s)} in the output`);
  for (const s of expect.present ?? []) assert.ok(actual.body.includes(s), `${name}: ${JSON.stringify(s)} missing`);
}
