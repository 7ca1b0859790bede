// The privacy officer page (www/privacy) in Chromium against the built
// worker under `wrangler dev` (demo mode, local D1 in a temporary
// directory). The break-glass case workflow end to end: an AED doctor
// breaks glass on David's record, the officer sees the new case and the
// break-glass alert, cannot close it as appropriate before the doctor has
// explained, the doctor explains, the officer closes it with its full
// history. Filters, exports and monitoring are checked against what the
// edge answers for the same filters; no record content ever reaches the
// page; a practitioner is refused; axe-core, keyboard use, a screenshot.
//
// The tests share one edge and run in order: later ones build on the
// break glass and the case of the first ones.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";

import { now } from "../lib/clock.mjs";
import { demoFile, demoViewer } from "../lib/demo.mjs";
import { axeViolations, demoToken, edgeEverything, renderedRefs, screenshot, signIn as signInPractitioner, startBrowser, startPortal, waitForRecord } from "./lib.mjs";

let portal;
let chrome;
/** The officer's and the AED doctor's tokens, straight from the edge. */
let officer;
let doctor;
/** The case opened by the doctor's break glass (from the edge). */
let theCase;

const DAVID = "david-patient";
const DOCTOR = "aed-doctor-6";
const DOCTOR_ID = demoViewer(DOCTOR).user_id;

before(async () => {
  portal = await startPortal();
  chrome = await startBrowser();
  officer = await demoToken(portal.url, "privacy-officer");
  doctor = await demoToken(portal.url, DOCTOR);
});

after(async () => {
  await chrome?.close();
  await portal?.close();
});

// A request the page itself abandoned (a reload mid-request) is not a failure.
const seriousOnly = (problems) => problems.filter((p) => (p.startsWith("page error") || p.startsWith("request failed")) && !p.includes("net::ERR_ABORTED"));

/** Clinical text from the demo records: none of it may ever appear on the privacy page. */
const CLINICAL = (() => {
  const out = new Set();
  for (const f of ["joe", "david"]) {
    const bundle = demoFile(`${f}.json`);
    for (const e of bundle.entry ?? []) {
      const r = e.resource ?? {};
      if (!["Condition", "AllergyIntolerance", "MedicationStatement", "MedicationRequest", "Observation", "Procedure"].includes(r.resourceType)) continue;
      const code = r.code ?? r.medicationCodeableConcept ?? {};
      for (const c of code.coding ?? []) if (typeof c.display === "string" && c.display.length >= 8) out.add(c.display);
      if (typeof code.text === "string" && code.text.length >= 8) out.add(code.text);
    }
  }
  return [...out];
})();

async function edge(path, token, init = {}) {
  const r = await fetch(`${portal.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}), ...(init.headers ?? {}) },
    signal: AbortSignal.timeout(20_000),
  });
  const text = await r.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, body, text };
}

const qs = (f) => {
  const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  return q.toString() ? `?${q}` : "";
};

/** Waits for a section to settle: loaded, empty, ready, an error or the refusal. */
async function settled(page, view) {
  await page.waitForSelector(
    [`#view[data-view="${view}"][data-state="loaded"]`, `#view[data-view="${view}"][data-state="empty"]`, `#view[data-view="${view}"][data-state="ready"]`, `#view[data-view="${view}"][data-state="error"]`, `#view[data-view="forbidden"]`].join(", "),
    { timeout: 30_000 },
  );
}

/** Signs in through the page's form as `user` (default the privacy officer). */
async function signIn(page, user = "privacy-officer") {
  await page.goto(`${portal.url}/privacy/`);
  await page.waitForSelector('#view[data-view="sign-in"][data-state="ready"]');
  await page.selectOption("#demo-user", user);
  await page.click("#sign-in");
  await page.waitForSelector('#view[data-view="alerts"]:not([data-state="loading"]), #view[data-view="forbidden"]', { timeout: 30_000 });
}

