// The edge's privacy endpoints for the privacy officer page, on top of the
// shared request helper (bearer token from sessionStorage, timeouts,
// OperationOutcome messages). Exports are fetched with the token and
// handed to the page as text, to be offered as a Blob download: a plain
// link cannot carry the bearer token.
import { ApiError, DEFAULT_TIMEOUT_MS, request, session } from "../shared/api.js";

/** "?a=1&b=2" from the non-empty values of `params` ("" when none). */
export function queryString(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (typeof v === "string" && v.trim() !== "") q.set(k, v.trim());
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Alerts from the policy's audit rules (run over new audit events first) and the rules themselves. */
export function listAlerts(filters, opts) {
  return request(`/privacy/alerts${queryString(filters)}`, opts);
}

/** Closes or reopens an alert with a note. */
export function setAlertStatus(id, status, note, opts) {
  return request(`/privacy/alerts/${encodeURIComponent(id)}`, { method: "POST", body: note ? { status, note } : { status }, ...opts });
}

/** Break-glass cases (a privacy officer sees every case). */
export function listCases(filters, opts) {
  return request(`/cases${queryString(filters)}`, opts);
}

/** The privacy officer's decision on a case: "appropriate" or "escalate", with an optional note (an empty one is left out). */
export function reviewCase(id, decision, note, opts) {
  return request(`/cases/${encodeURIComponent(id)}/review`, { method: "POST", body: note ? { decision, note } : { decision }, ...opts });
}

/** Monitoring counts (no patient identifiers). */
export function metrics(opts) {
  return request("/metrics", opts);
}

const EXPORTS = {
  csv: { path: "/privacy/audit.csv", accept: "text/csv", type: "text/csv;charset=utf-8" },
  ndjson: { path: "/privacy/audit.ndjson", accept: "application/fhir+ndjson", type: "application/fhir+ndjson" },
};

/**
 * The audit export (`kind` "csv" or "ndjson") for the filters, as text.
 * Not through `request`: NDJSON is not one JSON document. Errors as
 * ApiError, with the OperationOutcome's message when there is one.
 */
export async function auditExport(kind, filters, { timeoutMs = DEFAULT_TIMEOUT_MS * 4 } = {}) {
  const spec = EXPORTS[kind];
  if (!spec) throw new ApiError("Unknown export format.");
  const s = session.get();
  if (!s) throw new ApiError("Your session has ended or is not valid. Sign in again.", { status: 401 });
  const timeout = AbortSignal.timeout(timeoutMs);
  let res;
  let text;
  try {
    res = await fetch(`${spec.path}${queryString(filters)}`, {
      headers: { accept: `${spec.accept}, application/fhir+json`, authorization: `Bearer ${s.token}` },
      signal: timeout,
      credentials: "omit",
      cache: "no-store",
    });
    text = await res.text();
  } catch {
    throw new ApiError(timeout.aborted ? `No answer within ${Math.round(timeoutMs / 1000)} seconds. Try a narrower filter.` : "The service could not be reached. Check your connection and try again.");
  }
  if (!res.ok) {
    let message = null;
    try {
      const oo = JSON.parse(text);
      message = oo?.resourceType === "OperationOutcome" ? (oo.issue?.[0]?.diagnostics ?? oo.issue?.[0]?.details?.text ?? null) : null;
    } catch {}
    if (res.status === 401) session.clear();
    const fallback = { 401: "Your session has ended or is not valid. Sign in again.", 403: "This request is not permitted." }[res.status] ?? `The export failed (HTTP ${res.status}).`;
    throw new ApiError(typeof message === "string" && message ? message : fallback, { status: res.status, requestId: res.headers.get("x-request-id") });
  }
  return { text, type: spec.type, contentType: res.headers.get("content-type") ?? "" };
}

/**
 * RFC 4180 CSV as rows of fields (quoted fields may hold commas, quotes
 * and line breaks); a trailing line break ends the last row.
 */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i += 1;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      if (c === "\r" && text[i + 1] === "\n") i += 1;
    } else field += c;
    i += 1;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Individual approvals (framework 7.2), the placements that need one and the longest an approval may last. */
export function listApprovals(filters, opts) {
  return request(`/privacy/approvals${queryString(filters)}`, opts);
}

/** Records an approval for one user (of one organisation) and one patient: {user_id, organisation, patient, days, reason}. */
export function recordApproval(approval, opts) {
  return request("/privacy/approvals", { method: "POST", body: approval, ...opts });
}

/** Ends an approval now. */
export function revokeApproval(id, opts) {
  return request(`/privacy/approvals/${encodeURIComponent(id)}/revoke`, { method: "POST", body: {}, ...opts });
}
