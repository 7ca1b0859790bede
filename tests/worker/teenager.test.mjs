// A parent and a teenager (policy `proxies.ages`), end to end in workerd
// with the demo on: Grace's grant for Maya, 14, was made by someone else
// and names appointments, booking and the record. Until Maya records her
// own agreement, Grace has appointments and booking only: /me says so, the
// record she is served holds only appointments and care plans, and booking
// is still hers. Maya agrees in her own portal's API; then Grace sees the
// record. Nobody but Maya can agree.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { jsonCaller, startWorker } from "./lib.mjs";

const MAYA = "maya-patient";
const GRANT = "demo-grant-grace-maya";
let mf;
const tokens = {};

const call = jsonCaller(() => mf);

const types = (r) => (r.json().entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
const forMaya = async () => (await call("/me", { tok: tokens.grace })).json().acting_for.find((a) => a.patient === MAYA);

before(async () => {
  mf = await startWorker({ bindings: { DEMO: "on", JWT_AUDIENCE: "tiergate" } });
  for (const key of ["grace", "maya", "anne"]) {
    const r = await call("/demo/token", { method: "POST", body: { user: key } });
    assert.equal(r.status, 200, r.text);
    tokens[key] = r.json().token;
  }
});

after(async () => {
  await mf?.dispose();
});

test("before Maya agrees, Grace has appointments and booking only, and /me says what waits for Maya", async () => {
  const g = await forMaya();
  assert.deepEqual(g.granted_scopes, ["appointments", "booking", "record"]);
  assert.deepEqual(g.scopes, ["appointments", "booking"]);
  assert.deepEqual(g.awaiting_agreement, ["record"]);
  const r = await call(`/fhir/Patient/${MAYA}/$everything`, { tok: tokens.grace });
  assert.equal(r.status, 200, r.text);
  const seen = types(r);
  assert.ok(seen.includes("Appointment/maya-appt-asthma-review"));
  assert.ok(seen.includes("CarePlan/maya-asthma-plan"));
  for (const hidden of ["Condition/maya-cond-asthma", "MedicationStatement/maya-med-salbutamol", "AllergyIntolerance/maya-allergy"]) {
    assert.ok(!seen.includes(hidden), `${hidden} before Maya agreed`);
  }
  // Grace's sharing and access log are not hers at this age.
  assert.equal((await call(`/access/Patient/${MAYA}`, { tok: tokens.grace })).status, 403);
});

test("only Maya can agree to Grace's access", async () => {
  assert.equal((await call(`/proxy/Patient/${MAYA}/${GRANT}/agree`, { tok: tokens.grace, method: "POST" })).status, 403);
  assert.equal((await call(`/proxy/Patient/${MAYA}/${GRANT}/agree`, { tok: tokens.anne, method: "POST" })).status, 404);
  assert.equal((await forMaya()).scopes.includes("record"), false);
});

test("once Maya agrees, Grace sees the record", async () => {
  const r = await call(`/proxy/Patient/${MAYA}/${GRANT}/agree`, { tok: tokens.maya, method: "POST" });
  assert.equal(r.status, 200, r.text);
  const g = await forMaya();
  assert.deepEqual(g.scopes, ["appointments", "booking", "record"]);
  assert.deepEqual(g.awaiting_agreement, []);
  const seen = types(await call(`/fhir/Patient/${MAYA}/$everything`, { tok: tokens.grace }));
  assert.ok(seen.includes("Condition/maya-cond-asthma"));
  assert.ok(seen.includes("MedicationStatement/maya-med-salbutamol"));
  // Maya's access log shows her agreement and Grace's reads, as her proxy.
  const log = (await call(`/access/Patient/${MAYA}`, { tok: tokens.maya })).json().entries;
  assert.ok(log.some((e) => e.action === "proxy-agree"));
  assert.ok(log.some((e) => e.as_proxy && e.action === "operation"));
});
