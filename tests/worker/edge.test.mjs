// The edge worker end to end: the built worker (worker/build) in workerd
// through Miniflare, an origin on 127.0.0.1 serving corpus records, local
// D1. Expected redactions come from the nodejs build of the same core.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, test } from "node:test";

import {
  AUDIENCE,
  ISSUER,
  claimsFor,
  closedPort,
  engine,
  ids,
  makeKey,
  startOrigin,
  startWorker,
  storedConsents,
  token,
  viewer,
} from "./lib.mjs";
import { now, nowSeconds } from "../lib/clock.mjs";

const BASE = "http://tiergate.test";
const GP_PATIENT = "04603d77-1a4e-4d63-b246-d7504f8bd833";

let origin;
let mf;
let es;
let rs;
let core;
/** Every request id the worker answered with (each must have an audit row). */
const requestIds = [];

async function call(path, { tok, headers = {}, method = "GET", body, worker = mf } = {}) {
  const res = await worker.dispatchFetch(`${BASE}${path}`, {
    method,
    headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...headers },
    body,
  });
  const text = await res.text();
  if (worker === mf) requestIds.push(res.headers.get("x-request-id"));
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

const tokenFor = (name, extra = {}) => token(es, claimsFor(viewer(name), extra));

/** Every directive the worker holds for the patient (no demo baseline here). */
const consentOf = (patient) => storedConsents(mf, patient);

/** What core (nodejs build) releases for this viewer with the worker's stored consent. */
async function expected(patient, name, setting = null) {
  const consent = await consentOf(patient);
  const record = origin.byPatient.get(patient).text;
  const out = core.redact(record, viewer(name), consent, now(), setting);
  return JSON.parse(out.body);
}

before(async () => {
  origin = await startOrigin();
  es = makeKey("ES256", "es-1");
  rs = makeKey("RS256", "rs-1");
  core = engine();
  mf = await startWorker({
    bindings: {
      ORIGIN_URL: origin.url,
      JWKS: JSON.stringify({ keys: [es.jwk, rs.jwk] }),
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      ORIGIN_TIMEOUT_MS: "1500",
      ORIGIN_SETTING: "primary_care",
      DEMO: "off",
    },
  });
});

after(async () => {
  await mf?.dispose();
  await origin?.close();
});

const HOSTILE = [
  "missing",
  "garbage",
  "forged signature",
  "expired",
  "not yet valid",
  "wrong audience",
  "wrong issuer",
  "alg none",
  "alg HS256",
  "HS256 keyed with the public key",
  "unknown kid",
  "RS256 header on an EC key",
];

describe("authentication", () => {
  const hostile = () => {
    const claims = claimsFor(viewer("aed-doctor-6"));
    const other = makeKey("ES256", "es-1");
    const none = (alg) => {
      const h = Buffer.from(JSON.stringify({ alg, kid: "es-1" })).toString("base64url");
      const p = Buffer.from(JSON.stringify(claims)).toString("base64url");
      return `${h}.${p}.`;
    };
    return {
      missing: null,
      garbage: "not.a.token",
      "forged signature": token(other, claims),
      expired: token(es, { ...claims, exp: nowSeconds() - 3600 }),
      "not yet valid": token(es, { ...claims, nbf: nowSeconds() + 3600 }),
      "wrong audience": token(es, { ...claims, aud: "someone-else" }),
      "wrong issuer": token(es, { ...claims, iss: "https://evil.test" }),
      "alg none": none("none"),
      "alg HS256": none("HS256"),
      "HS256 keyed with the public key": (() => {
        const h = Buffer.from(JSON.stringify({ alg: "HS256", kid: "es-1" })).toString("base64url");
        const p = Buffer.from(JSON.stringify(claims)).toString("base64url");
        const mac = createHmac("sha256", JSON.stringify(es.jwk)).update(`${h}.${p}`).digest("base64url");
        return `${h}.${p}.${mac}`;
      })(),
      "unknown kid": token(makeKey("ES256", "es-9"), claims),
      "RS256 header on an EC key": token(es, claims, { alg: "RS256" }),
    };
  };
  for (const name of HOSTILE) {
    test(`${name} token: 401 and the origin sees no request`, async () => {
      const tok = hostile()[name];
      const before = origin.hits.length;
      const r = await call("/fhir/Patient/joe-patient/$everything", { tok });
      assert.equal(r.status, 401);
      assert.equal(r.json().resourceType, "OperationOutcome");
      assert.equal(origin.hits.length, before, "origin was called");
      assert.equal(r.headers.get("cache-control"), "no-store");
    });
  }
  test("RS256 and ES256 tokens from the configured JWKS are accepted", async () => {
    const claims = claimsFor(viewer("aed-doctor-6"));
    for (const key of [es, rs]) {
      const r = await call("/fhir/Patient/joe-patient/$everything", { tok: token(key, claims) });
      assert.equal(r.status, 200, key.alg);
      assert.match(r.headers.get("x-tiergate-policy"), /^sha256:[0-9a-f]{64}$/);
      assert.equal(r.headers.get("cache-control"), "no-store");
    }
  });
  test("demo tokens are refused when the demo is off", async () => {
    const r = await call("/demo/token", { method: "POST", body: JSON.stringify({ user: "aed-doctor-6" }) });
    assert.equal(r.status, 404);
  });
});