/** Opens a section with filters through the hash and waits for it. */
async function open(page, view, filters = {}) {
  const hash = `#/${view}${qs(filters)}`;
  const before = await page.getAttribute("#view", "data-render");
  const same = await page.evaluate((h) => {
    if (location.hash === h) return true;
    location.hash = h;
    return false;
  }, hash);
  if (!same) await page.waitForFunction((b) => document.getElementById("view")?.dataset.render !== b, before);
  await settled(page, view);
}

/** RFC 4180 CSV rows (quoted fields may hold commas, quotes and line breaks); blank lines dropped. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) rows.push([...row, field]);
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** The filters in the page's hash, as a sorted query string (the form's field order does not matter). */
const canonical = (f) => new URLSearchParams(Object.entries(f).filter(([, v]) => v).sort(([a], [b]) => a.localeCompare(b))).toString();

/** Submits a section's filter form and waits for the new answer to settle; checks the hash holds the filters. */
async function applyFilters(page, view, f) {
  const before = await page.getAttribute("#view", "data-render");
  await page.click(`#${view === "alerts" ? "alert" : "case"}-filters-apply`);
  await page.waitForFunction((b) => document.getElementById("view")?.dataset.render !== b, before);
  await settled(page, view);
  const hash = await page.evaluate(() => location.hash);
  const m = /^#\/([a-z]+)\??(.*)$/.exec(hash);
  assert.equal(m?.[1], view);
  assert.equal(canonical(Object.fromEntries(new URLSearchParams(m[2]))), canonical(f), "the hash holds the filters");
}

/** Presses Tab until `selector` has focus (bounded); true if it got there. */
async function tabTo(page, selector, max = 120) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return true;
  }
  return false;
}

const caseSel = (id) => `li.case[data-case-id="${id}"]`;

test("the page: strict CSP, no inline script or style", async () => {
  const r = await fetch(`${portal.url}/privacy/`, { signal: AbortSignal.timeout(10_000) });
  const html = await r.text();
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-security-policy") ?? "", /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=/i);
  assert.doesNotMatch(html, /\son[a-z]+=/i, "inline event handler");
});

test("a practitioner is refused: the edge answers 403 and the page says not permitted", { timeout: 90_000 }, async () => {
  for (const path of ["/privacy/alerts", "/privacy/audit.csv", "/privacy/audit.ndjson"]) {
    assert.equal((await edge(path, doctor)).status, 403, path);
  }
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page, DOCTOR);
    await page.waitForSelector("#not-permitted");
    assert.match(await page.textContent("#not-permitted"), /not permitted/i);
    assert.equal(await page.locator("#alert-list, #case-list").count(), 0);
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(seriousOnly(problems).filter((p) => !p.includes("403")), []);
  } finally {
    await context.close();
  }
});

