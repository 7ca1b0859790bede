// Errors from the wasm engine never quote input (tests/lib/no-echo.mjs):
// every value of a viewer, a consent (compact and FHIR), a plan, a care
// plan and the free text of a policy, replaced by quote-heavy values.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { checkEveryValue } from "../lib/no-echo.mjs";
import { Engine } from "./engine.mjs";
import { root } from "./lib/vectors.mjs";

const engine = new Engine();
const NOW = "2026-11-25T12:00:00Z";
const RECORD = JSON.stringify({
  resourceType: "Condition",
  id: "c",
  meta: { tag: [{ system: "https://fhir.tiergate.example/CodeSystem/care-setting", code: "primary_care" }] },
  code: { text: "Asthma" },
});
const VIEWER = { user_id: "u1", name: "Dr A", organisation: "RVY", profile: "1b", purpose: "direct-care", training: { completed: "2026-01-01", expires: "2027-01-01" }, break_glass: { reason: "unconscious", detail: "in AED", started: "2026-11-25T11:30:00Z" } };
const CONSENT = { directives: [{ id: "c1", kind: "permit", recorded: "2026-01-01T00:00:00Z", period: { start: "2026-01-01", end: "2027-01-01" }, actors: { organisations: ["RVY"], profiles: ["1b"], users: ["u1"] }, scope: { segments: [{ segment: "summary", tier: 2 }], content: ["appointments"] } }, { id: "o1", kind: "deny", recorded: "2026-02-01", scope: { categories: ["hiv_aids"], entries: ["Condition/x"] } }] };
const FHIR_CONSENT = { resourceType: "Consent", id: "fc1", status: "active", dateTime: "2026-01-01T00:00:00Z", provision: { type: "permit", period: { end: "2027-01-01" }, actor: [{ reference: { identifier: { system: "https://fhir.nhs.uk/Id/ods-organization-code", value: "RVY" } } }], provision: [{ type: "deny", securityLabel: [{ system: "https://fhir.tiergate.example/CodeSystem/exclusion-category", code: "hiv_aids" }] }] } };
const PLAN = { preferred_name: "Joe", emergency_wishes: "Call Anne", preferences: ["A female doctor"], goals: [{ text: "Walk", set_with: "trainer", due: "2027-06-30" }] };

/** What a caller sees of a call: the error's name, message and fields, or "ok". */
function seen(call) {
  try {
    call();
    return "ok";
  } catch (e) {
    return JSON.stringify({ name: e.name, message: e.message, ...e });
  }
}

const refusal = (out) => out !== "ok";

test("viewer errors quote nothing", async () => {
  const n = await checkEveryValue("viewer", VIEWER, (v) => seen(() => engine.redact(RECORD, v, CONSENT, NOW, null)), refusal);
  assert.ok(n > 20, `${n} refusals`);
});

test("consent errors quote nothing, compact and FHIR", async () => {
  let n = await checkEveryValue("consent", CONSENT, (c) => seen(() => engine.redact(RECORD, VIEWER, c, NOW, null)), refusal);
  n += await checkEveryValue("fhir consent", FHIR_CONSENT, (c) => seen(() => engine.redact(RECORD, VIEWER, c, NOW, null)), refusal);
  assert.ok(n > 40, `${n} refusals`);
});

test("plan errors quote nothing", async () => {
  const n = await checkEveryValue("plan", PLAN, (p) => seen(() => engine.planToCarePlan("joe-patient", p, NOW)), refusal);
  assert.ok(n > 0, `${n} refusals`);
  const careplan = JSON.parse(engine.planToCarePlan("joe-patient", PLAN, NOW));
  const m = await checkEveryValue("care plan", careplan, (c) => seen(() => engine.planFromCarePlan(c)), refusal);
  assert.ok(m > 0, `${m} refusals`);
});

test("request errors quote nothing: now and setting", async () => {
  const n = await checkEveryValue("request", { now: NOW, setting: "primary_care" }, (r) => seen(() => engine.redact(RECORD, VIEWER, CONSENT, r.now, r.setting)), refusal);
  assert.ok(n > 5, `${n} refusals`);
});

test("policy errors quote nothing", async () => {
  const policy = JSON.parse(readFileSync(join(root, "crates", "core", "policy", "default.json"), "utf8"));
  // Its header and segments (names, letters, tier counts), not the ids a
  // problem names as its rule.
  const part = { policy: policy.policy, segments: policy.segments.map(({ id, ...rest }) => rest) };
  const whole = (p) => ({ ...policy, policy: p.policy, segments: p.segments.map((s, i) => ({ id: policy.segments[i].id, ...s })) });
  const n = await checkEveryValue("policy", part, (p) => seen(() => new Engine(whole(p))), refusal);
  assert.ok(n > 5, `${n} refusals`);
});
