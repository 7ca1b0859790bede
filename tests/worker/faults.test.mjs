// Faults at the edge: the origin answering badly (tests/worker/lib.mjs
// `FAULTS`), and D1 gone or refusing writes. Each must fail closed: a fixed
// OperationOutcome with no record data and nothing from the origin's
// answer, within the origin deadline; or, where the answer is good in the
// end, exactly what core releases to the viewer. The policy for D1 is "no
// audit, no release" (worker/README.md, Failing closed).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AUDIENCE,
  ISSUER,
  claimsFor,
  engine,
  makeKey,
  recordAs,
  startOrigin,
  startWorker,
  token,
  viewer,
} from "./lib.mjs";
import { now } from "../lib/clock.mjs";

const BASE = "http://tiergate.test";
const TIMEOUT_MS = 1500;

let origin;
let mf;
let es;
let core;

const bindings = () => ({
  ORIGIN_URL: origin.url,
  JWKS: JSON.stringify({ keys: [es.jwk] }),
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: AUDIENCE,
  ORIGIN_TIMEOUT_MS: String(TIMEOUT_MS),
  ORIGIN_SETTING: "primary_care",
  DEMO: "off",
});

before(async () => {
  origin = await startOrigin();
  es = makeKey("ES256", "es-1");
  core = engine();
  mf = await startWorker({ bindings: bindings() });
});

after(async () => {
  await mf?.dispose();
  await origin?.close();
});

const tokenFor = (name) => token(es, claimsFor(viewer(name)));

async function call(path, { worker = mf, headers = {}, method = "GET", body, name = "aed-doctor-6" } = {}) {
  const res = await worker.dispatchFetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokenFor(name)}`, ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A refusal: the status, a fixed OperationOutcome, nothing of the record or the origin's answer. */
function refused(r, status, code) {
  assert.equal(r.status, status, r.text.slice(0, 200));
  const outcome = JSON.parse(r.text);
  assert.equal(outcome.resourceType, "OperationOutcome");
  assert.equal(outcome.issue[0].code, code);
  assert.ok(r.text.length < 400);
  for (const s of ["Whitfield", "secret", "html", "Internal Server Error", "entry", "exploded"]) {
    assert.ok(!r.text.includes(s), `reflected: ${s}`);
  }
  assert.equal(r.headers.get("cache-control"), "no-store");
}

describe("the origin answers badly", () => {
  const cases = [
    ["truncated-patient", "a truncated body (Content-Length larger than sent, then the socket closes)", 502, "exception"],
    ["error500-json-patient", "500 with a JSON OperationOutcome", 502, "exception"],
    ["error500-html-patient", "500 with an HTML page", 502, "exception"],
    ["error503-json-patient", "503 with a JSON OperationOutcome", 502, "exception"],
    ["error503-html-patient", "503 with an HTML page", 502, "exception"],
    ["text-plain-patient", "a good record served as text/plain", 502, "exception"],
    ["xml-patient", "FHIR XML (application/fhir+xml)", 502, "exception"],
    ["empty-patient", "an empty 200 body", 502, "exception"],
    ["array-patient", "JSON that is not FHIR: an array", 502, "exception"],
    ["number-patient", "JSON that is not FHIR: a number", 502, "exception"],
    ["slow-body-patient", "headers at once, then a body slower than the deadline", 504, "timeout"],
  ];
  for (const [patient, what, status, code] of cases) {
    test(`${what}: ${status}, nothing released`, { timeout: 20_000 }, async () => {
      const t0 = Date.now();
      const r = await call(`/fhir/Patient/${patient}/$everything`);
      refused(r, status, code);
      assert.ok(Date.now() - t0 < TIMEOUT_MS + 3000, "not bounded by the origin deadline");
      // Audited as a refusal.
      const db = await mf.getD1Database("DB");
      const row = await db.prepare("SELECT status FROM audit_events WHERE id = ?1").bind(r.headers.get("x-request-id")).first();
      assert.equal(row?.status, status);
    });
  }

  test("slow headers, then a fast body inside the deadline: exactly what core releases", { timeout: 20_000 }, async () => {
    const id = "slow-headers-patient";
    const r = await call(`/fhir/Patient/${id}/$everything`, { name: "aed-doctor-6" });
    assert.equal(r.status, 200, r.text.slice(0, 200));
    assert.ok(JSON.parse(r.text).entry.length > 0, "nothing released");
    const want = core.redact(recordAs(origin.byPatient, id), viewer("aed-doctor-6"), [], now(), "primary_care");
    assert.deepEqual(JSON.parse(r.text), JSON.parse(want.body));
  });
});

describe("the origin redirects", () => {
  // workers-rs `Fetch` uses the Fetch API's default `redirect: "follow"`;
  // the edge must not follow a redirect to another origin (it would take a
  // record from a host it was never configured to trust).
  test(
    "302 to another host: not followed, 502",
    { timeout: 20_000 },
    async () => {
      const before = origin.hits.length;
      const r = await call("/fhir/Patient/redirect-patient/$everything");
      const moved = origin.hits.slice(before).filter((h) => h.startsWith("/moved/"));
      assert.deepEqual(moved, [], "the redirect was followed to another host");
      refused(r, 502, "exception");
    },
  );
});

describe("D1 unavailable: no audit, no release", () => {
  test("no D1 binding: break glass 503, ordinary read 503, consent 503; nothing released", { timeout: 20_000 }, async () => {
    const noDb = await startWorker({ d1: false, bindings: bindings() });
    try {
      const path = "/fhir/Patient/margaret-patient/$everything";
      const bg = await call(path, { worker: noDb, headers: { "x-tiergate-break-glass": "unconscious" } });
      refused(bg, 503, "transient");
      assert.ok(!bg.headers.has("x-tiergate-break-glass-expires"));
      refused(await call(path, { worker: noDb }), 503, "transient");
      refused(await call("/fhir/Observation/joe-abg", { worker: noDb }), 503, "transient");
      refused(
        await call("/consent/Patient/joe-patient", { worker: noDb, method: "POST", body: '{"profiles":["6"]}' }),
        503,
        "transient",
      );
    } finally {
      await noDb.dispose();
    }
  });

  test("D1 answers reads but refuses audit writes: 503, and no window, case or consent survives", { timeout: 20_000 }, async () => {
    const w = await startWorker({ bindings: bindings() });
    try {
      // Create the schema with one good request, then make every audit insert fail.
      assert.equal((await call("/fhir/Patient/margaret-patient/$everything", { worker: w })).status, 200);
      const db = await w.getD1Database("DB");
      await db.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
      const count = async (table) => (await db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).first()).n;
      const before = { break_glass: await count("break_glass"), cases: await count("cases"), consents: await count("consents") };

      const path = "/fhir/Patient/margaret-patient/$everything";
      const bg = await call(path, {
        worker: w,
        headers: { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "collapsed" },
      });
      refused(bg, 503, "transient");
      assert.ok(!bg.text.includes("Lowry"));
      refused(await call(path, { worker: w }), 503, "transient");
      refused(
        await call("/consent/Patient/joe-patient", { worker: w, method: "POST", body: '{"profiles":["6"]}' }),
        503,
        "transient",
      );
      // Window, case and consent were in the audit's batch: rolled back with it.
      assert.deepEqual(
        { break_glass: await count("break_glass"), cases: await count("cases"), consents: await count("consents") },
        before,
      );
      // Writes work again: so does the edge.
      await db.exec("DROP TRIGGER refuse_audit;");
      assert.equal((await call(path, { worker: w })).status, 200);
    } finally {
      await w.dispose();
    }
  });
});
