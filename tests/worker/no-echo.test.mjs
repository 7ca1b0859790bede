// Errors at the edge never quote input (tests/lib/no-echo.mjs): every value
// of the bodies people and professionals send (a consent, an opt-out, a
// plan, a proxy grant, a booking, a break-glass case's explanation and
// review) and of the break-glass headers, replaced by quote-heavy values;
// neither the answer's body nor its headers hold any of it.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { HOSTILE, checkEveryValue } from "../lib/no-echo.mjs";
import { isoIn } from "../lib/clock.mjs";
import { startWorker } from "./lib.mjs";

const BASE = "http://tiergate.test";
const JOE = "joe-patient";
let mf;
const tokens = {};

/** What a caller sees: the status, the headers that are not per request, and the body. */
async function seen(path, { tok, method = "GET", body, headers = {} }) {
  const res = await mf.dispatchFetch(`${BASE}${path}`, {
    method,
    headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const shown = [...res.headers].filter(([k]) => !["x-request-id", "date"].includes(k));
  return `${res.status} ${JSON.stringify(shown)} ${text}`;
}

const refusal = (out) => !/^2\d\d /.test(out);

before(async () => {
  mf = await startWorker({ bindings: { DEMO: "on", JWT_AUDIENCE: "tiergate" } });
  for (const key of ["joe", "anne", "gp-1b", "aed-doctor-6", "privacy-officer"]) {
    const r = await mf.dispatchFetch(`${BASE}/demo/token`, { method: "POST", body: JSON.stringify({ user: key }) });
    assert.equal(r.status, 200);
    tokens[key] = (await r.json()).token;
  }
});

after(async () => {
  await mf?.dispose();
});

test("consent and opt-out bodies", async () => {
  const consent = { profiles: ["1b"], scope: { segments: [{ segment: "summary", tier: 2 }], content: ["appointments"] }, period: { end: isoIn(30).slice(0, 10) } };
  let n = await checkEveryValue("consent", consent, (b) => seen(`/consent/Patient/${JOE}`, { tok: tokens["gp-1b"], method: "POST", body: b }), refusal);
  const optOut = { scope: { segments: [{ segment: "community", tier: 3 }], categories: ["hiv_aids"], entries: ["Condition/x"] } };
  n += await checkEveryValue("opt-out", optOut, (b) => seen(`/consent/Patient/${JOE}/opt-out`, { tok: tokens.joe, method: "POST", body: b }), refusal);
  assert.ok(n > 20, `${n} refusals`);
});

test("plan, proxy grant and booking bodies", async () => {
  const plan = { preferred_name: "Joe", emergency_wishes: "Call Anne", preferences: ["A female doctor"], goals: [{ text: "Walk", set_with: "trainer" }] };
  let n = await checkEveryValue("plan", plan, (b) => seen(`/plan/Patient/${JOE}`, { tok: tokens.joe, method: "PUT", body: b }), refusal);
  const grant = { grantee: "nhs-login-susan-carney", grantee_name: "Susan", scopes: ["access-log"], expires: isoIn(30).slice(0, 10) };
  n += await checkEveryValue("grant", grant, (b) => seen(`/proxy/Patient/${JOE}`, { tok: tokens.joe, method: "POST", body: b }), refusal);
  const start = isoIn(9);
  const booking = { resourceType: "Appointment", status: "booked", start, end: isoIn(9, 15 * 60_000), serviceType: [{ text: "Blood pressure review" }], participant: [{ actor: { reference: `Patient/${JOE}` } }] };
  n += await checkEveryValue("booking", booking, (b) => seen("/fhir/Appointment", { tok: tokens.anne, method: "POST", body: b }), refusal);
  assert.ok(n > 20, `${n} refusals`);
});

test("break-glass headers, explanation and review", async () => {
  const statement = { reason: "unconscious", detail: "brought in unresponsive" };
  const ask = (s) =>
    seen("/fhir/Patient/margaret-patient/$everything", {
      tok: tokens["aed-doctor-6"],
      headers: { "x-tiergate-break-glass": s.reason, "x-tiergate-break-glass-detail": s.detail },
    });
  // Header values are bytes: the values a header can carry.
  const latin1 = HOSTILE.filter((v) => [...v].every((c) => c.charCodeAt(0) < 256));
  const n = await checkEveryValue("break glass", statement, ask, refusal, latin1);
  // Every unknown reason is refused; a free-text detail is accepted.
  assert.ok(n >= latin1.length, `${n} refusals`);
  const cases = JSON.parse((await seen("/cases", { tok: tokens["aed-doctor-6"] })).replace(/^\d+ \[.*?\] /, "")).cases;
  assert.ok(cases.length > 0, "break glass opened a case");
  const id = cases[0].id;
  await checkEveryValue("explanation", { explanation: "Arrived unconscious" }, (b) => seen(`/cases/${id}/explanation`, { tok: tokens["aed-doctor-6"], method: "POST", body: b }), refusal);
  await checkEveryValue("review", { decision: "appropriate", note: "fine" }, (b) => seen(`/cases/${id}/review`, { tok: tokens["privacy-officer"], method: "POST", body: b }), refusal);
});
