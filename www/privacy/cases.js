// Break-glass cases: every break glass opens one. The professional who
// broke glass records an explanation (in the practitioner portal); the
// privacy officer reads it here and closes the case as appropriate or
// escalates it, with a note. The whole history of each case is shown.
import { ApiError } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDateTime } from "../shared/format.js";
import { profileName } from "../shared/labels.js";
import { listCases, reviewCase } from "./api.js";
import { countHeading, errorText, facts, filterForm, loadFailed, safeId, statusBox, tag } from "./ui.js";

export const CASE_STATUS = {
  "awaiting-explanation": "Awaiting explanation",
  "awaiting-review": "Awaiting review",
  "closed-appropriate": "Closed: appropriate",
  escalated: "Escalated",
};

const ACTIONS = {
  opened: "Case opened (break glass)",
  explained: "Explanation recorded",
  "reviewed:appropriate": "Reviewed: closed as appropriate",
  "reviewed:escalate": "Reviewed: escalated",
};

export async function casesView(root, ctx) {
  const filters = { ...ctx.filters };
  const heading = h("h1", {}, "Break-glass cases");
  const intro = h("p", {}, "Every emergency (break-glass) access opens a case. The professional must explain the decision they took; you then review the case and close it as appropriate or escalate it.");
  const results = h("div", { id: "case-results", "aria-live": "polite" });
  const { form } = filterForm({
    id: "case-filters",
    title: "Filter cases",
    values: filters,
    fields: [
      { name: "organisation", label: "Organisation (ODS code)" },
      { name: "user", label: "User id" },
      { name: "patient", label: "Patient id" },
      { name: "status", label: "Status", type: "select", options: [["", "Any status"], ...Object.entries(CASE_STATUS)] },
    ],
    onSubmit: (v) => ctx.navigate(v),
    onClear: () => ctx.navigate({}),
  });
  replace(root, heading, intro, form, results);
  if (ctx.focus) focusHeading(heading);

  const load = async () => {
    root.dataset.state = "loading";
    replace(results, statusBox("loading", "Loading cases…"));
    let body;
    try {
      body = (await listCases(filters)).body ?? {};
    } catch (e) {
      loadFailed(e, ctx, root, results, load);
      return;
    }
    if (!ctx.isCurrent()) return;
    const cases = Array.isArray(body.cases) ? body.cases : [];
    const title = countHeading("cases-title", cases.length, "case", "cases");
    if (!cases.length) {
      root.dataset.state = "empty";
      replace(results, title, statusBox("empty", "No break-glass cases match these filters."));
    } else {
      root.dataset.state = "loaded";
      replace(results, title, h("ul", { class: "items", id: "case-list", "aria-labelledby": "cases-title" }, cases.map((c, i) => caseItem(c, i, ctx))));
    }
    if (Object.keys(ctx.filters).length) focusHeading(title);
  };
  await load();
}

