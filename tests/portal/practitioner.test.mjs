// The practitioner portal in Chromium against the built worker under
// `wrangler dev` (demo mode, local D1 in a temporary directory). For each
// profile the page must list exactly the entries the edge returns to that
// viewer (compared with the same $everything fetched directly with the
// same token) and none of those the edge withheld; then the consent and
// break-glass flows, the embeddable view, keyboard use and axe-core.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { demoFile } from "../lib/demo.mjs";

import {
  axeViolations,
  demoToken,
  edgeEverything,
  openByNhs,
  renderedRefs,
  screenshot,
  signIn,
  startBrowser,
  startPortal,
  waitForRecord,
} from "./lib.mjs";

let portal;
let chrome;

before(async () => {
  portal = await startPortal();
  chrome = await startBrowser();
});

after(async () => {
  await chrome?.close();
  await portal?.close();
});

/** Every "Type/id" in a demo patient's full record, as the origin holds it. */
function originRefs(file) {
  const record = demoFile(file);
  return new Set(record.entry.map((e) => `${e.resource.resourceType}/${e.resource.id}`));
}

const sorted = (set) => [...set].sort();
const seriousOnly = (problems) => problems.filter((p) => p.startsWith("page error") || p.startsWith("request failed"));
const UK_DATE = /\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}/;

/** Presses Tab until `selector` has focus (bounded); true if it got there. */
async function tabTo(page, selector, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return true;
  }
  return false;
}

test("landing page and security headers", async () => {
  const home = await fetch(`${portal.url}/`, { signal: AbortSignal.timeout(10_000) });
  const html = await home.text();
  assert.equal(home.status, 200);
  for (const href of ['href="/practitioner/"', 'href="/demo/login"', 'href="/patient/"']) assert.ok(html.includes(href), href);
  const page = await fetch(`${portal.url}/practitioner/`, { signal: AbortSignal.timeout(10_000) });
  await page.arrayBuffer();
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const embed = await fetch(`${portal.url}/practitioner/embed`, { signal: AbortSignal.timeout(10_000) });
  await embed.arrayBuffer();
  const ecsp = embed.headers.get("content-security-policy") ?? "";
  assert.equal(ecsp.split(",").length, 1, "one policy on the embed page, not the site-wide one as well");
  assert.match(ecsp, /frame-ancestors 'self'/);
  assert.equal(embed.headers.get("x-frame-options"), null);
  // No inline script anywhere in the portal's pages.
  for (const path of ["/", "/practitioner/", "/practitioner/embed"]) {
    const text = await (await fetch(`${portal.url}${path}`, { signal: AbortSignal.timeout(10_000) })).text();
    assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/, `inline script in ${path}`);
  }
});

// Each profile opens a patient it shares something with; `withheld` are
// entries the origin holds that this profile must not see.
const PROFILES = [
  { user: "gp-1b", nhs: "9990000069", patient: "ronald-patient", file: "neighbourhood.json", absentTypes: [] },
  { user: "admin-clerk-5", nhs: "9990000018", patient: "joe-patient", file: "joe.json", absentTypes: ["AllergyIntolerance", "MedicationStatement", "Condition", "DocumentReference"] },
  { user: "community-social-worker-3b", nhs: "9990000042", patient: "david-patient", file: "david.json", absentTypes: ["DiagnosticReport", "DocumentReference"] },
  { user: "aed-doctor-6", nhs: "9990000034", patient: "brenda-patient", file: "brenda.json", absentTypes: [] },
];

