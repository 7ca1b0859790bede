// Load (issue 10): a bounded concurrent run against the built worker under
// `wrangler dev --ip 127.0.0.1` over real loopback HTTP, local D1 in a
// temporary persist dir, the origin on 127.0.0.1. Every response body must
// be byte-for-byte what core (nodejs build) releases to that viewer for that
// patient with that patient's stored consent (no cross-request bleed), and
// the audit table must hold exactly one row per request (matched by request
// id). Bounded: REQUESTS requests, CONCURRENCY in flight, DEADLINE_MS.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, test } from "node:test";

import { AUDIENCE, ISSUER, claimsFor, engine, makeKey, startOrigin, token, viewer } from "./lib.mjs";
import { now as clockNow, nowSeconds } from "../lib/clock.mjs";
import { auditIds, startWranglerDev } from "./wrangler.mjs";

const REQUESTS = 2000;
const CONCURRENCY = 32;
const DEADLINE_MS = 120_000;
const SETTING = "primary_care";
const GP_PATIENT = "04603d77-1a4e-4d63-b246-d7504f8bd833";
const VIEWERS = [
  "aed-doctor-6",
  "admin-clerk-5",
  "matron-2a",
  "hospital-social-worker-3a",
  "hospital-specialist-1a",
  "gp-1b",
  "ed-doctor-phil-6",
  "expired-training-7",
];
const PATIENTS = ["joe-patient", "brenda-patient", "margaret-patient", GP_PATIENT];
/** The path each patient is read by: `$everything`, or a patient search for the GP Connect bundle. */
const pathOf = (p) => (p === GP_PATIENT ? `/fhir/AllergyIntolerance?patient=${p}` : `/fhir/Patient/${p}/$everything`);

let dir;
let origin;
let dev;
let key;
const tokens = new Map();
/** Every request id the worker answered with, setup included. */
const requestIds = [];

async function call(path, { tok, method = "GET", body, signal } = {}) {
  const res = await fetch(`${dev.url}${path}`, {
    method,
    headers: tok ? { authorization: `Bearer ${tok}` } : {},
    body,
    signal: signal ?? AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  const id = res.headers.get("x-request-id");
  requestIds.push(id);
  return { status: res.status, text, id };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tiergate-load-"));
  origin = await startOrigin();
  key = makeKey("ES256", "es-load");
  for (const v of VIEWERS) tokens.set(v, token(key, claimsFor(viewer(v), { exp: nowSeconds() + 3600 })));
  dev = await startWranglerDev(dir, {
    ORIGIN_URL: origin.url,
    JWKS: JSON.stringify({ keys: [key.jwk] }),
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    ORIGIN_SETTING: SETTING,
    DEMO: "off",
  });
  requestIds.push(dev.probeId);
});

after(async () => {
  await dev?.stop();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test(`${REQUESTS} requests, ${CONCURRENCY} in flight over loopback: each body is that viewer's, one audit row each`, { timeout: DEADLINE_MS + 90_000 }, async () => {
  // Consent differs per patient: permits for Joe (AED, and R9A's discharge
  // team), an opt-out over Joe's hospital records, a permit for the GP
  // patient; Brenda and Margaret keep their baseline.
  const setup = [
    ["/consent/Patient/joe-patient", "aed-doctor-6", { profiles: ["6"], scope: { segments: [{ segment: "summary", tier: 2 }] } }],
    [
      "/consent/Patient/joe-patient",
      "matron-2a",
      { profiles: ["1a", "2a", "3a", "5"], scope: { segments: [{ segment: "summary", tier: 2 }, { segment: "hospitals", tier: 2 }] } },
    ],
    ["/consent/Patient/joe-patient/opt-out", "matron-2a", { scope: { segments: [{ segment: "hospitals" }] } }],
    [`/consent/Patient/${GP_PATIENT}`, "gp-1b", {}],
  ];
  // What the edge stored, as it answered each recording (a professional
  // reads back only the permits in force for them).
  const stored = new Map();
  for (const [path, v, body] of setup) {
    const r = await call(path, { method: "POST", tok: tokens.get(v), body: JSON.stringify(body) });
    assert.equal(r.status, 201, r.text);
    const patient = path.split("/")[3];
    stored.set(patient, [...(stored.get(patient) ?? []), JSON.parse(r.text)]);
  }

  // Expected bodies, exactly as the other worker tests compute them: the
  // worker's stored consent for the patient, redacted by core for the viewer.
  const core = engine();
  const now = clockNow();
  const expected = new Map();
  for (const p of PATIENTS) {
    const consent = stored.get(p) ?? [];
    const record = origin.byPatient.get(p).text;
    for (const v of VIEWERS) expected.set(`${v} ${p}`, core.redact(record, viewer(v), consent, now, SETTING).body);
  }
  const distinct = new Set(expected.values()).size;
  assert.ok(distinct >= 10, `only ${distinct} distinct expected bodies: a mix-up could go unnoticed`);

  // The run: a fixed, interleaved schedule (viewer and patient both vary
  // from one request to the next), CONCURRENCY workers, one deadline.
  const plan = Array.from({ length: REQUESTS }, (_, i) => [VIEWERS[i % VIEWERS.length], PATIENTS[(i * 3 + Math.floor(i / 8)) % PATIENTS.length]]);
  const deadlineAt = performance.now() + DEADLINE_MS;
  const late = () => performance.now() >= deadlineAt;
  const latencies = new Array(REQUESTS);
  const failures = [];
  const runIds = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS && !late()) {
        const i = next++;
        const [v, p] = plan[i];
        const start = performance.now();
        const r = await call(pathOf(p), { tok: tokens.get(v), signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadlineAt - start))) });
        latencies[i] = performance.now() - start;
        runIds.push(r.id);
        if (r.status !== 200) failures.push(`#${i} ${v} ${p}: status ${r.status}`);
        else if (r.text !== expected.get(`${v} ${p}`)) failures.push(`#${i} ${v} ${p}: body differs from core's for that viewer`);
      }
    }),
  ).catch((e) => {
    throw late() ? new Error(`run not done within ${DEADLINE_MS / 1000} s (${next} started)`) : e;
  });
  const wall = performance.now() - t0;
  assert.ok(next >= REQUESTS && !late(), `run not done within ${DEADLINE_MS / 1000} s`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${REQUESTS} responses wrong`);

  const sorted = latencies.slice().sort((a, b) => a - b);
  const pct = (q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
  console.log(
    `load: ${REQUESTS} requests, ${CONCURRENCY} in flight, ${VIEWERS.length} viewers x ${PATIENTS.length} patients ` +
      `(${distinct} distinct bodies), wrangler dev on 127.0.0.1: ${(wall / 1000).toFixed(2)} s, ` +
      `${(REQUESTS / (wall / 1000)).toFixed(0)} req/s, p50 ${pct(0.5).toFixed(1)} ms, p99 ${pct(0.99).toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`,
  );

  // Audit: exactly one row per request, none lost, none extra.
  assert.equal(new Set(runIds).size, REQUESTS, "request ids not unique");
  assert.ok(requestIds.every((id) => typeof id === "string" && id.length > 0), "a response without X-Request-Id");
  await dev.stop();
  const rows = await auditIds(dev);
  const have = new Set(rows);
  assert.equal(have.size, rows.length, "duplicate audit rows");
  const lost = requestIds.filter((id) => !have.has(id));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} requests without an audit row`);
  assert.equal(rows.length, requestIds.length, "audit rows for requests that were not made");
});