test("break glass opens a case awaiting explanation and a break-glass alert; review before explanation is refused", { timeout: 120_000 }, async () => {
  const bg = await edge(`/fhir/Patient/${DAVID}/$everything`, doctor, {
    headers: { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "Brought in unresponsive, no family present" },
  });
  assert.equal(bg.status, 200, bg.text.slice(0, 300));
  const cases = await edge(`/cases${qs({ patient: DAVID })}`, officer);
  assert.equal(cases.status, 200);
  const mine = cases.body.cases.filter((c) => c.user_id === DOCTOR_ID && c.patient === DAVID);
  assert.equal(mine.length, 1, JSON.stringify(cases.body));
  theCase = mine[0];
  assert.equal(theCase.status, "awaiting-explanation");

  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page);
    // The break-glass alert, found by filtering on the patient and the break-glass rule.
    const all = await edge(`/privacy/alerts${qs({ status: "all", patient: DAVID })}`, officer);
    assert.equal(all.status, 200);
    const bgRule = all.body.rules.find((r) => /break.?glass/i.test(r.id));
    assert.ok(bgRule, `no break-glass rule in ${JSON.stringify(all.body.rules.map((r) => r.id))}`);
    await open(page, "alerts", { status: "open", patient: DAVID, rule: bgRule.id });
    const alertEl = page.locator(`li.alert[data-rule="${bgRule.id}"]`).first();
    await alertEl.waitFor();
    const alertText = await alertEl.textContent();
    assert.match(alertText, new RegExp(DOCTOR_ID.replace(/\./g, "\\.")));
    const expectedAlert = all.body.alerts.find((a) => a.rule === bgRule.id && a.user_id === DOCTOR_ID);
    assert.ok(expectedAlert);
    for (const ev of expectedAlert.events) assert.ok(alertText.includes(ev), `event ${ev} not shown`);
    assert.ok(alertText.includes(bgRule.description), "the rule's description is shown");

    await open(page, "cases");
    const el = page.locator(caseSel(theCase.id));
    await el.waitFor();
    assert.equal(await el.getAttribute("data-status"), "awaiting-explanation");
    assert.match(await el.locator('[data-fact="explanation"]').textContent(), /awaiting explanation/i);
    assert.equal((await el.locator('[data-fact="patient"] dd').textContent()).trim(), DAVID);
    assert.equal((await el.locator('[data-fact="organisation"] dd').textContent()).trim(), theCase.organisation);
    assert.match(await el.locator('[data-fact="reason"] dd').textContent(), new RegExp(theCase.reason_display ?? theCase.reason, "i"));

    // Closing as appropriate before the doctor has explained: the edge refuses (409) and the page says why.
    await el.locator("textarea").fill("Trying to close too early");
    await el.locator('[data-decision="appropriate"]').click();
    await el.locator("[role=alert]").waitFor();
    assert.match(await el.locator("[role=alert]").textContent(), /explanation/i);
    assert.equal(await el.getAttribute("data-status"), "awaiting-explanation");
    const still = await edge(`/cases${qs({ patient: DAVID })}`, officer);
    assert.equal(still.body.cases.find((c) => c.id === theCase.id).status, "awaiting-explanation");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("the doctor explains; the officer sees the explanation and closes the case as appropriate with its full history", { timeout: 120_000 }, async () => {
  assert.ok(theCase, "no case from the previous test");
  const explanation = "Patient unconscious on arrival; the record was needed for allergies and current medicines.";
  // Nobody else may explain the doctor's case: not the officer.
  assert.equal((await edge(`/cases/${encodeURIComponent(theCase.id)}/explanation`, officer, { method: "POST", body: JSON.stringify({ explanation: "not mine" }) })).status, 403);

  const { page, context, problems } = await chrome.page();
  try {
    // The doctor explains in the practitioner portal's "My break-glass cases" (through the API if the portal has no such page).
    await signInPractitioner(page, portal.url, DOCTOR);
    if (await page.locator("#cases-link").count()) {
      await page.click("#cases-link");
      const card = page.locator(`[data-case="${theCase.id}"]`);
      await card.waitFor({ timeout: 30_000 });
      await card.locator("textarea").fill(explanation);
      await card.locator("button[type=submit]").click();
      await page.waitForSelector(`[data-case="${theCase.id}"][data-status="awaiting-review"]`);
    } else {
      const r = await edge(`/cases/${encodeURIComponent(theCase.id)}/explanation`, doctor, { method: "POST", body: JSON.stringify({ explanation }) });
      assert.equal(r.status, 200, r.text.slice(0, 300));
    }
    assert.equal((await edge(`/cases${qs({ patient: DAVID })}`, officer)).body.cases.find((c) => c.id === theCase.id).status, "awaiting-review");
    await page.evaluate(() => sessionStorage.clear());

    await signIn(page);
    await open(page, "cases", { patient: DAVID });
    const el = page.locator(caseSel(theCase.id));
    await el.waitFor();
    assert.equal(await el.getAttribute("data-status"), "awaiting-review");
    assert.equal((await el.locator('[data-fact="explanation"] dd').textContent()).trim(), explanation);
    await el.locator("textarea").fill("Explanation accepted: emergency care, no consent obtainable.");
    await el.locator('[data-decision="appropriate"]').click();
    await page.waitForSelector(`${caseSel(theCase.id)}[data-status="closed-appropriate"]`);
    const closed = page.locator(caseSel(theCase.id));
    assert.match(await closed.textContent(), /Closed: appropriate/);
    assert.match(await closed.locator('[data-fact="review_note"] dd').textContent(), /Explanation accepted/);
    assert.equal(await closed.locator('[data-decision]').count(), 0, "review buttons remain on a closed case");

    // The full history, as the edge has it.
    const fromEdge = (await edge(`/cases${qs({ patient: DAVID })}`, officer)).body.cases.find((c) => c.id === theCase.id);
    assert.equal(fromEdge.status, "closed-appropriate");
    assert.ok(fromEdge.history.length >= 3, JSON.stringify(fromEdge.history));
    const shown = await closed.locator(".history li").evaluateAll((els) => els.map((e) => e.getAttribute("data-action")));
    assert.deepEqual(shown, fromEdge.history.map((h) => h.action));
    // A reload shows the same.
    await page.reload();
    await settled(page, "cases");
    assert.equal(await page.getAttribute(caseSel(theCase.id), "data-status"), "closed-appropriate");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("a second break glass escalated before any explanation: closed to further review", { timeout: 120_000 }, async () => {
  const other = await demoToken(portal.url, "ed-doctor-phil-6");
  const bg = await edge(`/fhir/Patient/${DAVID}/$everything`, other, { headers: { "x-tiergate-break-glass": "unconscious", "x-tiergate-break-glass-detail": "Second emergency access" } });
  assert.equal(bg.status, 200, bg.text.slice(0, 300));
  const open2 = (await edge(`/cases${qs({ patient: DAVID, status: "awaiting-explanation" })}`, officer)).body.cases;
  assert.equal(open2.length, 1);
  const second = open2[0];
  assert.notEqual(second.id, theCase?.id);
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page);
    await open(page, "cases", { status: "awaiting-explanation" });
    const el = page.locator(caseSel(second.id));
    await el.waitFor();
    await el.locator("textarea").fill("No explanation after two reminders; passed to the Caldicott guardian.");
    await el.locator('[data-decision="escalate"]').click();
    await page.waitForSelector(`${caseSel(second.id)}[data-status="escalated"]`);
    assert.equal(await page.locator(`${caseSel(second.id)} [data-decision]`).count(), 0);
    const fromEdge = (await edge(`/cases${qs({ patient: DAVID })}`, officer)).body.cases.find((c) => c.id === second.id);
    assert.equal(fromEdge.status, "escalated");
    assert.deepEqual(fromEdge.history.map((h) => h.action), ["opened", "reviewed:escalate"]);
    // The page's own practitioner view is not involved: a practitioner sees only their own cases.
    const theirs = (await edge("/cases", other)).body.cases;
    assert.ok(theirs.every((c) => c.id === second.id), "a practitioner sees others' cases");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("filters narrow the alerts and the cases to what the edge answers for the same filters", { timeout: 120_000 }, async () => {
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page);
    await open(page, "alerts", { status: "all" });
    const every = (await edge("/privacy/alerts?status=all", officer)).body;
    assert.ok(every.alerts.length > 0);
    const first = every.alerts[0];
    const cases = [
      { status: "all" },
      { status: "all", organisation: first.organisation },
      { status: "all", user: first.user_id },
      { status: "all", patient: DAVID },
      { status: "all", rule: first.rule },
      { status: "open", organisation: first.organisation, rule: first.rule },
      { status: "closed" },
      { status: "all", organisation: "NO-SUCH-ORG" },
    ];
    for (const f of cases) {
      // Through the form, as the officer would.
      for (const k of ["organisation", "user", "patient"]) await page.fill(`#alert-filters-${k}`, f[k] ?? "");
      await page.selectOption("#alert-filters-rule", f.rule ?? "");
      await page.selectOption("#alert-filters-status", f.status);
      await applyFilters(page, "alerts", f);
      await page.waitForSelector("#alerts-title");
      const want = (await edge(`/privacy/alerts${qs(f)}`, officer)).body.alerts;
      assert.equal(Number(await page.getAttribute("#alerts-title", "data-count")), want.length, JSON.stringify(f));
      const ids = await page.locator("li.alert").evaluateAll((els) => els.map((e) => e.dataset.alertId));
      assert.deepEqual(ids.sort(), want.map((a) => a.id).sort(), JSON.stringify(f));
    }
    assert.equal(Number(await page.getAttribute("#alerts-title", "data-count")), 0);
    assert.ok(await page.locator('#alert-results [data-state="empty"]').isVisible(), "no empty state");

    await open(page, "cases");
    for (const f of [{}, { patient: DAVID }, { user: DOCTOR_ID }, { organisation: theCase?.organisation ?? "R9A" }, { status: "closed-appropriate" }, { status: "awaiting-explanation" }]) {
      for (const k of ["organisation", "user", "patient"]) await page.fill(`#case-filters-${k}`, f[k] ?? "");
      await page.selectOption("#case-filters-status", f.status ?? "");
      await applyFilters(page, "cases", f);
      await page.waitForSelector("#cases-title");
      const want = (await edge(`/cases${qs(f)}`, officer)).body.cases;
      const ids = await page.locator("li.case").evaluateAll((els) => els.map((e) => e.dataset.caseId));
      assert.deepEqual(ids.sort(), want.map((c) => c.id).sort(), JSON.stringify(f));
    }

    // Closing and reopening an alert with a note.
    await open(page, "alerts", { status: "open" });
    const target = page.locator("li.alert").first();
    const id = await target.getAttribute("data-alert-id");
    await target.locator("textarea").fill("Reviewed: expected access");
    await target.locator('button[data-action="close"]').click();
    await page.waitForSelector(`li.alert[data-alert-id="${id}"][data-status="closed"]`);
    const after = (await edge("/privacy/alerts?status=all", officer)).body.alerts.find((a) => a.id === id);
    assert.equal(after.status, "closed");
    await page.click(`li.alert[data-alert-id="${id}"] button[data-action="reopen"]`);
    await page.waitForSelector(`li.alert[data-alert-id="${id}"][data-status="open"]`);
    assert.equal((await edge("/privacy/alerts?status=all", officer)).body.alerts.find((a) => a.id === id).status, "open");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("exports download: CSV rows and NDJSON AuditEvents match the edge for the same filter", { timeout: 120_000 }, async () => {
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page);
    await open(page, "export");
    const today = now().toISOString().slice(0, 10);
    const f = { user: DOCTOR_ID, from: "2020-01-01", to: today };
    await page.fill("#export-filters-user", f.user);
    await page.fill("#export-filters-from", f.from);
    await page.fill("#export-filters-to", f.to);

    const [csvDownload] = await Promise.all([
      page.waitForEvent("download"),
      (async () => {
        await page.click("#export-csv");
        await page.click("#download-csv");
      })(),
    ]);
    const csv = readFileSync(await csvDownload.path(), "utf8");
    const rows = parseCsv(csv);
    const header = rows[0];
    assert.ok(header.length > 3, `header: ${header}`);
    const body = rows.slice(1);
    const direct = await edge(`/privacy/audit.csv${qs(f)}`, officer);
    assert.equal(direct.status, 200);
    assert.match(direct.headers.get("content-type") ?? "", /text\/csv/);
    const directRows = parseCsv(direct.text).slice(1);
    assert.equal(body.length, directRows.length);
    assert.ok(body.length >= 2, "the doctor's login, break glass and explanation are audited");
    assert.equal(Number(await page.getAttribute("#download-csv", "data-count")), body.length);
    for (const r of body) assert.equal(r.length, header.length, "ragged CSV row");
    const userCol = header.findIndex((h) => /user/i.test(h));
    if (userCol >= 0) for (const r of body) assert.equal(r[userCol], DOCTOR_ID);

    const [ndDownload] = await Promise.all([
      page.waitForEvent("download"),
      (async () => {
        await page.click("#export-ndjson");
        await page.click("#download-ndjson");
      })(),
    ]);
    const nd = readFileSync(await ndDownload.path(), "utf8");
    const lines = nd.split("\n").filter((l) => l.trim());
    assert.equal(lines.length, body.length, "NDJSON and CSV disagree on the count");
    for (const l of lines) {
      const ev = JSON.parse(l);
      assert.equal(ev.resourceType, "AuditEvent");
      assert.ok(ev.recorded && ev.type && Array.isArray(ev.agent) && ev.source, `not a FHIR AuditEvent: ${l.slice(0, 200)}`);
    }
    assert.equal((await edge(`/privacy/audit.ndjson${qs(f)}`, officer)).text.split("\n").filter((l) => l.trim()).length, lines.length);

    // A filter that matches nothing gives an empty file, said so.
    await page.fill("#export-filters-user", "no-such-user");
    await page.click("#export-csv");
    await page.waitForSelector('#download-csv[data-count="0"]');
    // Reversed dates are caught before any request.
    await page.fill("#export-filters-from", "2020-02-01");
    await page.fill("#export-filters-to", "2020-01-01");
    await page.click("#export-csv");
    await page.waitForSelector("#export-error:not([hidden])");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("monitoring: the charts and tables show exactly the edge's /metrics", { timeout: 90_000 }, async () => {
  const { page, context, problems } = await chrome.page();
  try {
    await signIn(page);
    await open(page, "monitoring");
    const m = (await edge("/metrics", officer)).body;
    assert.ok(m.accesses > 0);
    assert.equal(await page.getAttribute("#view", "data-state"), "loaded");
    // Counts: every key of each breakdown is a bar and a table row with the same number.
    for (const key of ["by_segment", "by_profile", "by_organisation", "withheld_by_reason", "by_placement"]) {
      const bars = Object.fromEntries(await page.locator(`[data-chart="${key}"] rect.bar`).evaluateAll((els) => els.map((e) => [e.dataset.key, Number(e.dataset.value)])));
      assert.deepEqual(bars, m[key], `${key} bars`);
    }
    for (const key of ["by_segment", "by_profile", "by_organisation", "withheld_by_reason"]) {
      const cells = Object.fromEntries(await page.locator(`[data-chart-table="${key}"] tbody tr[data-key]`).evaluateAll((els) => els.map((e) => [e.dataset.key, Number(e.querySelector("td").dataset.value)])));
      assert.deepEqual(cells, m[key], `${key} table`);
    }
    const cells = Object.fromEntries(await page.locator('[data-chart-table="by_placement"] td[data-key]').evaluateAll((els) => els.map((e) => [e.dataset.key, Number(e.dataset.value)])));
    for (const [k, v] of Object.entries(m.by_placement)) assert.equal(cells[k], v, `by_placement ${k}`);
    const cell = async (chart, key) => Number(await page.getAttribute(`[data-chart-table="${chart}"] td[data-key="${key}"]`, "data-value"));
    assert.equal(await cell("consent", "patients_accessed"), m.consent.patients_accessed);
    assert.equal(await cell("consent", "patients_with_permit"), m.consent.patients_with_permit);
    assert.equal(await cell("consent", "patients_with_opt_out"), m.consent.patients_with_opt_out);
    assert.equal(await cell("consent", "consent_rate"), m.consent.consent_rate);
    assert.equal(await cell("consent", "opt_out_rate"), m.consent.opt_out_rate);
    assert.equal(await cell("break_glass", "count"), m.break_glass.count);
    assert.equal(await cell("break_glass", "rate"), m.break_glass.rate);
    assert.equal(await cell("break_glass", "accesses"), m.accesses);
    assert.ok(m.break_glass.count >= 1, "the break glass is counted");
    // Each chart is an image with a text alternative and a data table.
    for (const fig of await page.locator("figure.chart").all()) {
      assert.equal(await fig.locator("svg[role=img]").count(), 1);
      assert.ok((await fig.locator("svg desc").textContent()).length > 0);
      assert.equal(await fig.locator("table").count(), 1);
    }
    await page.locator("figure.chart details summary").evaluateAll((els) => els.forEach((e) => e.click()));
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("approvals (7.2): the officer records one for a GP and Susan; the GP's portal then shows Community tier 3 and says until when; ended, it shows no more", { timeout: 150_000 }, async () => {
  const SUSAN = "susan-patient";
  const C3_ENTRY = "DocumentReference/susan-cpn-note";
  const GP = "gp-1b";
  const gpId = demoViewer(GP).user_id;
  const gpToken = await demoToken(portal.url, GP);
  const before = await edgeEverything(portal.url, gpToken, SUSAN);
  assert.equal(before.headers.get("x-tiergate-approval"), "required");
  assert.ok(![...before.refs].some((r) => r.endsWith("/susan-cpn-note")), "tier 3 before any approval");

  const { page, context, problems } = await chrome.page();
  try {
    // The GP's portal says an approval would show more, never what.
    await signInPractitioner(page, portal.url, GP);
    await page.goto(`${portal.url}/practitioner/#/patient/${SUSAN}`);
    await waitForRecord(page);
    assert.match(await page.textContent("#approval-required"), /individual approval/);
    await page.evaluate(() => sessionStorage.clear());

    // The officer records the approval in the page, checked before it is sent.
    await signIn(page);
    await open(page, "approvals");
    assert.match(await page.textContent("#approval-placements"), /Community tier 3/);
    await page.click("#approval-submit");
    assert.match(await page.textContent("#approval-form .error"), /user id/);
    await page.fill("#approval-user", gpId);
    await page.fill("#approval-organisation", demoViewer(GP).organisation);
    await page.fill("#approval-patient", SUSAN);
    await page.fill("#approval-days", "14");
    await page.fill("#approval-reason", "MDT case review, IG reference 2026-31");
    await page.click("#approval-submit");
    await page.waitForSelector("#approval-done");
    const listed = (await edge(`/privacy/approvals${qs({ patient: SUSAN })}`, officer)).body.approvals;
    const made = listed.find((a) => a.user_id === gpId && a.in_force);
    assert.ok(made, "the edge holds the approval");
    assert.equal(Date.parse(made.expires) - Date.parse(made.starts), 14 * 86400 * 1000);
    const item = page.locator(`li.approval[data-approval-id="${made.id}"]`);
    assert.equal(await item.getAttribute("data-state"), "in-force");
    assert.deepEqual(await axeViolations(page), [], "approvals");
    await page.evaluate(() => sessionStorage.clear());

    // The GP now sees the wider community entry, and until when.
    await signInPractitioner(page, portal.url, GP);
    await page.goto(`${portal.url}/practitioner/#/patient/${SUSAN}`);
    await waitForRecord(page);
    const shown = await renderedRefs(page);
    const fromEdge = await edgeEverything(portal.url, gpToken, SUSAN);
    assert.ok(fromEdge.refs.has(C3_ENTRY) || [...fromEdge.refs].some((r) => r.endsWith("/susan-cpn-note")), "the edge releases tier 3");
    assert.ok(shown.list.some((r) => r.endsWith("/susan-cpn-note")), "the page shows it");
    assert.equal(await page.getAttribute("#approval-in-use", "data-expires"), made.expires);
    assert.equal(await page.locator("#approval-required").count(), 0);
    await page.evaluate(() => sessionStorage.clear());

    // Ended early in the page: the GP's view is back to Community tier 2.
    await signIn(page);
    await open(page, "approvals", { patient: SUSAN });
    await page.locator(`li.approval[data-approval-id="${made.id}"] [data-revoke]`).click();
    await page.waitForSelector(`li.approval[data-approval-id="${made.id}"][data-state="ended"]`);
    const after = await edgeEverything(portal.url, gpToken, SUSAN);
    assert.ok(![...after.refs].some((r) => r.endsWith("/susan-cpn-note")));
    assert.equal(after.headers.get("x-tiergate-approval"), "required");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("no record content anywhere; axe-core on every section; keyboard reaches the main actions; screenshot", { timeout: 150_000 }, async () => {
  assert.ok(CLINICAL.length > 10, "clinical strings from the demo records");
  const { page, context, problems } = await chrome.page();
  // The page never even asks for record content.
  const asked = [];
  page.on("request", (r) => asked.push(new URL(r.url()).pathname));
  try {
    await page.goto(`${portal.url}/privacy/`);
    await page.waitForSelector('#view[data-view="sign-in"][data-state="ready"]');
    assert.deepEqual(await axeViolations(page), [], "sign-in");
    // Keyboard only: sign in as the privacy officer (selected first).
    assert.ok(await tabTo(page, "#sign-in"), "sign-in button not reachable");
    await page.keyboard.press("Enter");
    await settled(page, "alerts");
    const seen = [];
    for (const view of ["alerts", "cases", "approvals", "export", "monitoring"]) {
      await open(page, view, view === "alerts" ? { status: "all" } : {});
      await page.locator("details").evaluateAll((els) => els.forEach((e) => (e.open = true)));
      seen.push(await page.evaluate(() => document.body.innerText + "\n" + document.body.textContent));
      assert.deepEqual(await axeViolations(page), [], view);
    }
    const text = seen.join("\n");
    for (const s of CLINICAL) assert.ok(!text.includes(s), `record content on the page: ${s}`);

    // Keyboard: the section tabs, the filters, the review buttons, the exports.
    await open(page, "alerts");
    await page.focus("#main");
    await page.keyboard.press("Shift+Tab");
    assert.ok(await tabTo(page, "#tab-cases"), "cases tab not reachable");
    await page.keyboard.press("Enter");
    await settled(page, "cases");
    assert.ok(await tabTo(page, "#case-filters-status"), "case status filter not reachable");
    await page.selectOption("#case-filters-status", "closed-appropriate");
    assert.ok(await tabTo(page, "#case-filters-apply"), "apply not reachable");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => location.hash === "#/cases?status=closed-appropriate");
    await settled(page, "cases");
    await open(page, "alerts", { status: "open" });
    assert.ok(await tabTo(page, 'li.alert button[data-action="close"]'), "close alert not reachable");
    await open(page, "export");
    assert.ok(await tabTo(page, "#export-ndjson"), "NDJSON export not reachable");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#download-ndjson");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "download-ndjson", "focus moves to the download link");

    await open(page, "cases");
    await screenshot(page, "privacy");
    assert.ok(asked.some((p) => p === "/cases") && asked.some((p) => p === "/metrics"));
    assert.deepEqual(asked.filter((p) => p.startsWith("/fhir/") || p.startsWith("/consent/")), [], "the page requested record content");
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});

test("errors are shown with a retry, and the page fits a phone", { timeout: 90_000 }, async () => {
  const { page, context, problems } = await chrome.page({ viewport: { width: 375, height: 740 } });
  try {
    await signIn(page);
    // The edge failing: each section says so (role=alert) and offers to try again.
    const unavailable = { status: 503, contentType: "application/fhir+json", body: JSON.stringify({ resourceType: "OperationOutcome", issue: [{ severity: "error", code: "transient", diagnostics: "the audit store is unavailable" }] }) };
    const apis = /\/(privacy\/alerts|cases|metrics)(\?|$)/;
    await page.route(apis, (r) => r.fulfill(unavailable));
    for (const view of ["alerts", "cases", "monitoring"]) {
      await open(page, view, view === "alerts" ? { status: "closed" } : {});
      assert.equal(await page.getAttribute("#view", "data-state"), "error", view);
      assert.match(await page.textContent("#view [role=alert]"), /audit store is unavailable/);
      assert.equal(await page.locator("#view [role=alert] button").count(), 1, `${view}: no retry`);
    }
    await page.unroute(apis);
    await page.click("#view [role=alert] button");
    await page.waitForSelector('#view[data-view="monitoring"][data-state="loaded"]');

    // A phone: no sideways scrolling on any section.
    for (const view of ["alerts", "cases", "approvals", "export", "monitoring"]) {
      await open(page, view, view === "alerts" ? { status: "all" } : {});
      const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(scroll <= client, `${view}: ${scroll} > ${client}`);
    }
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(seriousOnly(problems), []);
  } finally {
    await context.close();
  }
});
