// The patient and carer side of the edge, end to end: the built worker in
// workerd (Miniflare) with the demo on (demo origin, demo sign-in, local
// D1). People read their own record; carers act within their grant;
// sharing choices, plans, bookings, access logs and reminders go through
// the edge and are audited. Expected records come from the nodejs build
// of the same core.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { isoIn, now, nowMs } from "../lib/clock.mjs";
import { demoFile, demoViewer } from "../lib/demo.mjs";
import { engine, ids, startWorker } from "./lib.mjs";

const BASE = "http://tiergate.test";
const JOE = "joe-patient";
let mf;
let core;
let users;
const tokens = {};
const requestIds = [];

async function call(path, { tok, headers = {}, method = "GET", body } = {}) {
  const res = await mf.dispatchFetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(tok ? { authorization: `Bearer ${tok}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  requestIds.push(res.headers.get("x-request-id"));
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

async function signIn(key) {
  const r = await call("/demo/token", { method: "POST", body: { user: key } });
  assert.equal(r.status, 200, r.text);
  tokens[key] = r.json().token;
  return tokens[key];
}

/** Demo files as the demo origin holds them on the suite's clock. */
const demoRecord = (file) => JSON.stringify(demoFile(file));
const citizen = (key) => demoFile(`citizens/${key}.json`);
const practitioner = (key) => demoViewer(key);

/** Every directive on record, as the person (or a parent allowed to manage sharing) reads them. */
async function consentOf(patient) {
  const r = await call(`/consent/Patient/${patient}`, { tok: patient === "lily-patient" ? tokens.grace : tokens.joe });
  assert.equal(r.status, 200, r.text);
  return r.json().entry.map((e) => e.resource);
}

/** What core releases to `viewer` from `record` with the stored consent. */
async function expected(record, viewer, patient = JOE) {
  const out = core.redact(record, viewer, await consentOf(patient), now(), null);
  return JSON.parse(out.body);
}

const types = (body) => new Set(ids(body).map((r) => r.split("/")[0]));

before(async () => {
  core = engine();
  mf = await startWorker({ bindings: { DEMO: "on", JWT_AUDIENCE: "tiergate" } });
  const r = await call("/demo/users");
  users = r.json();
  for (const key of ["joe", "anne", "susan", "grace", "gp-1b", "aed-doctor-6"]) await signIn(key);
});

after(async () => {
  await mf?.dispose();
});

test("the demo lists people who sign in as themselves", () => {
  const keys = users.citizens.map((c) => c.key).sort();
  assert.deepEqual(keys, ["anne", "grace", "joe", "maya", "susan"]);
  assert.equal(users.citizens.find((c) => c.key === "joe").patient, JOE);
});

test("/me says who the person is and whom they act for", async () => {
  const joe = (await call("/me", { tok: tokens.joe })).json();
  assert.equal(joe.own_record, true);
  assert.equal(joe.patient, JOE);
  assert.deepEqual(joe.acting_for, []);
  const anne = (await call("/me", { tok: tokens.anne })).json();
  assert.equal(anne.patient, null);
  assert.deepEqual(anne.acting_for.map((a) => [a.patient, a.patient_name, a.scopes]), [[JOE, "Joe Whitfield", ["appointments", "booking"]]]);
  assert.ok(anne.proxy_scopes.some((s) => s.id === "booking" && s.permits.includes("book")));
  assert.deepEqual(anne.acting_for[0].awaiting_agreement, []);
  // Grace's grant for Lily (under 11, made at registration): every scope,
  // by the policy's age rules, as the record and the actions are judged.
  const grace = (await call("/me", { tok: tokens.grace })).json();
  const lily = grace.acting_for.find((a) => a.patient === "lily-patient");
  assert.deepEqual(lily.scopes, [...lily.granted_scopes]);
  assert.deepEqual(lily.awaiting_agreement, []);
  const gp = (await call("/me", { tok: tokens["gp-1b"] })).json();
  assert.equal(gp.own_record, false);
  assert.equal((await call("/me")).status, 401);
});

test("a person sees their own record exactly as core releases it to them", async () => {
  const r = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.joe });
  assert.equal(r.status, 200, r.text);
  const want = await expected(demoRecord("joe.json"), { ...citizen("joe") });
  assert.deepEqual(r.json(), want);
  // Their own record includes what professionals' exclusions hide, but not
  // what a clinician marked as not for online viewing.
  const fullConsent = { directives: [{ id: "all", kind: "permit", recorded: "2026-01-01" }] };
  const gp = core.redact(demoRecord("joe.json"), practitioner("gp-1b"), fullConsent, now(), null);
  assert.ok(Object.keys(gp.summary.withheld_by_reason).some((k) => k.startsWith("excluded_category:")));
  const mine = new Set(ids(r.text));
  const all = ids(demoRecord("joe.json"));
  const notOnline = JSON.parse(demoRecord("joe.json"))
    .entry.map((e) => e.resource)
    .filter((res) => (res.meta?.security ?? []).some((s) => /online/.test(s.system ?? "") || /online/.test(s.code ?? "")))
    .map((res) => `${res.resourceType}/${res.id}`);
  assert.ok(notOnline.length > 0, "the demo marks an entry as not for online viewing");
  for (const ref of notOnline) assert.ok(!mine.has(ref), `${ref} is not for online viewing`);
  const gpSees = new Set(ids(gp.body));
  const onlyMine = [...mine].filter((ref) => !gpSees.has(ref));
  assert.ok(onlyMine.length > 0, "the person sees entries an excluded category hides from their GP");
  for (const ref of gpSees) assert.ok(mine.has(ref) || notOnline.includes(ref), `${ref}: the GP sees it, so does the person`);
  assert.ok(all.length > mine.size);
});

test("anyone else's record answers as if it did not exist", async () => {
  const r = await call("/fhir/Patient/susan-patient/$everything", { tok: tokens.joe });
  assert.equal(r.status, 404);
  assert.ok(!r.text.includes("Carney"));
  const none = await call("/fhir/Patient/nobody-patient/$everything", { tok: tokens.joe });
  assert.equal(none.status, 404);
  assert.equal(r.text, none.text);
});

test("people cannot search for patients or break glass", async () => {
  const find = await call("/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018", { tok: tokens.joe });
  assert.equal(find.status, 403);
  const bg = await call(`/fhir/Patient/${JOE}/$everything`, {
    tok: tokens.joe,
    headers: { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "x" },
  });
  assert.equal(bg.status, 403);
});

test("a carer sees only what their grant covers", async () => {
  const r = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.anne });
  assert.equal(r.status, 200, r.text);
  // Joe made the grant himself: his agreement is its making.
  const grant = demoFile("grants.json").find((g) => g.id === "demo-grant-anne-joe");
  const anne = { ...citizen("anne"), patient: JOE, proxy_scopes: ["appointments", "booking"], proxy_agreed: grant.granted };
  assert.deepEqual(r.json(), await expected(demoRecord("joe.json"), anne));
  const seen = types(r.text);
  assert.ok(seen.has("Appointment"), "appointments are covered");
  for (const t of ["Condition", "Observation", "MedicationStatement", "AllergyIntolerance", "DocumentReference"]) {
    assert.ok(!seen.has(t), `${t} is not covered by appointments/booking`);
  }
  // No grant for Susan: as if she did not exist.
  assert.equal((await call("/fhir/Patient/susan-patient/$everything", { tok: tokens.anne })).status, 404);
});

test("Appendix 1: a carer with the record scope sees no excluded entry unless the person shares that category by name", async () => {
  const susan = citizen("susan").user_id;
  const expires = isoIn(30).slice(0, 10);
  const give = async (categories) => {
    const r = await call(`/proxy/Patient/${JOE}`, { tok: tokens.joe, method: "POST", body: { grantee: susan, grantee_name: "Susan (neighbour)", scopes: ["record"], categories, expires } });
    assert.equal(r.status, 201, r.text);
    return r.json();
  };
  const g = await give([]);
  const mine = ids((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.joe })).text);
  assert.ok(mine.includes("Observation/joe-complaint"), "Joe sees his own complaint");
  const view = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.susan });
  assert.equal(view.status, 200, view.text);
  assert.ok(!ids(view.text).includes("Observation/joe-complaint"), "a complaint is Appendix 1");
  assert.ok(ids(view.text).includes("Condition/joe-cond-copd"));
  const viewer = { ...citizen("susan"), patient: JOE, proxy_scopes: ["record"], proxy_categories: [], proxy_agreed: g.granted };
  assert.deepEqual(view.json(), await expected(demoRecord("joe.json"), viewer));
  // Unknown categories are refused; a named one is shared.
  assert.equal((await call(`/proxy/Patient/${JOE}`, { tok: tokens.joe, method: "POST", body: { grantee: susan, grantee_name: "Susan", scopes: ["record"], categories: ["hiv"], expires } })).status, 400);
  const named = await give(["complaints"]);
  assert.deepEqual(named.categories, ["complaints"]);
  assert.ok(ids((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.susan })).text).includes("Observation/joe-complaint"));
  for (const x of [g, named]) assert.equal((await call(`/proxy/Patient/${JOE}/${x.id}`, { tok: tokens.joe, method: "DELETE" })).status, 200);
  assert.equal((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.susan })).status, 404);
});

test("booking: a carer with booking books for the patient; the request is rebuilt, audited and stored", async () => {
  const start = new Date(nowMs() + 9 * 86400_000);
  start.setUTCHours(9, 30, 0, 0);
  const end = new Date(start.getTime() + 15 * 60_000);
  const appointment = {
    resourceType: "Appointment",
    status: "booked",
    start: start.toISOString().replace(".000", ""),
    end: end.toISOString().replace(".000", ""),
    serviceType: [{ text: "Blood pressure review" }],
    extension: [{ url: "https://evil.example", valueString: "x" }],
    participant: [{ actor: { reference: `Patient/${JOE}` } }],
  };
  const r = await call("/fhir/Appointment", { tok: tokens.anne, method: "POST", body: appointment });
  assert.equal(r.status, 201, r.text);
  const booked = r.json();
  assert.equal(booked.status, "proposed");
  assert.equal(booked.extension, undefined);
  const after = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.joe });
  assert.ok(ids(after.text).includes(`Appointment/${booked.id}`), "the demo origin stored the booking");
  // A professional with consent for Summary tier 2 sees the request too.
  const aed = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens["aed-doctor-6"] });
  assert.ok(ids(aed.text).includes(`Appointment/${booked.id}`));
  // Not for someone she has no grant for; never for a professional through the edge.
  const susan = { ...appointment, participant: [{ actor: { reference: "Patient/susan-patient" } }] };
  assert.equal((await call("/fhir/Appointment", { tok: tokens.anne, method: "POST", body: susan })).status, 404);
  assert.equal((await call("/fhir/Appointment", { tok: tokens["gp-1b"], method: "POST", body: appointment })).status, 405);
  assert.equal((await call("/fhir/Appointment", { tok: tokens.anne, method: "POST", body: { ...appointment, start: "2020-01-01T09:00:00Z" } })).status, 400);
});

test("a parent with a whole-record grant sees their child's record as the child would, and books for them", async () => {
  const r = await call("/fhir/Patient/lily-patient/$everything", { tok: tokens.grace });
  assert.equal(r.status, 200, r.text);
  const grace = { ...citizen("grace"), patient: "lily-patient", proxy_scopes: ["access-log", "booking", "record", "sharing"] };
  const consent = await consentOf("lily-patient");
  const want = JSON.parse(core.redact(demoRecord("lily.json"), grace, consent, now(), null).body);
  assert.deepEqual(r.json(), want);
  assert.ok(types(r.text).has("Condition") && types(r.text).has("Appointment"));
  const start = new Date(nowMs() + 20 * 86400_000);
  start.setUTCHours(15, 0, 0, 0);
  const booking = {
    resourceType: "Appointment",
    start: start.toISOString().replace(".000", ""),
    end: new Date(start.getTime() + 10 * 60_000).toISOString().replace(".000", ""),
    serviceType: [{ text: "Asthma review" }],
    participant: [{ actor: { reference: "Patient/lily-patient" } }],
  };
  assert.equal((await call("/fhir/Appointment", { tok: tokens.grace, method: "POST", body: booking })).status, 201);
  assert.equal((await call("/access/Patient/lily-patient", { tok: tokens.grace })).status, 200);
  // Not Joe's: no grant.
  assert.equal((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.grace })).status, 404);
});

test("grants: the patient gives, lists and revokes access; a revoked carer sees nothing", async () => {
  const expires = new Date(nowMs() + 30 * 86400_000).toISOString().slice(0, 10);
  const give = await call(`/proxy/Patient/${JOE}`, {
    tok: tokens.joe,
    method: "POST",
    body: { grantee: users.citizens.find((c) => c.key === "susan").user_id, grantee_name: "Susan (neighbour)", scopes: ["access-log", "record"], expires },
  });
  assert.equal(give.status, 201, give.text);
  const grant = give.json();
  const list = (await call(`/proxy/Patient/${JOE}`, { tok: tokens.joe })).json();
  assert.ok(list.grants.some((g) => g.id === grant.id && g.in_force));
  // Only the person manages grants.
  assert.equal((await call(`/proxy/Patient/${JOE}`, { tok: tokens.anne })).status, 403);
  assert.equal((await call(`/proxy/Patient/${JOE}`, { tok: tokens["gp-1b"] })).status, 403);
  // Susan now reads Joe's record as Joe would, and his access log.
  const asSusan = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.susan });
  assert.equal(asSusan.status, 200);
  assert.equal((await call(`/access/Patient/${JOE}`, { tok: tokens.susan })).status, 200);
  assert.equal((await call(`/access/Patient/${JOE}`, { tok: tokens.anne })).status, 403, "Anne's grant does not cover the access log");
  const revoke = await call(`/proxy/Patient/${JOE}/${grant.id}`, { tok: tokens.joe, method: "DELETE" });
  assert.equal(revoke.status, 200, revoke.text);
  assert.equal((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.susan })).status, 404);
  // Bad grants are refused.
  const bad = await call(`/proxy/Patient/${JOE}`, {
    tok: tokens.joe,
    method: "POST",
    body: { grantee: "x", grantee_name: "X", scopes: ["everything"], expires },
  });
  assert.equal(bad.status, 400);
});

test("an opt-out made by the patient is enforced for professionals at the edge", async () => {
  const before = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens["aed-doctor-6"] });
  assert.equal(before.status, 200);
  // Anne's grant does not permit managing sharing.
  const denied = await call(`/consent/Patient/${JOE}/opt-out`, { tok: tokens.anne, method: "POST", body: { scope: { content: ["appointments"] } } });
  assert.equal(denied.status, 403);
  const r = await call(`/consent/Patient/${JOE}/opt-out`, { tok: tokens.joe, method: "POST", body: { scope: { content: ["appointments"] } } });
  assert.equal(r.status, 201, r.text);
  // Nor withdrawing one.
  const withdraw = await call(`/consent/Patient/${JOE}/withdraw`, { tok: tokens.anne, method: "POST", body: { opt_out: r.json().id } });
  assert.equal(withdraw.status, 403);
  const afterOptOut = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens["aed-doctor-6"] });
  const record = JSON.parse(demoRecord("joe.json"));
  const withWrites = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.joe });
  // The expected view, from core, over the record as the origin now holds it.
  const writes = withWrites.json().entry.map((e) => e.resource).filter((res) => !record.entry.some((e) => e.resource.id === res.id));
  const held = { ...record, entry: [...record.entry, ...writes.map((w) => ({ resource: w, search: { mode: "match" } }))], total: record.entry.length + writes.length };
  assert.deepEqual(afterOptOut.json(), await expected(JSON.stringify(held), practitioner("aed-doctor-6")));
  assert.ok(ids(afterOptOut.text).length < ids(before.text).length, "the opt-out withheld entries");
  // The person's own view is unchanged by their opt-out.
  assert.equal((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.joe })).status, 200);
});

test("the person's plan is theirs to write and professionals see it in Summary tier 3", async () => {
  const fields = {
    preferred_name: "Joe",
    emergency_wishes: "Please call my daughter Anne first.",
    preferences: ["A female doctor where possible"],
    goals: [{ text: "Walk to the park twice a week", set_with: "health trainer" }],
  };
  const r = await call(`/plan/Patient/${JOE}`, { tok: tokens.joe, method: "PUT", body: fields });
  assert.equal(r.status, 200, r.text);
  const plan = r.json();
  assert.equal(plan.resourceType, "CarePlan");
  const back = JSON.parse(core.planFromCarePlan(JSON.stringify(plan)));
  assert.equal(back.preferred_name, "Joe");
  // Joe's GP records his consent at the point of care, then sees the plan.
  const consent = await call(`/consent/Patient/${JOE}`, { tok: tokens["gp-1b"], method: "POST", body: {} });
  assert.equal(consent.status, 201, consent.text);
  const gp = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens["gp-1b"] });
  const seen = gp.json().entry.map((e) => e.resource).find((res) => res.id === plan.id);
  assert.ok(seen, "the GP (Summary tier 3) sees the plan");
  assert.deepEqual(JSON.parse(core.planFromCarePlan(JSON.stringify(seen))), back);
  assert.equal((await call(`/plan/Patient/${JOE}`, { tok: tokens.anne, method: "PUT", body: fields })).status, 403);
  assert.equal((await call(`/plan/Patient/${JOE}`, { tok: tokens.joe, method: "PUT", body: { preferred_name: "x".repeat(5000) } })).status, 400);
});

test("who has looked at my record: professionals, roles, organisations, break glass", async () => {
  const bg = await call(`/fhir/Patient/${JOE}/$everything`, {
    tok: tokens["aed-doctor-6"],
    headers: { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "arrived unconscious" },
  });
  assert.equal(bg.status, 200);
  const r = await call(`/access/Patient/${JOE}`, { tok: tokens.joe });
  assert.equal(r.status, 200, r.text);
  const { entries } = r.json();
  const aed = practitioner("aed-doctor-6");
  const glass = entries.find((e) => e.user_id === aed.user_id && e.break_glass);
  assert.ok(glass, "the break-glass access is listed");
  assert.equal(glass.organisation, aed.organisation);
  assert.equal(glass.what, "Looked at your record");
  assert.match(glass.break_glass_reason, /unconscious/i);
  assert.ok(!JSON.stringify(entries).includes("arrived unconscious"), "the professional's free text is not shown");
  assert.ok(entries.some((e) => e.user_id === practitioner("gp-1b").user_id && !e.break_glass));
  assert.ok(entries.some((e) => e.as_proxy && e.action === "book"), "Anne's booking shows as a proxy action");
  assert.equal((await call("/access/Patient/susan-patient", { tok: tokens.joe })).status, 404);
});

test("reminders go to the person and their carers, each within their own view", async () => {
  const r = await call(`/reminders/Patient/${JOE}/send`, { tok: tokens.joe, method: "POST" });
  assert.equal(r.status, 200, r.text);
  const sent = r.json().sent;
  assert.ok(sent.some((s) => s.role === "patient" && s.reminders > 0));
  assert.ok(sent.some((s) => s.role === "carer"), "Anne is nominated through her grant");
  const outbox = (await call("/demo/outbox")).json().messages;
  const toAnne = outbox.filter((m) => m.recipient === citizen("anne").user_id);
  const toJoe = outbox.filter((m) => m.recipient === citizen("joe").user_id);
  assert.ok(toAnne.length > 0 && toJoe.length > 0);
  // Anne's view has no care plans? It covers appointments: every reminder she
  // gets comes from an entry her own view of the record contains.
  const anneView = await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.anne });
  const anneRefs = new Set(ids(anneView.text));
  for (const rem of toAnne[0].message.reminders) {
    assert.ok(anneRefs.has(rem.source), `${rem.source} is in Anne's view`);
  }
  assert.equal((await call(`/reminders/Patient/${JOE}/send`, { tok: tokens.anne, method: "POST" })).status, 403);
});

