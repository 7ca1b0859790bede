// Individual approvals (framework 7.2), end to end in workerd (Miniflare)
// with the demo on: Community tier 3 is reached case by case. A GP (1b,
// whose grant reaches it) sees Susan's wider community record only while
// an approval the privacy officer recorded for that GP and Susan is in
// force; every approval, its end and each read it opened are audited and
// in Susan's own access log; only the privacy officer records them.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { demoViewer } from "../lib/demo.mjs";
import { jsonCaller, startWorker } from "./lib.mjs";

const SUSAN = "susan-patient";
// The CPN's note: Community tier 3 (table 2, "wider community record").
const C3_ENTRY = "susan-cpn-note";
const OFFICER = "privacy-officer";
let mf;
const tokens = {};

const call = jsonCaller(() => mf);

const ids = (r) => (r.json().entry ?? []).map((e) => e.resource.id);
const readSusan = (who = "gp-1b") => call(`/fhir/Patient/${SUSAN}/$everything`, { tok: tokens[who] });
const gp = demoViewer("gp-1b");

before(async () => {
  mf = await startWorker({ bindings: { DEMO: "on", JWT_AUDIENCE: "tiergate" } });
  for (const key of [OFFICER, "gp-1b", "susan"]) {
    const r = await call("/demo/token", { method: "POST", body: { user: key } });
    assert.equal(r.status, 200, r.text);
    tokens[key] = r.json().token;
  }
});

after(async () => {
  await mf?.dispose();
});

let approval;

test("without an approval the GP sees Susan's record up to Community tier 2, and is told an approval would show more", async () => {
  const r = await readSusan();
  assert.equal(r.status, 200, r.text);
  const seen = ids(r);
  assert.ok(seen.includes(SUSAN), "the record is served");
  assert.ok(!seen.includes(C3_ENTRY), "Community tier 3 needs an approval");
  assert.equal(r.headers.get("x-tiergate-approval"), "required");
  assert.equal(r.headers.get("x-tiergate-approval-expires"), null);
  assert.ok(!r.text.includes(C3_ENTRY), "nothing about the entry is in the answer");
});

test("only the privacy officer records, lists or ends approvals", async () => {
  const body = { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: 30, reason: "MDT case review" };
  for (const who of ["gp-1b", "susan"]) {
    assert.equal((await call("/privacy/approvals", { tok: tokens[who], method: "POST", body })).status, 403, who);
    assert.equal((await call("/privacy/approvals", { tok: tokens[who] })).status, 403, who);
  }
  assert.equal((await call("/privacy/approvals", { method: "POST", body })).status, 401);
});

