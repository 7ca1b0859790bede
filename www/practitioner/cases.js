// My break-glass cases (issue 8): every emergency access opens a case, and
// the practitioner who broke glass must record an explanation of it
// (framework 6.2). The edge lists the signed-in practitioner's own cases
// (`GET /cases`) and records an explanation (`POST /cases/{id}/explanation`);
// a privacy officer then reviews it. Nothing here decides a case.
import { ApiError, myCases, recordExplanation } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDateTime } from "../shared/format.js";
import { errorText, statusBox } from "./record.js";

const MAX_EXPLANATION = 2000;

const STATUS = {
  "awaiting-explanation": "Explanation needed",
  "awaiting-review": "Explanation recorded, awaiting review",
  "closed-appropriate": "Closed: access found appropriate",
  escalated: "Escalated for investigation",
};

const statusName = (s) => STATUS[s] ?? String(s ?? "Unknown");

/** Cases that still need the practitioner first, then the newest. */
function order(a, b) {
  const need = (c) => (c.status === "awaiting-explanation" ? 0 : 1);
  return need(a) - need(b) || String(b.opened ?? "").localeCompare(String(a.opened ?? ""));
}

/**
 * The view: `known` maps patient ids to Patients seen this session (for
 * names); `onAuthLost` when the session is no longer valid.
 */
export async function casesView(root, { known = new Map(), onAuthLost = () => {}, focus = true } = {}) {
  const heading = h("h1", {}, "My break-glass cases");
  const intro = h(
    "p",
    {},
    "Each time you use emergency access (break glass), a case is opened in your name. Record an explanation for each: why you needed the record and what you used it for. A privacy officer reviews every case.",
  );
  replace(root, heading, intro, statusBox("loading", "Loading your cases…"));
  root.dataset.state = "loading";
  let cases;
  try {
    const r = await myCases();
    cases = Array.isArray(r.body?.cases) ? r.body.cases : [];
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return onAuthLost(e);
    const msg = e instanceof ApiError && e.status === 404 ? "Break-glass cases are not available from this service yet." : errorText(e);
    replace(root, heading, intro, statusBox("error", msg, () => casesView(root, { known, onAuthLost })));
    root.dataset.state = "error";
    if (focus) focusHeading(heading);
    return;
  }
  const list = h("div", { class: "cases", id: "cases" });
  if (!cases.length) list.append(statusBox("empty", "You have no break-glass cases."));
  for (const c of [...cases].sort(order)) list.append(caseCard(c, { known, onAuthLost }));
  const waiting = cases.filter((c) => c.status === "awaiting-explanation").length;
  const summary = waiting
    ? h("p", { class: "notice notice-warning", id: "cases-waiting" }, h("strong", {}, waiting === 1 ? "1 case needs your explanation." : `${waiting} cases need your explanation.`))
    : null;
  replace(root, heading, intro, summary, list);
  root.dataset.state = "loaded";
  if (focus) focusHeading(heading);
}

function caseCard(c, ctx) {
  const id = String(c.id ?? "");
  const safe = id.replace(/[^A-Za-z0-9_-]/g, "_");
  const titleId = `case-${safe}-title`;
  const patient = ctx.known.get(c.patient);
  const who = patient ? null : c.patient;
  const facts = [
    ["Patient", c.patient ? h("a", { href: `#/patient/${encodeURIComponent(c.patient)}` }, patientLabel(patient, who)) : "Unknown"],
    ["Reason", c.reason_display ?? c.reason ?? ""],
    ["Opened", formatDateTime(c.opened)],
    [Date.parse(c.expires) > Date.now() ? "Access ends" : "Access ended", formatDateTime(c.expires)],
    ["Status", h("span", { class: `case-status status-${c.status}`, "data-field": "status" }, statusName(c.status))],
  ];
  const card = h(
    "article",
    { class: "case card", "data-case": id, "data-patient": c.patient ?? "", "data-status": c.status ?? "", "aria-labelledby": titleId },
    h("h2", { id: titleId }, `Emergency access to ${patientLabel(patient, who)}`, c.opened ? `, ${formatDateTime(c.opened)}` : ""),
    h("dl", { class: "details" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
  );
  if (c.explanation) card.append(h("div", { class: "case-explanation" }, h("h3", {}, "Your explanation"), h("p", { class: "note", "data-field": "explanation" }, c.explanation)));
  if (c.review_note) card.append(h("div", { class: "case-explanation" }, h("h3", {}, "Reviewer's note"), h("p", { class: "note", "data-field": "review-note" }, c.review_note)));
  // An explanation may be changed until the case is reviewed.
  if (c.status === "awaiting-explanation") card.append(explanationForm(c, safe, ctx, card));
  else if (c.status === "awaiting-review") card.append(h("details", { class: "action" }, h("summary", {}, "Change your explanation"), explanationForm(c, safe, ctx, card)));
  return card;
}

function patientLabel(patient, id) {
  if (!patient) return id ?? "Patient";
  const n = Array.isArray(patient.name) ? patient.name[0] : null;
  const given = Array.isArray(n?.given) ? n.given.join(" ") : "";
  return `${given} ${n?.family ? String(n.family).toUpperCase() : ""}`.trim() || patient.id;
}

function explanationForm(c, safe, ctx, card) {
  const fieldId = `explain-${safe}`;
  const hintId = `${fieldId}-hint`;
  const text = h("textarea", { id: fieldId, name: "explanation", rows: 4, maxlength: MAX_EXPLANATION, required: true, "aria-describedby": hintId });
  text.value = c.explanation ?? "";
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button primary" }, "Record explanation");
  const form = h(
    "form",
    {
      class: "explain-form",
      novalidate: true,
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          msg.replaceChildren();
          // The edge keeps line breaks and refuses other control characters.
          const value = text.value.replace(/\r\n?/g, "\n").replace(/[\t\v\f]/g, " ").trim();
          if (!value) {
            text.setAttribute("aria-invalid", "true");
            msg.append(h("p", { class: "error", role: "alert" }, "Enter an explanation."));
            text.focus();
            return;
          }
          text.removeAttribute("aria-invalid");
          submit.disabled = true;
          msg.append(h("p", { class: "status-loading", role: "status" }, "Recording your explanation…"));
          let updated;
          try {
            updated = (await recordExplanation(c.id, value)).body;
          } catch (e) {
            submit.disabled = false;
            if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost(e);
            msg.replaceChildren(h("p", { class: "error", role: "alert" }, `Your explanation was not recorded: ${errorText(e)}`));
            return;
          }
          const next = caseCard(updated && typeof updated === "object" && updated.id ? updated : { ...c, explanation: value, status: "awaiting-review" }, ctx);
          next.append(h("p", { class: "notice notice-info", role: "status" }, "Explanation recorded."));
          card.replaceWith(next);
          focusHeading(next.querySelector("h2"));
        },
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: fieldId }, "Explanation (required)"),
      h("p", { class: "hint", id: hintId }, "Why you needed emergency access to this record, why consent could not be obtained, and what you used it for."),
      text,
    ),
    submit,
    msg,
  );
  return form;
}
