// Proactive audit at the edge (issue 8), end to end in workerd (Miniflare)
// with the demo on: break glass opens a case that the professional
// explains and a privacy officer closes; the policy's audit rules run over
// the audit table and raise alerts; exports and monitoring; none of it
// open to anyone without audit access, and none of it carrying record
// content or (in monitoring) patient identifiers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { demoViewer } from "../lib/demo.mjs";
import { root, startWorker } from "./lib.mjs";

const BASE = "http://tiergate.test";
let mf;
const tokens = {};
const requestIds = [];
const readStatus = [];

async function call(path, { tok, headers = {}, method = "GET", body } = {}) {
  const res = await mf.dispatchFetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(tok ? { authorization: `Bearer ${tok}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  requestIds.push(res.headers.get("x-request-id"));
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

async function read(who, patient, headers = {}) {
  const r = await call(`/fhir/Patient/${patient}/$everything`, { tok: tokens[who], headers });
  readStatus.push(r.status);
  return r;
}

const viewerFile = (key) => demoViewer(key);
const OFFICER = "privacy-officer";

before(async () => {
  mf = await startWorker({ bindings: { DEMO: "on", JWT_AUDIENCE: "tiergate" } });
  for (const key of [OFFICER, "aed-doctor-6", "gp-1b", "community-social-worker-3b", "joe"]) {
    const r = await call("/demo/token", { method: "POST", body: { user: key } });
    assert.equal(r.status, 200, r.text);
    tokens[key] = r.json().token;
  }
});

after(async () => {
  await mf?.dispose();
});

test("the privacy officer sees no clinical content", async () => {
  const r = await read(OFFICER, "joe-patient");
  assert.equal(r.status, 200);
  const ids = (r.json().entry ?? []).map((e) => e.resource.resourceType);
  assert.deepEqual(ids, [], "no entry of any segment");
});

test("only audit access opens the privacy endpoints", async () => {
  for (const path of ["/privacy/alerts", "/privacy/audit.csv", "/privacy/audit.ndjson", "/metrics"]) {
    assert.equal((await call(path, { tok: tokens["gp-1b"] })).status, 403, path);
    assert.equal((await call(path)).status, 401, path);
  }
});

let caseId;

test("break glass opens a case; the professional explains, the officer closes it", async () => {
  const bg = await read("aed-doctor-6", "margaret-patient", {
    "x-tiergate-break-glass": "unconscious",
    "x-tiergate-break-glass-detail": "brought in unresponsive",
  });
  assert.equal(bg.status, 200, bg.text);
  assert.ok(bg.headers.get("x-tiergate-break-glass-expires"), "the window's end is given");
  // A second request in the same window opens no second case.
  await read("aed-doctor-6", "margaret-patient", { "x-tiergate-break-glass": "unconscious" });
  const all = (await call("/cases", { tok: tokens[OFFICER] })).json().cases;
  assert.equal(all.length, 1);
  const c = all[0];
  caseId = c.id;
  assert.equal(c.status, "awaiting-explanation");
  assert.equal(c.user_id, viewerFile("aed-doctor-6").user_id);
  assert.equal(c.patient, "margaret-patient");
  assert.match(c.reason_display, /unconscious/i);
  assert.equal(c.expires, bg.headers.get("x-tiergate-break-glass-expires"));
  // The doctor sees their own case; another professional sees none.
  assert.equal((await call("/cases", { tok: tokens["aed-doctor-6"] })).json().cases.length, 1);
  assert.equal((await call("/cases", { tok: tokens["gp-1b"] })).json().cases.length, 0);
  // Closing before an explanation is a conflict; only the officer reviews.
  const early = await call(`/cases/${caseId}/review`, { tok: tokens[OFFICER], method: "POST", body: { decision: "appropriate" } });
  assert.equal(early.status, 409);
  assert.equal((await call(`/cases/${caseId}/review`, { tok: tokens["aed-doctor-6"], method: "POST", body: { decision: "appropriate" } })).status, 403);
  assert.equal((await call(`/cases/${caseId}/explanation`, { tok: tokens["gp-1b"], method: "POST", body: { explanation: "not mine" } })).status, 404);
  const explained = await call(`/cases/${caseId}/explanation`, {
    tok: tokens["aed-doctor-6"],
    method: "POST",
    body: { explanation: "Unresponsive on arrival; I needed her medication and allergies." },
  });
  assert.equal(explained.status, 200, explained.text);
  assert.equal(explained.json().status, "awaiting-review");
  const closed = await call(`/cases/${caseId}/review`, { tok: tokens[OFFICER], method: "POST", body: { decision: "appropriate", note: "Justified." } });
  assert.equal(closed.status, 200, closed.text);
  const done = closed.json();
  assert.equal(done.status, "closed-appropriate");
  assert.deepEqual(done.history.map((h) => h.action), ["opened", "explained", "reviewed:appropriate"]);
  const filtered = (await call("/cases?status=closed-appropriate", { tok: tokens[OFFICER] })).json().cases;
  assert.equal(filtered.length, 1);
  assert.equal((await call("/cases?status=awaiting-review", { tok: tokens[OFFICER] })).json().cases.length, 0);
});

test("the audit rules raise alerts with the events that triggered them", async () => {
  // Joe opts out of Diagnostics for everyone; a professional then asks for his record.
  const out = await call("/consent/Patient/joe-patient/opt-out", { tok: tokens.joe, method: "POST", body: { scope: { segments: [{ segment: "diagnostics" }] } } });
  assert.equal(out.status, 201, out.text);
  const asked = await read("aed-doctor-6", "joe-patient");
  assert.equal(asked.status, 200);
  // Probing: repeated requests with entries withheld.
  for (let i = 0; i < 5; i += 1) await read("community-social-worker-3b", "joe-patient");
  const r = await call("/privacy/alerts?status=all", { tok: tokens[OFFICER] });
  assert.equal(r.status, 200, r.text);
  const { alerts, rules } = r.json();
  assert.ok(rules.length >= 7);
  const by = (rule) => alerts.filter((a) => a.rule === rule);
  const glass = by("break-glass");
  assert.ok(glass.length >= 1);
  assert.equal(glass[0].patient, "margaret-patient");
  assert.ok(glass[0].events.length >= 1);
  const optedOut = by("opted-out-segment").find((a) => a.events.at(-1) === asked.headers.get("x-request-id"));
  assert.ok(optedOut, "the request reaching a segment the patient opted out of raised an alert");
  assert.equal(optedOut.patient, "joe-patient");
  assert.equal(optedOut.user_id, viewerFile("aed-doctor-6").user_id);
  assert.ok(by("probing").some((a) => a.user_id === viewerFile("community-social-worker-3b").user_id), "probing");
  // Filters narrow; scanning again raises nothing twice.
  const onlyGlass = (await call("/privacy/alerts?status=all&rule=break-glass", { tok: tokens[OFFICER] })).json().alerts;
  assert.equal(onlyGlass.length, glass.length);
  const again = (await call("/privacy/alerts?status=all", { tok: tokens[OFFICER] })).json().alerts;
  assert.equal(again.length, alerts.length);
  // Close one with a note.
  const closed = await call(`/privacy/alerts/${encodeURIComponent(glass[0].id)}`, { tok: tokens[OFFICER], method: "POST", body: { status: "closed", note: "Case closed as appropriate." } });
  assert.equal(closed.status, 200, closed.text);
  assert.equal((await call("/privacy/alerts?status=open&rule=break-glass", { tok: tokens[OFFICER] })).json().alerts.length, glass.length - 1);
  assert.ok(!JSON.stringify(again).includes("brought in unresponsive"), "no free text in alerts");
});

test("exports: CSV and FHIR AuditEvent NDJSON with the same rows", async () => {
  const user = viewerFile("aed-doctor-6").user_id;
  const csv = await call(`/privacy/audit.csv?user=${encodeURIComponent(user)}`, { tok: tokens[OFFICER] });
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get("content-type"), /text\/csv/);
  const lines = csv.text.trim().split("\r\n");
  assert.equal(lines[0].split(",")[0], "id");
  const nd = await call(`/privacy/audit.ndjson?user=${encodeURIComponent(user)}`, { tok: tokens[OFFICER] });
  const events = nd.text.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events.length, lines.length - 1);
  assert.ok(events.length >= 3);
  for (const e of events) {
    assert.equal(e.resourceType, "AuditEvent");
    assert.equal(e.agent.find((a) => a.requestor).who.identifier.value, user);
  }
});

test("monitoring counts shared records and rates, with no patient identifiers", async () => {
  const r = await call("/metrics", { tok: tokens[OFFICER] });
  assert.equal(r.status, 200, r.text);
  const m = r.json();
  assert.equal(m.accesses, readStatus.filter((s) => s === 200).length);
  assert.ok(m.by_profile["6"] >= 3);
  assert.ok(Object.keys(m.by_placement).every((p) => /^(summary|community|diagnostics|hospitals)-[1-3]$/.test(p)));
  assert.ok(m.break_glass.count >= 2 && m.break_glass.rate > 0 && m.break_glass.rate < 1);
  assert.ok(m.consent.patients_accessed >= 2);
  assert.ok(m.consent.opt_out_rate > 0, "Joe's opt-out counts");
  for (const id of ["joe-patient", "margaret-patient", "Whitfield", "Lowry"]) assert.ok(!r.text.includes(id), id);
});

test("every request was audited, case work included", async () => {
  const db = await mf.getD1Database("DB");
  const rows = (await db.prepare("SELECT id, action FROM audit_events").all()).results;
  const ids = new Set(rows.map((r) => r.id));
  for (const id of requestIds) assert.ok(ids.has(id), `request ${id} has an audit row`);
  for (const action of ["case-explanation", "case-review", "alert-update", "audit-export", "metrics"]) {
    assert.ok(rows.some((r) => r.action === action), action);
  }
});

// Framework 6.3 and the privacy officer's role: the audit trail says what
// was withheld by reason class only. Brenda's record holds HIV and abuse
// entries; no row, export, metric or alert names either category (or any
// other), even though the officer can filter the export by patient.
test("no audit output names an excluded category", async () => {
  for (const who of ["gp-1b", "community-social-worker-3b", "aed-doctor-6"]) await read(who, "brenda-patient");
  const policy = JSON.parse(readFileSync(join(root, "crates", "core", "policy", "default.json"), "utf8"));
  const categories = policy.exclusions.categories.map((c) => c.id);
  const outputs = [
    (await call("/privacy/audit.csv?patient=brenda-patient", { tok: tokens[OFFICER] })).text,
    (await call("/privacy/audit.ndjson?patient=brenda-patient", { tok: tokens[OFFICER] })).text,
    (await call("/metrics", { tok: tokens[OFFICER] })).text,
    (await call("/privacy/alerts", { tok: tokens[OFFICER] })).text,
  ];
  const db = await mf.getD1Database("DB");
  outputs.push(JSON.stringify((await db.prepare("SELECT * FROM audit_events").all()).results));
  assert.ok(outputs[1].includes("withheld:excluded"), "the class is recorded");
  for (const text of outputs) {
    for (const c of categories) assert.ok(!text.includes(c), `${c} named`);
    assert.ok(!text.includes("excluded_category"), "a category reason");
  }
});