test("an approval must name a user, a patient, a reason and no more days than the policy allows", async () => {
  const listed = (await call("/privacy/approvals", { tok: tokens[OFFICER] })).json();
  assert.deepEqual(listed.placements, ["community-3"]);
  const max = listed.max_days;
  assert.ok(Number.isInteger(max) && max > 0);
  for (const bad of [
    { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: max + 1, reason: "r" },
    { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: 0, reason: "r" },
    { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: 3, reason: "   " },
    { user_id: "", organisation: gp.organisation, patient: SUSAN, days: 3, reason: "r" },
    { user_id: gp.user_id, patient: SUSAN, days: 3, reason: "r" },
    { user_id: gp.user_id, organisation: gp.organisation, patient: "../x", days: 3, reason: "r" },
    { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: 3, reason: "r", segment: "summary", tier: 3 },
  ]) {
    const r = await call("/privacy/approvals", { tok: tokens[OFFICER], method: "POST", body: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
});

test("an approval for the same user id at another organisation opens nothing", async () => {
  const r = await call("/privacy/approvals", { tok: tokens[OFFICER], method: "POST", body: { user_id: gp.user_id, organisation: "RVY", patient: SUSAN, days: 5, reason: "wrong organisation" } });
  assert.equal(r.status, 201, r.text);
  assert.ok(!ids(await readSusan()).includes(C3_ENTRY));
});

test("an approval for another patient opens nothing in Susan's record", async () => {
  const r = await call("/privacy/approvals", { tok: tokens[OFFICER], method: "POST", body: { user_id: gp.user_id, organisation: gp.organisation, patient: "joe-patient", days: 5, reason: "Joe's MDT" } });
  assert.equal(r.status, 201, r.text);
  assert.ok(!ids(await readSusan()).includes(C3_ENTRY));
});

test("the privacy officer approves; the GP then sees Community tier 3 until the approval ends", async () => {
  const r = await call("/privacy/approvals", { tok: tokens[OFFICER], method: "POST", body: { user_id: gp.user_id, organisation: gp.organisation, patient: SUSAN, days: 30, reason: "MDT case review IG-31" } });
  assert.equal(r.status, 201, r.text);
  approval = r.json();
  assert.equal(approval.user_id, gp.user_id);
  assert.equal(approval.patient, SUSAN);
  assert.equal(`${approval.segment}-${approval.tier}`, "community-3");
  assert.equal(Date.parse(approval.expires) - Date.parse(approval.starts), 30 * 86400 * 1000);

  const read = await readSusan();
  assert.equal(read.status, 200);
  assert.ok(ids(read).includes(C3_ENTRY), "the approval opens Community tier 3");
  assert.equal(read.headers.get("x-tiergate-approval"), null);
  assert.equal(read.headers.get("x-tiergate-approval-expires"), approval.expires);

  const list = (await call(`/privacy/approvals?patient=${SUSAN}`, { tok: tokens[OFFICER] })).json().approvals;
  const mine = list.find((a) => a.id === approval.id);
  assert.equal(mine.in_force, true);
  assert.equal(mine.reason, "MDT case review IG-31");
});

test("the audit names the approval behind each read it opened; Susan's access log shows it", async () => {
  const ndjson = await call(`/privacy/audit.ndjson?patient=${SUSAN}`, { tok: tokens[OFFICER] });
  assert.equal(ndjson.status, 200);
  const events = ndjson.text.trim().split("\n").map((l) => JSON.parse(l));
  const details = (e) => (e.entity ?? []).flatMap((x) => x.detail ?? []).map((d) => [d.type, d.valueString]);
  const grant = events.find((e) => e.subtype?.[0]?.code === "approval-grant" && details(e).some(([t, v]) => t === "approval" && v === approval.id));
  assert.ok(grant, "the approval is audited");
  assert.ok(details(grant).some(([t, v]) => t === "approved-user" && v === gp.user_id));
  const opened = events.filter((e) => e.subtype?.[0]?.code !== "approval-grant" && details(e).some(([t, v]) => t === "approval" && v === approval.id));
  assert.ok(opened.length >= 1, "the read it opened names it");

  const log = (await call(`/access/Patient/${SUSAN}`, { tok: tokens.susan })).json().entries;
  const line = log.find((e) => e.action === "approval-grant" && e.approved_user === gp.user_id);
  assert.ok(line, "Susan sees the approval");
  assert.equal(line.approved_until, approval.expires);
  assert.ok(log.some((e) => e.user_id === gp.user_id && e.by_approval === true), "and the reads it opened");
  // The officer's reason is for the audit, not for the log.
  assert.ok(!JSON.stringify(log).includes("IG-31"));
});

test("ended early, the approval opens nothing; it cannot be ended twice", async () => {
  const r = await call(`/privacy/approvals/${encodeURIComponent(approval.id)}/revoke`, { tok: tokens[OFFICER], method: "POST", body: {} });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json().revoked);
  const read = await readSusan();
  assert.ok(!ids(read).includes(C3_ENTRY));
  assert.equal(read.headers.get("x-tiergate-approval"), "required");
  assert.equal((await call(`/privacy/approvals/${encodeURIComponent(approval.id)}/revoke`, { tok: tokens[OFFICER], method: "POST", body: {} })).status, 409);
  assert.equal((await call("/privacy/approvals/no-such/revoke", { tok: tokens[OFFICER], method: "POST", body: {} })).status, 404);
  const log = (await call(`/access/Patient/${SUSAN}`, { tok: tokens.susan })).json().entries;
  assert.ok(log.some((e) => e.action === "approval-revoke" && e.approved_user === gp.user_id));
});
