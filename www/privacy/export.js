// Audit export: the audit events for a filter and date range, as CSV (for
// a spreadsheet) or as FHIR AuditEvent NDJSON (one resource per line, for
// another system). The edge needs the bearer token, so the page fetches
// the file and offers it as a download link to a Blob.
import { focusHeading, h, replace } from "../shared/dom.js";
import { auditExport, parseCsv } from "./api.js";
import { errorText, filterForm, statusBox } from "./ui.js";
import { ApiError } from "../shared/api.js";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Blob URLs handed out by this page, revoked when replaced. */
const urls = new Map();

export async function exportView(root, ctx) {
  const filters = { ...ctx.filters };
  const heading = h("h1", {}, "Audit export");
  const intro = h("p", {}, "Download the audit events matching a filter: who accessed which patient's record, when, with what profile and outcome. No record content is ever included.");
  const formError = h("p", { class: "error", id: "export-error", role: "alert", hidden: true });
  const { form, read, controls } = filterForm({
    id: "export-filters",
    title: "Filter the export",
    values: filters,
    submitLabel: "Use these filters",
    fields: [
      { name: "organisation", label: "Organisation (ODS code)" },
      { name: "user", label: "User id" },
      { name: "patient", label: "Patient id" },
      { name: "from", label: "From", type: "date" },
      { name: "to", label: "To", type: "date" },
    ],
    onSubmit: (v) => (validate(v) ? ctx.navigate(v) : null),
    onClear: () => ctx.navigate({}),
  });
  const validate = (v) => {
    const bad = ["from", "to"].find((k) => v[k] && !DATE.test(v[k]));
    const reversed = v.from && v.to && DATE.test(v.from) && DATE.test(v.to) && v.from > v.to;
    for (const k of ["from", "to"]) controls.get(k).removeAttribute("aria-invalid");
    if (bad || reversed) {
      formError.textContent = bad ? "Enter dates as day, month and year." : "The 'from' date must be on or before the 'to' date.";
      formError.hidden = false;
      const c = controls.get(bad ?? "to");
      c.setAttribute("aria-invalid", "true");
      c.focus();
      return false;
    }
    formError.hidden = true;
    return true;
  };
  const results = h("div", { id: "export-results", "aria-live": "polite" });
  const make = (kind) => async (ev) => {
    const button = ev.currentTarget;
    const v = read();
    if (!validate(v)) return;
    button.disabled = true;
    const slot = results.querySelector(`[data-export="${kind}"]`);
    replace(slot, statusBox("loading", kind === "csv" ? "Preparing the CSV file…" : "Preparing the FHIR AuditEvent file…"));
    try {
      const file = await auditExport(kind, v);
      offer(slot, kind, file, v);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost();
      if (e instanceof ApiError && e.status === 403) return ctx.onForbidden();
      replace(slot, statusBox("error", errorText(e)));
    } finally {
      button.disabled = false;
    }
    slot.querySelector("a, [role=alert]")?.focus();
  };
  const buttons = h(
    "div",
    { class: "card" },
    h("h2", {}, "Download"),
    h("p", {}, "Each file holds the audit events matching the filters above, as they are in the form when you press the button."),
    h("button", { type: "button", class: "button primary", id: "export-csv", on: { click: make("csv") } }, "Prepare CSV"),
    h("button", { type: "button", class: "button primary", id: "export-ndjson", on: { click: make("ndjson") } }, "Prepare FHIR AuditEvent NDJSON"),
  );
  replace(results, h("ul", { class: "downloads" }, h("li", { "data-export": "csv" }), h("li", { "data-export": "ndjson" })));
  replace(root, heading, intro, formError, form, buttons, results);
  root.dataset.state = "ready";
  if (ctx.focus) focusHeading(heading);
}

function offer(slot, kind, file, filters) {
  let count;
  let problem = null;
  if (kind === "csv") {
    const rows = parseCsv(file.text).filter((r) => !(r.length === 1 && r[0] === ""));
    count = Math.max(rows.length - 1, 0);
  } else {
    const lines = file.text.split("\n").filter((l) => l.trim() !== "");
    count = lines.length;
    const bad = lines.findIndex((l) => {
      try {
        return JSON.parse(l)?.resourceType !== "AuditEvent";
      } catch {
        return true;
      }
    });
    if (bad >= 0) problem = `Line ${bad + 1} of the file is not a FHIR AuditEvent.`;
  }
  if (urls.has(kind)) URL.revokeObjectURL(urls.get(kind));
  const url = URL.createObjectURL(new Blob([file.text], { type: file.type }));
  urls.set(kind, url);
  const stamp = new Date().toISOString().slice(0, 10);
  const name = `audit-${stamp}${filters.organisation ? `-${filters.organisation}` : ""}.${kind === "csv" ? "csv" : "ndjson"}`;
  const what = kind === "csv" ? (count === 1 ? "1 row" : `${count} rows`) : count === 1 ? "1 AuditEvent" : `${count} AuditEvents`;
  replace(
    slot,
    h("a", { href: url, download: name, id: `download-${kind}`, "data-count": String(count), class: "download" }, `Download ${kind === "csv" ? "CSV" : "NDJSON"} (${what})`),
    count === 0 ? h("p", { class: "hint" }, "No audit events match these filters: the file is empty.") : null,
    problem ? h("p", { class: "error", role: "alert" }, problem) : null,
  );
}