describe("requests the edge refuses before the origin", () => {
  const cases = [
    ["POST", "/fhir/Patient/joe-patient", 405],
    ["DELETE", "/fhir/Condition/x", 405],
    ["GET", "/fhir/$export", 403],
    ["GET", "/fhir/Patient/$export", 403],
    ["GET", "/fhir/_history", 403],
    ["GET", "/fhir/Condition/_history", 403],
    ["GET", "/fhir/Patient/joe-patient/$validate", 403],
    ["GET", "/fhir/Condition", 403],
    ["GET", "/fhir/Condition?patient=joe-patient,brenda-patient", 403],
    ["GET", "/fhir/Condition?patient=joe-patient&subject=Patient/brenda-patient", 403],
    ["GET", "/fhir/Patient/joe-patient/Condition?patient=brenda-patient", 403],
    ["GET", "/fhir/Patient/joe-patient/$everything?patient=brenda-patient", 403],
    ["GET", "/fhir/Patient?name=Smith", 422],
  ];
  for (const [method, path, status] of cases) {
    test(`${method} ${path}: ${status}`, async () => {
      const before = origin.hits.length;
      const r = await call(path, { method, tok: tokenFor("aed-doctor-6"), body: method === "POST" ? "{}" : undefined });
      assert.equal(r.status, status);
      assert.equal(r.json().resourceType, "OperationOutcome");
      assert.ok(!r.text.includes("brenda") && !r.text.includes("Smith"), "input quoted back");
      assert.equal(origin.hits.length, before, "origin was called");
    });
  }
});

