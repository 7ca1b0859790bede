// The edge's HTTP API for the portals: bearer token from sessionStorage
// only, a timeout on every request, FHIR OperationOutcome errors turned
// into readable messages. The edge is the enforcement point; nothing here
// decides what may be seen.

const TOKEN_KEY = "tiergate.session";
export const DEFAULT_TIMEOUT_MS = 15_000;
export const BREAK_GLASS_REASON_HEADER = "x-tiergate-break-glass";
export const BREAK_GLASS_DETAIL_HEADER = "x-tiergate-break-glass-detail";
export const NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number";

/** A failed request: `status` (0 when the network or the timeout failed) and a message fit to show. */
export class ApiError extends Error {
  constructor(message, { status = 0, requestId = null, code = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.requestId = requestId;
    this.code = code;
  }
}

/** The session: token and who signed in, for this tab only. */
export const session = {
  get() {
    try {
      const s = JSON.parse(sessionStorage.getItem(TOKEN_KEY) ?? "null");
      if (!s || typeof s.token !== "string") return null;
      if (typeof s.expires === "number" && s.expires <= Date.now()) {
        sessionStorage.removeItem(TOKEN_KEY);
        return null;
      }
      return s;
    } catch {
      return null;
    }
  },
  /** `user` is display data ({name, profile, organisation, key}); `expiresIn` in seconds. */
  set(token, user = {}, expiresIn = 3600) {
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token, user, expires: Date.now() + expiresIn * 1000 }));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    for (const k of Object.keys(sessionStorage)) if (k.startsWith("tiergate.")) sessionStorage.removeItem(k);
  },
};

const MESSAGES = {
  400: "The request was not accepted.",
  401: "Your session has ended or is not valid. Sign in again.",
  403: "This request is not permitted.",
  404: "Not found, or not available to you.",
  405: "This action is not available.",
  429: "Too many requests. Wait a moment and try again.",
  502: "The record system did not answer properly. Try again shortly.",
  503: "The service is unavailable. Try again shortly.",
  504: "The record system took too long to answer. Try again shortly.",
};

/** A message from an OperationOutcome body if it has one, else a standard one. */
function messageFor(status, body) {
  const issue = body && body.resourceType === "OperationOutcome" && Array.isArray(body.issue) ? body.issue[0] : null;
  const text = issue?.diagnostics || issue?.details?.text;
  return { message: typeof text === "string" && text ? text : (MESSAGES[status] ?? `The request failed (HTTP ${status}).`), code: issue?.code ?? null };
}

/**
 * One request to the edge (same origin unless `base` says otherwise).
 * Resolves to {status, headers, body} (body parsed as JSON when it is
 * JSON); rejects with ApiError on HTTP errors, network failure or timeout.
 */
export async function request(path, { method = "GET", body, headers = {}, auth = true, timeoutMs = DEFAULT_TIMEOUT_MS, base = "", signal } = {}) {
  const h = { accept: "application/fhir+json, application/json", ...headers };
  if (auth) {
    const s = session.get();
    if (!s) throw new ApiError(MESSAGES[401], { status: 401 });
    h.authorization = `Bearer ${s.token}`;
  }
  if (body !== undefined) h["content-type"] = "application/json";
  const timeout = AbortSignal.timeout(timeoutMs);
  const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res;
  try {
    res = await fetch(`${base}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: sig, credentials: "omit", cache: "no-store" });
  } catch (e) {
    if (timeout.aborted) throw new ApiError(`No answer within ${Math.round(timeoutMs / 1000)} seconds. Check your connection and try again.`);
    if (signal?.aborted) throw e;
    throw new ApiError("The service could not be reached. Check your connection and try again.");
  }
  let text;
  try {
    text = await res.text();
  } catch {
    throw new ApiError(timeout.aborted ? `No answer within ${Math.round(timeoutMs / 1000)} seconds.` : "The answer was cut short. Try again.", { status: res.status });
  }
  let parsed = text;
  if ((res.headers.get("content-type") ?? "").includes("json")) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError("The answer could not be read.", { status: res.status });
    }
  }
  const requestId = res.headers.get("x-request-id");
  if (!res.ok) {
    const { message, code } = messageFor(res.status, parsed);
    if (res.status === 401 && auth) session.clear();
    throw new ApiError(message, { status: res.status, requestId, code });
  }
  return { status: res.status, headers: res.headers, body: parsed, text, requestId };
}

/** Demo mode: users, demo patients and break-glass reasons. */
export function demoUsers(opts) {
  return request("/demo/users", { auth: false, ...opts });
}

/** Demo mode: a token for a demo user. */
export async function demoSignIn(user, opts) {
  const r = await request("/demo/token", { method: "POST", body: { user: user.key }, auth: false, ...opts });
  session.set(r.body.token, user, r.body.expires_in ?? 3600);
  return r;
}

/** Patient search: by NHS number (digits), or by family name and date of birth (YYYY-MM-DD). */
export function findPatients({ nhsNumber, family, birthdate }, opts) {
  const q = new URLSearchParams();
  if (nhsNumber) q.set("identifier", `${NHS_NUMBER_SYSTEM}|${nhsNumber}`);
  if (family) q.set("family", family);
  if (birthdate) q.set("birthdate", birthdate);
  return request(`/fhir/Patient?${q}`, opts);
}

/** The shared record, redacted for the signed-in viewer; `breakGlass` = {reason, detail}. */
export function everything(patientId, { breakGlass, ...opts } = {}) {
  const headers = {};
  if (breakGlass) {
    headers[BREAK_GLASS_REASON_HEADER] = breakGlass.reason;
    // Header values must be Latin-1: the detail is free text, so keep it printable ASCII.
    if (breakGlass.detail) headers[BREAK_GLASS_DETAIL_HEADER] = breakGlass.detail.replace(/[^\x20-\x7e]/g, " ").slice(0, 500);
  }
  return request(`/fhir/Patient/${encodeURIComponent(patientId)}/$everything`, { headers, ...opts });
}

/** Consent directives on record for a patient (a Bundle of Consent). */
export function consents(patientId, opts) {
  return request(`/consent/Patient/${encodeURIComponent(patientId)}`, opts);
}

/** Consent at the point of care for the caller's organisation: {profiles?, scope?, period?}. */
export function recordConsent(patientId, permit, opts) {
  return request(`/consent/Patient/${encodeURIComponent(patientId)}`, { method: "POST", body: permit, ...opts });
}

/**
 * Records the patient's explicit withdrawal of one of their opt-outs, named
 * by the neutral handle the professional's consent view gives, with the
 * reason the patient gave.
 */
export function recordWithdrawal(patientId, handle, reason, opts) {
  return request(`/consent/Patient/${encodeURIComponent(patientId)}/withdraw`, { method: "POST", body: { opt_out: handle, reason }, ...opts });
}

/** The signed-in practitioner's break-glass cases: `{cases: [...]}`. */
export function myCases(opts) {
  return request("/cases", opts);
}

/** Records the explanation the practitioner owes for a break-glass case; resolves to the updated case. */
export function recordExplanation(caseId, explanation, opts) {
  return request(`/cases/${encodeURIComponent(caseId)}/explanation`, { method: "POST", body: { explanation }, ...opts });
}

/** What went wrong, as a person should read it, with the reference for the service desk. */
export function errorText(e) {
  if (e instanceof ApiError) return e.requestId ? `${e.message} (reference ${e.requestId})` : e.message;
  return "Something went wrong in this page. Reload it and try again.";
}