test("revoking a grant the person already had (the demo's baseline) ends it", async () => {
  const list = (await call(`/proxy/Patient/${JOE}`, { tok: tokens.joe })).json().grants;
  const anne = list.find((g) => g.grantee === citizen("anne").user_id && g.in_force);
  assert.ok(anne, "Anne's grant is listed");
  const r = await call(`/proxy/Patient/${JOE}/${anne.id}`, { tok: tokens.joe, method: "DELETE" });
  assert.equal(r.status, 200, r.text);
  assert.equal((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens.anne })).status, 404);
  assert.deepEqual((await call("/me", { tok: tokens.anne })).json().acting_for, []);
  const after = (await call(`/proxy/Patient/${JOE}`, { tok: tokens.joe })).json().grants;
  assert.equal(after.filter((g) => g.id === anne.id).length, 1, "listed once, revoked");
  assert.equal(after.find((g) => g.id === anne.id).in_force, false);
});

// Framework 6.2: consent is between the person and those they choose. A
// professional reads the permits in force for them, and, in neutral words,
// that the person's choices restrict them; never what an opt-out is about.
test("a professional reads only the permits in force for them; the person reads every choice", async () => {
  const optOut = await call(`/consent/Patient/${JOE}/opt-out`, { tok: tokens.joe, method: "POST", body: { scope: { categories: ["complaints"] } } });
  assert.equal(optOut.status, 201, optOut.text);
  const id = optOut.json().id;
  const mine = (await call(`/consent/Patient/${JOE}`, { tok: tokens.joe })).json();
  assert.ok(mine.entry.some((e) => e.resource.id === id), "the person sees their opt-out");
  const aed = await call(`/consent/Patient/${JOE}`, { tok: tokens["aed-doctor-6"] });
  assert.equal(aed.status, 200);
  const seen = aed.json();
  const permits = seen.entry.map((e) => e.resource).filter((c) => c.provision.type === "permit");
  assert.deepEqual(permits.map((c) => c.id), ["joe-aed"], "only the permit for AED staff at R9A");
  // Each opt-out that restricts them is a bare deny under a neutral handle.
  const restrictions = seen.entry.map((e) => e.resource).filter((c) => c.provision.type !== "permit");
  assert.ok(restrictions.length >= 1);
  for (const r of restrictions) {
    assert.match(r.id, /^restriction-[0-9a-f]{16}$/);
    assert.deepEqual(r.provision, { type: "deny" });
    assert.deepEqual(r.meta.tag.map((t) => t.code), ["restricted"]);
  }
  assert.deepEqual(seen.meta.tag.map((t) => t.code), ["restricted"]);
  for (const hidden of [id, "complaints", "OPTOUT", "joe-discharge-team"]) assert.ok(!aed.text.includes(hidden), `${hidden} shown to a professional`);
});