describe("redaction per profile", () => {
  const viewers = ["aed-doctor-6", "admin-clerk-5", "matron-2a", "hospital-social-worker-3a", "gp-1b", "expired-training-7"];
  test("consent recorded at the point of care is honoured, per profile, as core decides", async () => {
    const before = {};
    for (const v of viewers) {
      const r = await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor(v) });
      assert.equal(r.status, 200, v);
      assert.deepEqual(r.json(), await expected("joe-patient", v), v);
      before[v] = ids(r.text);
    }
    // AED doctor records Joe's consent for AED staff (profile 6) at R9A, summary tier 2;
    // the ward matron records the discharge team's (R9A, profiles 1a 2a 3a 5, summary and hospitals tier 2).
    let r = await call("/consent/Patient/joe-patient", {
      method: "POST",
      tok: tokenFor("aed-doctor-6"),
      body: JSON.stringify({ profiles: ["6"], scope: { segments: [{ segment: "summary", tier: 2 }] } }),
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json().resourceType, "Consent");
    r = await call("/consent/Patient/joe-patient", {
      method: "POST",
      tok: tokenFor("matron-2a"),
      body: JSON.stringify({
        profiles: ["1a", "2a", "3a", "5"],
        scope: { segments: [{ segment: "summary", tier: 2 }, { segment: "hospitals", tier: 2 }] },
      }),
    });
    assert.equal(r.status, 201, r.text);
    const after = {};
    for (const v of viewers) {
      const r = await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor(v) });
      assert.equal(r.status, 200, v);
      assert.deepEqual(r.json(), await expected("joe-patient", v), v);
      after[v] = ids(r.text);
    }
    assert.ok(after["aed-doctor-6"].length > before["aed-doctor-6"].length, "consent not honoured (AED)");
    assert.ok(after["matron-2a"].length > before["matron-2a"].length, "consent not honoured (matron)");
    assert.deepEqual(after["gp-1b"], before["gp-1b"], "another organisation gained access");
    assert.equal(after["expired-training-7"].length, 0, "expired training sees something");
    assert.notDeepEqual(after["aed-doctor-6"], after["admin-clerk-5"]);
  });

  test("an opt-out is honoured after the consent it overrides", async () => {
    const before = ids((await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor("matron-2a") })).text);
    const r = await call("/consent/Patient/joe-patient/opt-out", {
      method: "POST",
      tok: tokenFor("matron-2a"),
      body: JSON.stringify({ scope: { segments: [{ segment: "hospitals" }] } }),
    });
    assert.equal(r.status, 201, r.text);
    const res = await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor("matron-2a") });
    const afterIds = ids(res.text);
    assert.deepEqual(res.json(), await expected("joe-patient", "matron-2a"));
    assert.ok(afterIds.length < before.length, "opt-out not honoured");
    const consent = await consentOf("joe-patient");
    assert.equal(consent.length, 3);
    assert.equal(consent[2].provision.type, "deny");
  });

  test("excluded codes never leave, whatever the profile", async () => {
    for (const v of viewers) {
      const r = await call("/fhir/Patient/brenda-patient/$everything", { tok: tokenFor(v) });
      assert.equal(r.status, 200);
      assert.ok(!r.text.includes("43W7"), `HIV test code released to ${v}`);
    }
  });

  test("a GP Connect bundle through a patient search, with the origin's care setting", async () => {
    await call(`/consent/Patient/${GP_PATIENT}`, { method: "POST", tok: tokenFor("gp-1b"), body: "{}" });
    for (const v of ["gp-1b", "admin-clerk-5"]) {
      const r = await call(`/fhir/AllergyIntolerance?patient=${GP_PATIENT}`, { tok: tokenFor(v) });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json(), await expected(GP_PATIENT, v, "primary_care"), v);
    }
  });

  test("a withheld resource reads exactly like a missing one", async () => {
    const withheld = await call("/fhir/Condition/joe-cond-complaint", { tok: tokenFor("gp-1b") });
    const missing = await call("/fhir/Condition/no-such-condition", { tok: tokenFor("gp-1b") });
    assert.equal(withheld.status, 404);
    assert.equal(missing.status, 404);
    assert.equal(withheld.text, missing.text);
    const allowed = await call("/fhir/AllergyIntolerance/joe-allergy", { tok: tokenFor("aed-doctor-6") });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.json().id, "joe-allergy");
  });

  test("patient finding returns Summary tier 1 demographics only", async () => {
    const q = encodeURIComponent("https://fhir.nhs.uk/Id/nhs-number|9990000018");
    const r = await call(`/fhir/Patient?identifier=${q}`, { tok: tokenFor("admin-clerk-5") });
    assert.equal(r.status, 200, r.text);
    const b = r.json();
    assert.equal(b.total, 1);
    const p = b.entry[0].resource;
    assert.equal(p.id, "joe-patient");
    assert.equal(p.birthDate, origin.byPatient.get("joe-patient").patient.birthDate);
    for (const gone of ["telecom", "generalPractitioner", "managingOrganization", "contact"]) {
      assert.ok(!(gone in p), gone);
    }
    assert.ok(!r.text.includes("Lulworth"));
  });
});