for (const p of PROFILES) {
  test(`${p.user}: the page shows exactly what the edge returns for ${p.patient}`, { timeout: 90_000 }, async () => {
    const { page, context, problems } = await chrome.page();
    try {
      await signIn(page, portal.url, p.user);
      await openByNhs(page, p.nhs);
      assert.equal(await page.locator("#record [role=alert]").count(), 0, await page.textContent("#record"));
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tiergate.session")).token);
      const edge = await edgeEverything(portal.url, token, p.patient);
      assert.equal(edge.status, 200);
      assert.ok(edge.refs.size > 0, "the edge shares nothing: pick another patient");
      const shown = await renderedRefs(page);
      assert.equal(shown.list.length, shown.set.size, "an entry rendered twice");
      assert.deepEqual(sorted(shown.set), sorted(edge.refs));

      const withheld = [...originRefs(p.file)].filter((r) => !edge.refs.has(r));
      assert.ok(withheld.length > 0, "nothing withheld: the comparison could not catch a leak");
      const body = await page.textContent("body");
      for (const r of withheld) assert.ok(!shown.set.has(r), `${r} is shown`);
      for (const t of p.absentTypes) assert.ok(![...shown.set].some((r) => r.startsWith(`${t}/`)), `a ${t} is shown`);
      // Withheld content is not in the page's text either (its title, by id).
      const origin = demoFile(p.file);
      for (const e of origin.entry) {
        const ref = `${e.resource.resourceType}/${e.resource.id}`;
        const text = e.resource.code?.text ?? e.resource.title;
        if (!edge.refs.has(ref) && text && text.length > 8 && !JSON.stringify(edge.body).includes(text)) {
          assert.ok(!body.includes(text), `text of withheld ${ref} is in the page`);
        }
      }

      // Every placed entry is labelled with its segment and tier by the engine in the page.
      const unlabelled = await page.$$eval(".segment:not(.seg-referenced) [data-ref]", (els) => els.filter((e) => !e.querySelector(".chip[data-segment][data-tier]")).map((e) => e.dataset.ref));
      assert.deepEqual(unlabelled, []);
      assert.equal(await page.locator("[data-policy-mismatch]").count(), 0, "policy hash differs between page and edge");
      assert.equal(await page.getAttribute(".policy-ok", "data-policy"), edge.headers.get("x-tiergate-policy"));
      // Summary comes first.
      const segs = await page.$$eval(".segment", (els) => els.map((e) => e.dataset.segment ?? "referenced"));
      const order = ["summary", "community", "diagnostics", "hospitals", "referenced"];
      assert.deepEqual(segs, [...segs].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
      if (edge.refs.has(`Patient/${p.patient}`)) {
        assert.equal(segs[0], "summary");
        assert.match(await page.textContent(".patient-banner"), new RegExp(`NHS number\\s*${p.nhs.slice(0, 3)} ${p.nhs.slice(3, 6)} ${p.nhs.slice(6)}`));
        assert.match(await page.textContent(".patient-banner"), UK_DATE);
      }
      assert.deepEqual(await axeViolations(page), []);
      if (p.user === "gp-1b") {
        // Letters and discharge summaries are readable in the page; the care team is listed.
        const letters = await page.textContent('[data-content="e_correspondence"]');
        assert.match(letters, /Discharge summary/);
        assert.ok(await page.locator('[data-content="involved_in_care"] [data-ref^="CareTeam/"] .details').count() > 0);
        await screenshot(page, "record-gp-1b");
      }
      assert.deepEqual(seriousOnly(problems), []);
    } finally {
      await context.close();
    }
  });
}

test("no consent: the page says so, recording consent loads the record", { timeout: 90_000 }, async () => {
  // Joe has no consent for the GP's organisation (N99005): nothing is shared.
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page, portal.url, "gp-1b");
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tiergate.session")).token);
    const before = await edgeEverything(portal.url, token, "joe-patient");
    await openByNhs(page, "9990000018");
    await page.waitForSelector("#consent-panel");
    assert.match(await page.textContent("#consent-panel"), /not given consent for N99005/);
    assert.deepEqual(sorted((await renderedRefs(page)).set), sorted(before.refs));
    assert.deepEqual(await axeViolations(page), []);

    await page.click("#consent-action > summary");
    // Submitting without the patient's confirmation is refused in the page.
    await page.click("#consent-submit");
    await page.waitForSelector("#consent-form [role=alert]");
    assert.match(await page.textContent("#consent-form [role=alert]"), /Confirm that the patient/);
    await page.check("#consent-confirm");
    await page.click("#consent-submit");
    await page.waitForSelector("#record[data-state=loaded] .segment[data-segment=summary]", { timeout: 30_000 });
    await waitForRecord(page);
    assert.equal(await page.locator("#consent-panel").count(), 0, "consent panel still shown after consent");

    const afterEdge = await edgeEverything(portal.url, token, "joe-patient");
    const shown = await renderedRefs(page);
    assert.ok(afterEdge.refs.size > before.refs.size, "consent released nothing more");
    assert.ok(afterEdge.refs.has("Patient/joe-patient"));
    assert.deepEqual(sorted(shown.set), sorted(afterEdge.refs));
    // The discharge summary (hospital tier 2 e-correspondence) is readable in the page.
    const letter = page.locator('[data-ref="DocumentReference/joe-discharge-summary"]');
    assert.equal(await letter.count(), 1);
    assert.match(await letter.textContent(), /smooth coronary arteries/);
    // The consent is on record for the GP's organisation.
    const consents = await (await fetch(`${portal.url}/consent/Patient/joe-patient`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })).json();
    assert.ok(JSON.stringify(consents).includes("N99005"));
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("break glass: reason required, warning and time limit shown, then the record loads", { timeout: 90_000 }, async () => {
  // David has no consent for the AED's trust (R9A).
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page, portal.url, "aed-doctor-6");
    await openByNhs(page, "9990000042");
    await page.waitForSelector("#consent-panel");
    await page.click("#bg-action > summary");
    await page.waitForSelector("#bg-reason:not([disabled])");
    assert.equal(await page.isDisabled("#bg-submit"), true, "break glass possible without a reason");
    // Forced submission without a reason is refused too.
    await page.evaluate(() => document.getElementById("bg-form").requestSubmit());
    await page.waitForSelector("#bg-form [role=alert]");
    assert.match(await page.textContent("#bg-form [role=alert]"), /reason is required/);
    assert.match(await page.textContent("#bg-warning"), /investigated/);
    assert.match(await page.textContent("#bg-limit"), /4 hours/);
    assert.equal(await page.getAttribute("#bg-limit", "data-minutes"), "240");
    assert.deepEqual(await axeViolations(page), []);

    await page.selectOption("#bg-reason", "unconscious");
    await page.fill("#bg-detail", "Brought in unresponsive, no family present");
    assert.equal(await page.isDisabled("#bg-submit"), false);
    await page.click("#bg-submit");
    await page.waitForSelector("[data-break-glass=unconscious]", { timeout: 30_000 });
    await waitForRecord(page);
    const notice = await page.textContent("[data-break-glass]");
    assert.match(notice, /Access ends at \d{2}:\d{2} on /);
    assert.match(notice, /investigated/);

    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tiergate.session")).token);
    const edge = await edgeEverything(portal.url, token, "david-patient", { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "test comparison" });
    const plain = await edgeEverything(portal.url, token, "david-patient");
    assert.ok(edge.refs.size > plain.refs.size, "break glass released nothing more");
    assert.deepEqual(sorted((await renderedRefs(page)).set), sorted(edge.refs));
    // The end of the window is the edge's, exactly (the same window answers both requests).
    const expires = edge.headers.get("x-tiergate-break-glass-expires");
    assert.ok(expires && !Number.isNaN(Date.parse(expires)), `no expiry header: ${expires}`);
    assert.equal(await page.getAttribute("[data-break-glass] [data-expires]", "data-expires"), expires);
    const ukTime = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "Europe/London" }).format(new Date(expires));
    assert.ok(notice.includes(`Access ends at ${ukTime} on `), `${notice} does not end at ${ukTime}`);
    // The practitioner is told an explanation is required, with a link to record it.
    assert.match(notice, /must record an explanation/);
    assert.equal(await page.getAttribute("#bg-explain-link", "href"), "#/cases");
    // Reloading the page keeps the open window (this tab only).
    await page.reload();
    await page.waitForSelector("[data-break-glass=unconscious]");
    await waitForRecord(page);
    assert.deepEqual(sorted((await renderedRefs(page)).set), sorted(edge.refs));
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("my break-glass cases: break glass, follow the prompt, record an explanation, the case awaits review", { timeout: 120_000 }, async () => {
  // The same user, patient and reason as the break-glass test: the edge
  // keeps one window (and one case) for them, whichever test runs first.
  const token = await demoToken(portal.url, "aed-doctor-6");
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page, portal.url, "aed-doctor-6");
    await openByNhs(page, "9990000042");
    await page.waitForSelector("#consent-panel");
    await page.click("#bg-action > summary");
    await page.selectOption("#bg-reason", "unconscious");
    await page.fill("#bg-detail", "Brought in unresponsive, no family present");
    await page.click("#bg-submit");
    await page.waitForSelector("[data-break-glass=unconscious]", { timeout: 30_000 });
    await waitForRecord(page);
    // The page says an explanation is required and links to it.
    assert.match(await page.textContent("[data-break-glass]"), /must record an explanation/);
    await page.click("#bg-explain-link");
    await page.waitForSelector('#my-cases[data-state="loaded"], #my-cases [role=alert]', { timeout: 30_000 });
    assert.equal(await page.locator("#my-cases [role=alert]").count(), 0, await page.textContent("#my-cases"));
    const card = page.locator('.case[data-patient="david-patient"][data-status="awaiting-explanation"]').first();
    assert.equal(await card.count(), 1, await page.textContent("#my-cases"));
    const id = await card.getAttribute("data-case");
    assert.match(await card.textContent(), /unable to consent|unconscious/i);
    assert.match(await page.textContent("#cases-waiting"), /needs? your explanation/);
    assert.deepEqual(await axeViolations(page), [], "cases page");
    // An empty explanation is refused in the page.
    await card.locator("button[type=submit]").click();
    await card.locator("[role=alert]").waitFor();
    const words = "Unresponsive on arrival; needed medication and allergies before treatment.";
    await card.locator("textarea").fill(words);
    await card.locator("button[type=submit]").click();
    const done = page.locator(`.case[data-case="${id}"][data-status="awaiting-review"]`);
    await done.waitFor({ timeout: 20_000 });
    assert.match(await done.textContent(), /awaiting review/i);
    assert.equal(await done.locator('[data-field="explanation"]').textContent(), words);
    // The edge holds the same.
    const cases = await (await fetch(`${portal.url}/cases`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) })).json();
    const mine = cases.cases.find((c) => c.id === id);
    assert.equal(mine?.status, "awaiting-review");
    assert.equal(mine?.explanation, words);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("embeddable view opens straight to the launch patient", { timeout: 90_000 }, async () => {
  const token = await demoToken(portal.url, "gp-1b");
  const edge = await edgeEverything(portal.url, token, "ronald-patient");
  for (const query of ["patient=ronald-patient", "nhs=9990000069"]) {
    const { page, context, problems } = await chrome.page({ viewport: { width: 900, height: 700 } });
    try {
      await page.goto(`${portal.url}/practitioner/embed?${query}#access_token=${token}`);
      await waitForRecord(page, ".record-holder");
      assert.equal(await page.locator(".record-holder [role=alert]").count(), 0, await page.textContent("body"));
      assert.ok(!page.url().includes(token), "the token stays in the address bar");
      assert.equal(await page.locator("#demo-user, #search-nhs").count(), 0);
      assert.match(await page.textContent(".patient-banner"), /PRYCE/);
      assert.deepEqual(sorted((await renderedRefs(page)).set), sorted(edge.refs));
      assert.deepEqual(await axeViolations(page), []);
      assert.deepEqual(seriousOnly(problems), []);
    } finally {
      await context.close();
    }
  }
  // Without a token or launch context it says so, and shows nothing.
  const { page, context } = await chrome.page();
  try {
    await page.goto(`${portal.url}/practitioner/embed?patient=ronald-patient`);
    await page.waitForSelector("[role=alert]");
    assert.match(await page.textContent("[role=alert]"), /Not signed in/);
    assert.equal(await page.locator("[data-ref]").count(), 0);
  } finally {
    await context.close();
  }
});

