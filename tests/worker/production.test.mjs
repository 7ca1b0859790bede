// The build `wrangler deploy` makes (worker/build-production, no `demo`
// feature) in workerd: it runs on the real clock only. Given the suites'
// clock override it refuses every request, so a test clock can never move
// production's idea of now (training, break-glass windows, consent periods).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { root, startWorker } from "./lib.mjs";

const BASE = "http://tiergate.test";

async function status(bindings, clock) {
  const mf = await startWorker({ build: "build-production", clock, bindings });
  try {
    const r = await mf.dispatchFetch(`${BASE}/fhir/Patient/joe-patient/$everything`);
    await r.arrayBuffer();
    return r.status;
  } finally {
    await mf.dispose();
  }
}

test("the production build answers on the real clock and refuses a clock override", { timeout: 60_000 }, async () => {
  assert.ok(existsSync(join(root, "worker", "build-production", "index.js")), "run `make worker-production`");
  const bindings = { DEMO: "off", JWT_ISSUER: "https://idp.tiergate.test", JWKS: '{"keys":[]}' };
  assert.equal(await status(bindings, false), 401, "without an override: an ordinary refusal of a missing token");
  assert.equal(await status({ ...bindings, CLOCK_OFFSET_MS: "0" }, false), 503);
  assert.equal(await status({ ...bindings, CLOCK_OFFSET_MS: String(5 * 365 * 86_400_000) }, false), 503);
});

test("the production build holds no demo data or key, and refuses to run the demo", { timeout: 60_000 }, async () => {
  const module = readFileSync(join(root, "worker", "build-production", "index_bg.wasm"));
  const demoModule = readFileSync(join(root, "worker", "build", "index_bg.wasm"));
  const key = JSON.parse(readFileSync(join(root, "crates", "demo", "data", "DEMO-ONLY-signing-key.json"), "utf8"));
  // What would give the demo away: the private key, a demo patient, a demo user.
  const marks = [key.d, "Joe Whitfield", "nhs-login-grace-okoro", "joe-cond-copd"];
  for (const m of marks) {
    assert.ok(demoModule.includes(Buffer.from(m)), `the check cannot see ${m} even in the demo build`);
    assert.ok(!module.includes(Buffer.from(m)), `the production module holds ${m}`);
  }
  const bindings = { JWT_ISSUER: "https://idp.tiergate.test", JWKS: '{"keys":[]}' };
  assert.equal(await status({ ...bindings, DEMO: "on" }, false), 503, "DEMO=on without a demo");
  const mf = await startWorker({ build: "build-production", clock: false, bindings: { ...bindings, DEMO: "on" } });
  try {
    const r = await mf.dispatchFetch(`${BASE}/demo/token`, { method: "POST", body: JSON.stringify({ user: "joe" }) });
    await r.arrayBuffer();
    assert.equal(r.status, 503);
  } finally {
    await mf.dispose();
  }
});

test("the demo build refuses an override it cannot read", { timeout: 60_000 }, async () => {
  const mf = await startWorker({ clock: false, bindings: { DEMO: "off", CLOCK_OFFSET_MS: "soon" } });
  try {
    const r = await mf.dispatchFetch(`${BASE}/fhir/Patient/joe-patient/$everything`);
    await r.arrayBuffer();
    assert.equal(r.status, 503);
  } finally {
    await mf.dispose();
  }
});
