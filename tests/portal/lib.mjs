// Harness for the portal browser tests: the built worker with the
// assembled portals (worker/public, `make portal`) under `wrangler dev` on
// 127.0.0.1 in demo mode, the system Chromium through playwright-core
// (never a downloaded browser), direct edge requests for expected
// results, and an axe-core check.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { installPageClock } from "../lib/clock.mjs";
import { root } from "../worker/lib.mjs";
import { d1Query, startWranglerDev } from "../worker/wrangler.mjs";

export { root };
export const artifacts = join(root, "target", "portal-artifacts");

const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The edge in demo mode with the portals' assets; `close()` stops it and removes its state. */
export async function startPortal() {
  for (const f of ["worker/build/index.js", "worker/public/practitioner/index.html", "worker/public/pkg/tiergate_wasm.js"]) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`make worker portal\``);
  }
  const dir = mkdtempSync(join(tmpdir(), "tiergate-portal-"));
  let dev;
  try {
    dev = await startWranglerDev(dir, { DEMO: "on" }, { assets: true, name: "tiergate-portal" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped = false;
  return {
    url: dev.url,
    dev,
    /** Stops wrangler (once); state stays for `query`. */
    async stop() {
      if (!stopped) await dev.stop();
      stopped = true;
    },
    /** SQL on the local D1 (stops wrangler first). */
    async query(sql) {
      await this.stop();
      return d1Query(dev, sql);
    },
    async close() {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Chromium, and a page factory that records console errors, page errors and
 * failed requests. Every page runs on the suite's clock, as the edge does.
 */
export async function startBrowser() {
  const browser = await chromium.launch({ executablePath, args: chromiumArgs, headless: true, timeout: 60_000 });
  return {
    browser,
    async page({ viewport = { width: 1280, height: 900 } } = {}) {
      const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/London" });
      await installPageClock(context);
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      page.setDefaultNavigationTimeout(30_000);
      const problems = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ""}`));
      return { page, context, problems };
    },
    close: () => browser.close(),
  };
}

/** A demo token straight from the edge. */
export async function demoToken(url, user) {
  const r = await fetch(`${url}/demo/token`, { method: "POST", body: JSON.stringify({ user }), signal: AbortSignal.timeout(15_000) });
  if (r.status !== 200) throw new Error(`demo token for ${user}: ${r.status}`);
  return (await r.json()).token;
}

/** `$everything` straight from the edge: status, headers and the entries' "Type/id" set. */
export async function edgeEverything(url, token, patient, headers = {}) {
  const r = await fetch(`${url}/fhir/Patient/${patient}/$everything`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
    signal: AbortSignal.timeout(15_000),
  });
  const body = await r.json();
  const refs = new Set((body.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`));
  return { status: r.status, headers: r.headers, body, refs };
}

/** The "Type/id" of every entry the page rendered. */
export async function renderedRefs(page) {
  const refs = await page.$$eval("[data-ref]", (els) => els.map((e) => e.getAttribute("data-ref")));
  return { list: refs, set: new Set(refs) };
}

const axeSource = readFileSync(join(root, "node_modules", "axe-core", "axe.min.js"), "utf8");

/**
 * axe-core on the current page (WCAG 2.x A/AA and best-practice rules);
 * the serious and critical violations as "rule: target" strings. Injected
 * through the DevTools protocol, which the page's CSP does not govern.
 */
export async function axeViolations(page) {
  const injected = await page.evaluate(() => typeof window.axe === "object");
  if (!injected) await page.evaluate(axeSource);
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"], runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")}: ${v.help}`));
}

/** A screenshot under target/portal-artifacts/ (gitignored); returns its path. */
export async function screenshot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the portal's form as a demo user and waits for the search page. */
export async function signIn(page, url, user) {
  await page.goto(`${url}/practitioner/`);
  await page.waitForSelector("#demo-user");
  await page.selectOption("#demo-user", user);
  await page.click("#sign-in");
  await page.waitForSelector("#search-nhs");
}

/** Opens a patient's record from the search page by NHS number; waits until it has loaded or failed. */
export async function openByNhs(page, nhs) {
  await page.fill("#nhs-number", nhs);
  await page.press("#nhs-number", "Enter");
  await page.waitForSelector("#results .result a");
  await page.click("#results .result a");
  await waitForRecord(page);
}

/** Waits for the record view to settle (loaded, or an error shown). */
export async function waitForRecord(page, root = "#record") {
  await page.waitForSelector(`${root}[data-state="loaded"], ${root} [role=alert]`, { timeout: 30_000 });
}