test("keyboard only: skip link, search, open a record, focus on the patient", { timeout: 90_000 }, async () => {
  const { page, context } = await chrome.page();
  try {
    await signIn(page, portal.url, "gp-1b");
    // A fresh load: the first Tab reaches the skip link.
    await page.reload();
    await page.waitForSelector("#search-nhs");
    await page.waitForSelector(".demo-patients:not([hidden])");
    assert.deepEqual(await axeViolations(page), [], "search page");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.className), "skip-link");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
    assert.ok(await tabTo(page, "#nhs-number"), "NHS number field not reachable by Tab");
    await page.keyboard.type("999 000 0069");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#results .result a");
    assert.ok(await tabTo(page, "#results .result a"), "result link not reachable by Tab");
    await page.keyboard.press("Enter");
    await waitForRecord(page);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("patient-name")), true, "focus not moved to the patient");
    // A bad NHS number is explained, with focus back on the field.
    await page.goto(`${portal.url}/practitioner/#/`);
    await page.waitForSelector("#nhs-number");
    await page.fill("#nhs-number", "123");
    await page.press("#nhs-number", "Enter");
    await page.waitForSelector("#nhs-error:not([hidden])");
    assert.equal(await page.getAttribute("#nhs-number", "aria-invalid"), "true");
  } finally {
    await context.close();
  }
});