describe("break glass", () => {
  // Margaret (scenario 5): no consent for R9A's AED.
  const id = "margaret-patient";
  const path = `/fhir/Patient/${id}/$everything`;
  test("with a reason: more is shared, flagged and audited before release", async () => {
    const tok = tokenFor("aed-doctor-6");
    const p = path;
    const plain = await call(p, { tok });
    const bg = await call(p, {
      tok,
      headers: {
        "x-tiergate-break-glass": "unconscious",
        "x-tiergate-break-glass-detail": "Brought in   unresponsive\tX-Injected: yes",
      },
    });
    assert.equal(bg.status, 200);
    assert.ok(ids(bg.text).length > ids(plain.text).length, "break glass shared nothing more");
    const db = await mf.getD1Database("DB");
    const row = await db.prepare("SELECT * FROM audit_events WHERE id = ?1").bind(bg.headers.get("x-request-id")).first();
    assert.equal(row.break_glass, 1);
    assert.equal(row.investigate, 1);
    assert.match(row.event, /"break-glass-reason","valueString":"unconscious"/);
    assert.match(row.event, /Brought in unresponsive X-Injected: yes/);
    const window = await db.prepare("SELECT * FROM break_glass WHERE patient = ?1").bind(id).all();
    assert.equal(window.results.length, 1);
    // A second request continues the same window.
    await call(p, { tok, headers: { "x-tiergate-break-glass": "unconscious" } });
    const again = await db.prepare("SELECT * FROM break_glass WHERE patient = ?1").bind(id).all();
    assert.equal(again.results.length, 1);
  });
  test("without a reason, or with one not in the policy: 403 and nothing fetched", async () => {
    for (const headers of [
      { "x-tiergate-break-glass-detail": "emergency" },
      { "x-tiergate-break-glass": "", "x-tiergate-break-glass-detail": "emergency" },
      { "x-tiergate-break-glass": "curious" },
    ]) {
      const before = origin.hits.length;
      const r = await call(path, { tok: tokenFor("aed-doctor-6"), headers });
      assert.equal(r.status, 403);
      assert.equal(r.json().resourceType, "OperationOutcome");
      assert.ok(!r.text.includes("curious"));
      assert.equal(origin.hits.length, before);
    }
  });
});

describe("failing closed", () => {
  for (const [patient, status] of [
    ["html-patient", 502],
    ["huge-patient", 502],
    ["hang-patient", 504],
  ]) {
    test(`origin ${patient.replace("-patient", "")}: ${status}, no record data`, { timeout: 20_000 }, async () => {
      const t0 = Date.now();
      const r = await call(`/fhir/Patient/${patient}/$everything`, { tok: tokenFor("aed-doctor-6") });
      assert.equal(r.status, status);
      assert.equal(r.json().resourceType, "OperationOutcome");
      assert.ok(!r.text.includes("html") && !r.text.includes("unavailable"));
      assert.ok(Date.now() - t0 < 10_000, "not bounded");
    });
  }

  test("origin down: 502", { timeout: 20_000 }, async () => {
    const down = await startWorker({
      bindings: {
        ORIGIN_URL: `http://127.0.0.1:${await closedPort()}`,
        JWKS: JSON.stringify({ keys: [es.jwk] }),
        JWT_ISSUER: ISSUER,
        ORIGIN_TIMEOUT_MS: "1500",
      },
    });
    try {
      const r = await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor("aed-doctor-6"), worker: down });
      assert.equal(r.status, 502);
      assert.equal(r.json().resourceType, "OperationOutcome");
    } finally {
      await down.dispose();
    }
  });

  test("audit cannot be written: 503 and nothing released (break glass or not)", { timeout: 20_000 }, async () => {
    const noDb = await startWorker({
      d1: false,
      bindings: { ORIGIN_URL: origin.url, JWKS: JSON.stringify({ keys: [es.jwk] }), JWT_ISSUER: ISSUER },
    });
    try {
      for (const headers of [{ "x-tiergate-break-glass": "unconscious" }, {}]) {
        const r = await call("/fhir/Patient/joe-patient/$everything", { tok: tokenFor("aed-doctor-6"), headers, worker: noDb });
        assert.equal(r.status, 503);
        assert.ok(!r.text.includes("joe"));
      }
    } finally {
      await noDb.dispose();
    }
  });
});

test("every request produced an audit event, with no record content", async () => {
  const db = await mf.getD1Database("DB");
  const rows = (await db.prepare("SELECT id, event FROM audit_events").all()).results;
  const byId = new Map(rows.map((r) => [r.id, r.event]));
  assert.ok(requestIds.length > 30);
  for (const id of requestIds) assert.ok(byId.has(id), `no audit row for ${id}`);
  for (const { event } of rows) {
    const e = JSON.parse(event);
    assert.equal(e.resourceType, "AuditEvent");
    for (const leak of ["43W7", "Penicillin", "Whitfield", "Lulworth"]) assert.ok(!event.includes(leak), leak);
  }
});