test("an opt-out stands until withdrawn; a professional records the person's withdrawal only with a reason", async () => {
  const everything = async () => ids((await call(`/fhir/Patient/${JOE}/$everything`, { tok: tokens["aed-doctor-6"] })).text);
  const before = await everything();
  assert.ok(before.includes("AllergyIntolerance/joe-allergy"), "Summary tier 2 is shared with AED staff");
  const handlesBefore = new Set(
    (await call(`/consent/Patient/${JOE}`, { tok: tokens["aed-doctor-6"] }))
      .json()
      .entry.map((e) => e.resource)
      .filter((c) => c.provision?.type === "deny")
      .map((c) => c.id),
  );
  const optOut = await call(`/consent/Patient/${JOE}/opt-out`, { tok: tokens.joe, method: "POST", body: { scope: { segments: [{ segment: "summary", tier: 2 }] } } });
  assert.equal(optOut.status, 201, optOut.text);
  const id = optOut.json().id;
  assert.ok(!(await everything()).includes("AllergyIntolerance/joe-allergy"), "the opt-out withholds");
  // A permit recorded later at the point of care does not widen it.
  const permit = await call(`/consent/Patient/${JOE}`, { tok: tokens["aed-doctor-6"], method: "POST", body: {} });
  assert.equal(permit.status, 201, permit.text);
  assert.ok(!(await everything()).includes("AllergyIntolerance/joe-allergy"), "a later permit re-opened an opt-out");
  // Withdrawals: by name, only by someone who may manage the sharing; a
  // professional must give the person's reason.
  assert.equal((await call(`/consent/Patient/${JOE}/withdraw`, { tok: tokens.joe, method: "POST", body: { opt_out: "no-such-opt-out" } })).status, 404);
  assert.equal((await call(`/consent/Patient/${JOE}/withdraw`, { tok: tokens.susan, method: "POST", body: { opt_out: id } })).status, 404, "not Susan's record");
  // A professional sees the opt-out only under a neutral handle, and names
  // it by that; the real id is not theirs to name.
  const view = (await call(`/consent/Patient/${JOE}`, { tok: tokens["aed-doctor-6"] })).json();
  assert.ok(!JSON.stringify(view).includes(id), "the professional's view names the opt-out");
  const restrictions = view.entry.map((e) => e.resource).filter((c) => c.provision?.type === "deny");
  const handles = new Set(restrictions.map((c) => c.id));
  const fresh = restrictions.filter((c) => !handlesBefore.has(c.id));
  assert.equal(fresh.length, 1, "the new opt-out, once");
  assert.deepEqual(Object.keys(fresh[0].provision), ["type"], "nothing of what it covers");
  assert.equal(handles.size, restrictions.length);
  const handle = fresh[0].id;
  assert.equal((await call(`/consent/Patient/${JOE}/withdraw`, { tok: tokens["aed-doctor-6"], method: "POST", body: { opt_out: handle } })).status, 400);
  assert.equal((await call(`/consent/Patient/${JOE}/withdraw`, { tok: tokens["aed-doctor-6"], method: "POST", body: { opt_out: id, reason: "asked" } })).status, 404);
  const w = await call(`/consent/Patient/${JOE}/withdraw`, {
    tok: tokens["aed-doctor-6"],
    method: "POST",
    body: { opt_out: handle, reason: "Joe told me he wants his summary shared again" },
  });
  assert.ok(!w.text.includes(id), "the answer to the professional names the opt-out");
  assert.equal(w.status, 201, w.text);
  assert.ok((await everything()).includes("AllergyIntolerance/joe-allergy"), "the withdrawal lets the permits apply again");
  const mine = (await call(`/consent/Patient/${JOE}`, { tok: tokens.joe })).json().entry.map((e) => e.resource);
  assert.ok(mine.some((c) => (c.extension ?? []).some((x) => x.valueReference?.reference === `Consent/${id}`)), "the withdrawal is on record for the person");
});

test("every request was audited, proxies as themselves on behalf of the patient", async () => {
  const db = await mf.getD1Database("DB");
  const rows = (await db.prepare("SELECT id, action, user_id, event FROM audit_events").all()).results;
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of requestIds) assert.ok(byId.has(id), `request ${id} has an audit row`);
  const booking = rows.find((r) => r.action === "book");
  assert.equal(booking.user_id, citizen("anne").user_id);
  assert.match(booking.event, /on-behalf-of/);
  for (const r of rows) assert.ok(!r.event.includes("Blood pressure review"), "no record content in audit");
});
