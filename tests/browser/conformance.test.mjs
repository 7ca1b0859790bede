// Conformance vectors, and the hostile catalogue's `engine` cases, replayed
// in Chromium on the web build, served from 127.0.0.1 by
// tests/browser/server.mjs. A hostile case must give what the catalogue
// expects and, byte for byte, what the nodejs build gives. Uses the system Chromium
// (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core; never a
// downloaded browser.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { Engine } from "../node/engine.mjs";
import { checkExpect, engineCases } from "../node/lib/hostile.mjs";
import { replay } from "../node/lib/replay.mjs";
import { check, loadVectors, root } from "../node/lib/vectors.mjs";
import { serve } from "./server.mjs";

const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let server;
let browser;
let page;
const problems = [];

before(async () => {
  server = await serve(root, ["/pkg/web/", "/tests/browser/", "/tests/node/lib/", "/tests/vectors/"]);
  browser = await chromium.launch({ executablePath, args, headless: true, timeout: 60_000 });
  page = await browser.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.setDefaultTimeout(30_000);
  await page.goto(`${server.origin}/tests/browser/index.html`);
  await page.waitForFunction(() => document.getElementById("status")?.textContent !== "loading", null, {
    timeout: 30_000,
  });
  const status = await page.textContent("#status");
  assert.equal(status, "ready", `page did not load the engine: ${status}; ${problems.join("; ")}`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the web build loads with no console errors and the default policy", async () => {
  const vectors = loadVectors();
  assert.equal(await page.evaluate(() => window.tiergate.policyHash()), vectors[0].vector.expected.decisions.summary.policy);
  assert.deepEqual(problems, []);
});

for (const { name, vector } of loadVectors()) {
  test(name, { timeout: 30_000 }, async () => {
    const { expected, ...input } = vector;
    const actual = await page.evaluate(
      ([v, url]) => window.tiergate.replayVector(v, url),
      [input, `/tests/vectors/${vector.record}`],
    );
    check("chromium", name, expected, actual);
  });
}

const node = new Engine();
for (const { name, vector, record, expect } of engineCases()) {
  test(`hostile: ${name}`, { timeout: 30_000 }, async () => {
    const actual = await page.evaluate(([v, b64]) => window.tiergate.replayBytes(v, b64), [vector, Buffer.from(record).toString("base64")]);
    checkExpect(name, expect, actual);
    assert.deepEqual(actual, replay(node, vector, record), `${name}: Chromium and Node differ`);
  });
}

test("no console errors while replaying", () => {
  assert.deepEqual(problems, []);
});