test("errors are shown with a retry, and sign out clears the session", { timeout: 60_000 }, async () => {
  const { page, context } = await chrome.page();
  try {
    await signIn(page, portal.url, "gp-1b");
    await page.goto(`${portal.url}/practitioner/#/patient/no-such-patient`);
    await page.waitForSelector("#record [role=alert]");
    assert.ok(await page.locator("#record [role=alert] button").count(), "no retry on error");
    assert.deepEqual(await axeViolations(page), []);
    await page.click("#sign-out");
    await page.waitForSelector("#demo-user");
    assert.deepEqual(await axeViolations(page), [], "sign-in page");
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("tiergate."))), []);
    // A stale or forged token ends the session instead of spinning.
    await page.evaluate(() => sessionStorage.setItem("tiergate.session", JSON.stringify({ token: "x.y.z", user: { name: "x" }, expires: Date.now() + 60_000 })));
    await page.goto(`${portal.url}/practitioner/#/patient/ronald-patient`);
    await page.waitForSelector("#demo-user");
    assert.match(await page.textContent("main"), /session has ended/);
  } finally {
    await context.close();
  }
});

test("the consent form says, before anything is recorded, that the patient's choices restrict this viewer, never what about", { timeout: 90_000 }, async () => {
  const joe = await demoToken(portal.url, "joe");
  const optOut = await fetch(`${portal.url}/consent/Patient/joe-patient/opt-out`, {
    method: "POST",
    headers: { authorization: `Bearer ${joe}`, "content-type": "application/json" },
    body: JSON.stringify({ scope: { content: ["appointments"] } }),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(optOut.status, 201);
  const { id } = await optOut.json();
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page, portal.url, "district-nurse-7");
    await openByNhs(page, "9990000018");
    await page.click("#consent-action > summary");
    await page.waitForSelector("#consent-restrictions [data-restricted]");
    const notice = await page.textContent("#consent-restrictions");
    assert.match(notice, /chosen not to share part of their record with you/);
    assert.doesNotMatch(notice, /appointment/i, "the notice names what the choice is about");
    assert.ok(!notice.includes(id), "the notice names the choice by its id");
    // Joe tells the nurse he wants to share again: she records his
    // withdrawal of that choice, with what he said.
    const item = page.locator("#consent-restrictions [data-restriction]");
    assert.equal(await item.count(), 1);
    await item.locator("summary").click();
    await item.locator("button").click();
    assert.match(await item.locator("[role=alert]").textContent(), /what the patient told you/i);
    await item.locator("textarea").fill("Joe wants his appointments shared with the district nurses again");
    await item.locator("input[type=checkbox]").check();
    const [recorded] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/consent/Patient/joe-patient/withdraw")), item.locator("button").click()]);
    assert.equal(recorded.status(), 201);
    await waitForRecord(page);
    const mine = await fetch(`${portal.url}/consent/Patient/joe-patient`, { headers: { authorization: `Bearer ${joe}` }, signal: AbortSignal.timeout(10_000) });
    const withdrawal = (await mine.json()).entry.map((e) => e.resource).find((c) => (c.extension ?? []).some((x) => x.valueReference?.reference === `Consent/${id}`));
    assert.ok(withdrawal, "Joe's record holds the withdrawal of his choice");
    assert.ok(withdrawal.extension.some((x) => x.valueString === "Joe wants his appointments shared with the district nurses again"));
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
  const again = await chrome.page();
  try {
    await signIn(again.page, portal.url, "district-nurse-7");
    await openByNhs(again.page, "9990000018");
    await again.page.click("#consent-action > summary");
    await again.page.waitForSelector("#consent-form");
    await again.page.waitForLoadState("networkidle");
    assert.equal(await again.page.locator("#consent-restrictions [data-restricted]").count(), 0);
    assert.deepEqual(seriousOnly(again.problems), []);
  } finally {
    await again.context.close();
  }
});

test("the edge audited the break-glass access", { timeout: 90_000 }, async () => {
  const rows = await portal.query("SELECT user_id, patient, reason, started, expires FROM break_glass");
  const mine = rows.filter((r) => r.user_id === "tom.ashworth" && r.patient === "david-patient");
  assert.equal(mine.length, 1, JSON.stringify(rows));
  assert.equal(mine[0].reason, "unconscious");
  assert.equal((Date.parse(mine[0].expires) - Date.parse(mine[0].started)) / 60_000, 240);
  const audit = await portal.query("SELECT COUNT(*) AS n FROM audit_events WHERE break_glass = 1 AND patient = 'david-patient'");
  assert.ok(audit[0].n >= 1);
});
