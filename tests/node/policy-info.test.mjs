// Engine.policyInfo(): the names a portal shows come from the compiled
// policy document, equal to crates/core/policy/default.json (the portals
// keep no copy of them).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Engine } from "./engine.mjs";

const doc = JSON.parse(readFileSync(new URL("../../crates/core/policy/default.json", import.meta.url), "utf8"));
const engine = new Engine();
const info = JSON.parse(engine.policyInfo());

test("segments and profiles: ids and names equal the policy document, in its order", () => {
  assert.deepEqual(info.segments, doc.segments.map(({ id, name }) => ({ id, name })));
  assert.deepEqual(info.profiles, doc.profiles.map(({ id, name, group }) => ({ id, name, group })));
});

test("content lines equal the policy document and contentLines()", () => {
  assert.deepEqual(info.contentLines, doc.content.map(({ id, segment, tier, label }) => ({ id, segment, tier, label })));
  assert.deepEqual(info.contentLines, JSON.parse(engine.contentLines()));
});

test("break glass: reasons and time limit equal the policy document", () => {
  assert.deepEqual(info.breakGlass.reasons, doc.break_glass.reasons.map(({ code, display }) => ({ code, display })));
  assert.equal(info.breakGlass.maxMinutes, doc.break_glass.max_minutes);
  assert.ok(info.breakGlass.reasons.length > 0);
});

test("a custom policy's names come back, not the default's", () => {
  const custom = structuredClone(doc);
  custom.segments[0].name = "Core summary";
  custom.break_glass.max_minutes = 60;
  const e = new Engine(JSON.stringify(custom));
  const i = JSON.parse(e.policyInfo());
  assert.equal(i.segments[0].name, "Core summary");
  assert.equal(i.breakGlass.maxMinutes, 60);
  e.free();
});
