// Conformance vectors, and the hostile catalogue's `engine` cases, replayed
// in workerd (through Miniflare) on the web build, by
// tests/workerd/worker.mjs. A hostile case must give what the catalogue
// expects and, byte for byte, what the nodejs build gives. Everything
// stays on this machine.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { Miniflare } from "miniflare";

import { Engine } from "../node/engine.mjs";
import { checkExpect, engineCases } from "../node/lib/hostile.mjs";
import { replay } from "../node/lib/replay.mjs";
import { check, loadVectors, root } from "../node/lib/vectors.mjs";
import { webBuildWorker } from "./options.mjs";

let mf;

before(async () => {
  mf = new Miniflare(webBuildWorker(join(root, "tests", "workerd", "worker.mjs"), root));
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

const node = new Engine();
for (const { name, vector, record, expect } of engineCases()) {
  test(`hostile: ${name}`, { timeout: 30_000 }, async () => {
    const res = await mf.dispatchFetch("http://tiergate.test/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...vector, record: Buffer.from(record).toString("base64") }),
    });
    const actual = await res.json();
    assert.equal(res.status, 200, `worker failed: ${actual.error}`);
    checkExpect(name, expect, actual);
    assert.deepEqual(actual, replay(node, vector, record), `${name}: workerd and Node differ`);
  });
}
