// Latency the edge adds (not a test): N sequential `$everything` reads of
// Joe's record through the built worker in workerd vs straight from the
// 127.0.0.1 origin. `node tests/worker/latency.mjs [N]`.
import { performance } from "node:perf_hooks";

import { AUDIENCE, ISSUER, claimsFor, makeKey, startOrigin, startWorker, token, viewer } from "./lib.mjs";

const n = Number(process.argv[2] ?? 200);
const origin = await startOrigin();
const key = makeKey("ES256", "k");
const mf = await startWorker({
  bindings: { ORIGIN_URL: origin.url, JWKS: JSON.stringify({ keys: [key.jwk] }), JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
});
const tok = token(key, claimsFor(viewer("aed-doctor-6")));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(f) {
  const xs = [];
  for (let i = 0; i < n; i += 1) {
    const t = performance.now();
    await f();
    xs.push(performance.now() - t);
  }
  return xs;
}
try {
  await mf.dispatchFetch("http://t/fhir/Patient/joe-patient/$everything", { headers: { authorization: `Bearer ${tok}` } }).then((r) => r.text());
  const direct = await time(() => fetch(`${origin.url}/Patient/joe-patient/$everything`).then((r) => r.text()));
  const edge = await time(() =>
    mf.dispatchFetch("http://t/fhir/Patient/joe-patient/$everything", { headers: { authorization: `Bearer ${tok}` } }).then((r) => r.text()),
  );
  const p95 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
  console.log(`n=${n} origin direct: median ${median(direct).toFixed(2)} ms, p95 ${p95(direct).toFixed(2)} ms`);
  console.log(`n=${n} through edge:  median ${median(edge).toFixed(2)} ms, p95 ${p95(edge).toFixed(2)} ms (verify, fetch, D1 consent read, redact, D1 audit write)`);
} finally {
  await mf.dispose();
  await origin.close();
}
