// Helpers for the patient and carer portal: status boxes, plain-language
// errors, the signed-in person (/me), the record the edge returned (cached
// for this page), and the engine calls the portal makes (feature-checked:
// an engine build without one shows a clear "not available" state).
import { ApiError, errorText as sharedErrorText, request, session } from "../shared/api.js";
import { h, statusBox } from "../shared/dom.js";
import { loadEngine } from "../shared/engine.js";

export { statusBox };

const CURRENT_KEY = "tiergate.patient.current";

/** What went wrong, in plain language, with the reference for the help desk. */
export function errorText(e, forbidden) {
  if (e instanceof ApiError && ((e.status === 403 && forbidden) || e.status === 404)) {
    const msg = e.status === 404 ? "This record is not available to you." : forbidden;
    return e.requestId ? `${msg} (reference ${e.requestId})` : msg;
  }
  return sharedErrorText(e);
}

/** The patient whose record is open (the person's own, or someone they act for). */
export const current = {
  get: () => sessionStorage.getItem(CURRENT_KEY),
  set: (id) => sessionStorage.setItem(CURRENT_KEY, id),
  clear: () => sessionStorage.removeItem(CURRENT_KEY),
};

let meCache = null;
/** `GET /me`, once per page load (or again with `fresh`). */
export async function me({ fresh = false } = {}) {
  if (!fresh && meCache) return meCache;
  const r = await request("/me");
  meCache = r.body;
  return meCache;
}

export function forgetMe() {
  meCache = null;
  records.clear();
}

/** The caller's standing for `patient`: "own", "proxy" (with scopes and permits) or null. */
export function standingFor(who, patient) {
  if (!who || !patient) return null;
  if (who.patient === patient) return { kind: "own", scopes: [], permits: new Set(["book", "manage-sharing", "view-access-log", "manage-proxies", "send-reminders", "edit-plan"]) };
  const grant = (who.acting_for ?? []).find((g) => g.patient === patient);
  if (!grant) return null;
  const permits = new Set();
  for (const s of who.proxy_scopes ?? []) if (grant.scopes.includes(s.id)) for (const p of s.permits ?? []) permits.add(p);
  return { kind: "proxy", scopes: grant.scopes, permits, expires: grant.expires };
}

/** The display text of proxy scope ids, from /me. */
export function scopeNames(who, ids) {
  return ids.map((id) => (who?.proxy_scopes ?? []).find((s) => s.id === id)?.display ?? id);
}

const records = new Map();
/** `$everything` for `patient` as the edge returned it for this person: {text, bundle}. */
export async function record(patient, { fresh = false } = {}) {
  if (!fresh && records.has(patient)) return records.get(patient);
  const r = await request(`/fhir/Patient/${encodeURIComponent(patient)}/$everything`);
  const text = typeof r.body === "string" ? r.body : r.text;
  const bundle = typeof r.body === "string" ? JSON.parse(r.body) : r.body;
  const out = { text, bundle };
  records.set(patient, out);
  return out;
}

export function forgetRecord(patient) {
  records.delete(patient);
}

/** The engine, and whether it offers `method` (the portal features land one by one). */
export async function engineWith(method) {
  const engine = await loadEngine();
  if (typeof engine[method] !== "function") {
    const e = new Error(`${method} unavailable`);
    e.unavailable = true;
    throw e;
  }
  return engine;
}

/** An engine result: the portal APIs return JSON text (cheaper across the boundary); older ones a value. */
export function fromEngine(x) {
  return typeof x === "string" ? JSON.parse(x) : x;
}

/** Is `e` an authentication failure (the session ended)? */
export function authLost(e) {
  return e instanceof ApiError && e.status === 401;
}

export { session };

/** A UK local date and time ("2026-12-03", "10:20") as a UTC instant ("2026-12-03T10:20:00Z"). */
export function ukToInstant(date, time) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? "");
  const t = /^(\d{2}):(\d{2})$/.exec(time ?? "");
  if (!m || !t) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +t[1], +t[2]);
  const offset = (ms) => {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
        .formatToParts(new Date(ms))
        .map((p) => [p.type, p.value]),
    );
    return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute) - ms;
  };
  const ms = guess - offset(guess);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Today (UK) as YYYY-MM-DD, plus `days`. */
export function ukDate(days = 0) {
  const d = new Date(Date.now() + days * 86_400_000);
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

/** A field with a label and optional hint; `control` gets aria-describedby for the hint. */
export function field(label, control, hint) {
  const id = control.id;
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint` }, hint);
    control.setAttribute("aria-describedby", `${id}-hint`);
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), hintEl, control);
}

/** A message area for a form (polite live region). */
export function formMessage(id) {
  return h("div", { class: "form-message", id, "aria-live": "polite" });
}
