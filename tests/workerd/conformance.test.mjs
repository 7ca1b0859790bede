// Conformance vectors replayed in workerd (through Miniflare) on the web
// build, by tests/workerd/worker.mjs. Everything stays on this machine.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Miniflare } from "miniflare";

import { check, loadVectors, root } from "../node/lib/vectors.mjs";

let mf;

before(async () => {
  mf = new Miniflare({
    modules: true,
    scriptPath: join(root, "tests", "workerd", "worker.mjs"),
    modulesRoot: root,
    // The wasm-bindgen glue is an ES module with a .js name (Miniflare
    // treats .js as CommonJS unless told).
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-26",
    host: "127.0.0.1",
    // Placeholder `request.cf`: never fetch the real one from the network.
    cf: false,
  });
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

test("the worker runs the default policy", async () => {
  const res = await mf.dispatchFetch("http://tiergate.test/policy-hash");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), loadVectors()[0].vector.expected.decisions.summary.policy);
});

for (const { name, vector, record } of loadVectors()) {
  test(name, { timeout: 30_000 }, async () => {
    const { expected, ...input } = vector;
    const res = await mf.dispatchFetch("http://tiergate.test/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...input, record: Buffer.from(record).toString("base64") }),
    });
    const actual = await res.json();
    assert.equal(res.status, 200, `worker failed: ${actual.error}`);
    check("workerd", name, expected, actual);
  });
}