function caseItem(initial, index, ctx) {
  const idBase = `case-${index}-${safeId(initial.id)}`;
  const li = h("li", { class: "card item case", "data-case-id": initial.id, "aria-labelledby": `${idBase}-title` });
  const render = (c, message) => {
    li.dataset.status = c.status;
    const history = Array.isArray(c.history) ? c.history : [];
    const open = c.status === "awaiting-explanation" || c.status === "awaiting-review";
    const explanation = c.explanation
      ? h("span", { class: "explanation", "data-explanation": "" }, c.explanation)
      : h("span", { class: "awaiting", "data-explanation": "awaiting" }, "Awaiting explanation from the professional");
    replace(
      li,
      h("h3", { id: `${idBase}-title` }, `Break glass by ${c.user_name || c.user_id}`, tag(c.status, CASE_STATUS[c.status] ?? c.status)),
      facts([
        ["User", c.user_name && c.user_id ? `${c.user_name} (${c.user_id})` : c.user_id, "user"],
        ["Organisation", c.organisation, "organisation"],
        ["Profile", c.profile ? profileName(c.profile) : "", "profile"],
        ["Patient id", c.patient, "patient"],
        ["Reason", c.reason_display || c.reason, "reason"],
        ["Statement at the time", c.detail, "detail"],
        ["Opened", formatDateTime(c.opened) || c.opened, "opened"],
        ["Access window ends", formatDateTime(c.expires) || c.expires, "expires"],
        ["Explanation", explanation, "explanation"],
        ["Explained", formatDateTime(c.explained_at) || c.explained_at, "explained_at"],
        ["Reviewer", c.reviewer, "reviewer"],
        ["Decision", c.decision === "appropriate" ? "Appropriate" : c.decision === "escalate" || c.decision === "escalated" ? "Escalated" : c.decision, "decision"],
        ["Review note", c.review_note, "review_note"],
        ["Reviewed", formatDateTime(c.reviewed_at) || c.reviewed_at, "reviewed_at"],
        ["Case id", h("code", {}, c.id), "id"],
      ]),
      h("h4", { id: `${idBase}-history` }, "History"),
      history.length
        ? h(
            "ol",
            { class: "history", "aria-labelledby": `${idBase}-history` },
            history.map((e) =>
              h("li", { "data-action": e.action }, h("span", { class: "when" }, formatDateTime(e.time) || e.time), ": ", ACTIONS[e.action] ?? e.action, e.actor ? ` by ${e.actor}` : "", e.note ? h("span", { class: "history-note" }, `: ${e.note}`) : null),
            ),
          )
        : h("p", { class: "hint" }, "No history recorded."),
      open ? reviewForm(c, idBase, ctx, render) : null,
      h("div", { class: "form-message case-message", "aria-live": "polite" }, message ?? null),
    );
  };
  render(initial);
  return li;
}

/** Text ending as a sentence, capitalised. */
const sentence = (t) => {
  const s = String(t).trim();
  const c = s ? s[0].toUpperCase() + s.slice(1) : s;
  return /[.!?)]$/.test(c) ? c : `${c}.`;
};

function reviewForm(c, idBase, ctx, render) {
  const note = h("textarea", { id: `${idBase}-note`, name: "note", rows: 2, "aria-describedby": `${idBase}-note-hint` });
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const buttons = [];
  const decide = async (decision) => {
    for (const b of buttons) b.disabled = true;
    msg.replaceChildren(h("p", { role: "status" }, "Saving the review…"));
    let updated;
    try {
      updated = (await reviewCase(c.id, decision, note.value.trim())).body;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost();
      for (const b of buttons) b.disabled = false;
      const text = e instanceof ApiError && e.status === 409 && decision === "appropriate" && !c.explanation
        ? `${sentence(errorText(e))} A case can be closed as appropriate only after the professional has recorded an explanation.`
        : errorText(e);
      msg.replaceChildren(h("p", { class: "error", role: "alert", "data-error": String(e?.status ?? "") }, text));
      return;
    }
    if (!updated || typeof updated !== "object" || !updated.id) {
      msg.replaceChildren(h("p", { class: "error", role: "alert" }, "The review was saved but the answer could not be read. Reload the list."));
      return;
    }
    render(updated, h("p", { role: "status", class: "done" }, decision === "appropriate" ? "Case closed as appropriate." : "Case escalated."));
    document.getElementById(`${idBase}-title`)?.setAttribute("tabindex", "-1");
    focusHeading(document.getElementById(`${idBase}-title`));
  };
  const appropriate = h("button", { type: "button", class: "button primary", "data-decision": "appropriate", on: { click: () => decide("appropriate") } }, "Close as appropriate");
  const escalate = h("button", { type: "button", class: "button danger", "data-decision": "escalate", on: { click: () => decide("escalate") } }, "Escalate");
  buttons.push(appropriate, escalate);
  return h(
    "div",
    { class: "action-form", role: "group", "aria-labelledby": `${idBase}-review-title` },
    h("h4", { id: `${idBase}-review-title` }, "Review"),
    h(
      "div",
      { class: "field" },
      h("label", { for: `${idBase}-note` }, "Review note"),
      h("p", { class: "hint", id: `${idBase}-note-hint` }, c.explanation ? "Your reasons, for the audit trail." : "The professional has not explained this access yet: you can escalate now, or wait for the explanation before closing it as appropriate."),
      note,
    ),
    appropriate,
    escalate,
    msg,
  );
}
