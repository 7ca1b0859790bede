// Alerts: what the policy's audit rules found in the audit stream (the
// edge runs them over new events before answering), filtered by
// organisation, user, patient id, rule and status. Each alert names its
// rule, severity and the ids of the audit events that raised it, and can
// be closed or reopened with a note.
import { ApiError } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDateTime } from "../shared/format.js";
import { listAlerts, setAlertStatus } from "./api.js";
import { countHeading, errorText, facts, filterForm, loadFailed, safeId, statusBox, tag } from "./ui.js";

const STATUS = [
  ["open", "Open"],
  ["closed", "Closed"],
  ["all", "Open and closed"],
];
const SEVERITY = { high: "High", medium: "Medium", low: "Low", critical: "Critical" };

/** The rules seen in the last answer, to offer in the rule filter before the next one. */
let knownRules = [];

export async function alertsView(root, ctx) {
  const filters = { status: "open", ...ctx.filters };
  const heading = h("h1", {}, "Alerts");
  const intro = h("p", {}, "Possible inappropriate access found by the audit rules: break glass, no legitimate relationship, same surname or address, volume spikes, out of hours, opted-out segments and probing. Review each one and close it with a note.");
  const results = h("div", { id: "alert-results", "aria-live": "polite" });
  const ruleOptions = () => [["", "Any rule"], ...knownRules.map((r) => [r.id, `${r.id}: ${r.description ?? ""}`.replace(/: $/, "")])];
  const build = () =>
    filterForm({
      id: "alert-filters",
      title: "Filter alerts",
      values: filters,
      fields: [
        { name: "organisation", label: "Organisation (ODS code)" },
        { name: "user", label: "User id" },
        { name: "patient", label: "Patient id" },
        { name: "rule", label: "Rule", type: "select", options: ruleOptions() },
        { name: "status", label: "Status", type: "select", options: STATUS, default: "open" },
      ],
      onSubmit: (v) => ctx.navigate(v),
      onClear: () => ctx.navigate({}),
    });
  let { form } = build();
  replace(root, heading, intro, form, results);
  if (ctx.focus) focusHeading(heading);

  const load = async () => {
    root.dataset.state = "loading";
    replace(results, statusBox("loading", "Running the audit rules and loading alerts…"));
    let body;
    try {
      body = (await listAlerts(filters)).body ?? {};
    } catch (e) {
      loadFailed(e, ctx, root, results, load);
      return;
    }
    if (!ctx.isCurrent()) return;
    const rules = Array.isArray(body.rules) ? body.rules : [];
    if (rules.length && JSON.stringify(rules.map((r) => r.id)) !== JSON.stringify(knownRules.map((r) => r.id))) {
      knownRules = rules;
      const fresh = build().form;
      form.replaceWith(fresh);
      form = fresh;
    } else if (rules.length) knownRules = rules;
    const alerts = Array.isArray(body.alerts) ? body.alerts : [];
    const ruleById = new Map(rules.map((r) => [r.id, r]));
    const title = countHeading("alerts-title", alerts.length, "alert", "alerts");
    if (!alerts.length) {
      root.dataset.state = "empty";
      replace(results, title, statusBox("empty", "No alerts match these filters."));
    } else {
      root.dataset.state = "loaded";
      replace(results, title, h("ul", { class: "items", id: "alert-list", "aria-labelledby": "alerts-title" }, alerts.map((a, i) => alertItem(a, i, ruleById, ctx))));
    }
    if (ctx.focus || ctx.filters && Object.keys(ctx.filters).length) focusHeading(title);
  };
  await load();
}

function alertItem(alert, index, ruleById, ctx) {
  const rule = ruleById.get(alert.rule) ?? {};
  const description = alert.description || rule.description || alert.rule;
  const severity = alert.severity || rule.severity || "";
  const idBase = `alert-${index}-${safeId(alert.id)}`;
  const li = h("li", { class: "card item alert", "data-alert-id": alert.id, "data-rule": alert.rule, "data-status": alert.status, "data-severity": severity, "aria-labelledby": `${idBase}-title` });
  const render = (a) => {
    const events = Array.isArray(a.events) ? a.events : [];
    const history = Array.isArray(a.history) ? a.history : [];
    const closed = a.status === "closed";
    const note = h("textarea", { id: `${idBase}-note`, name: "note", rows: 2, "aria-describedby": `${idBase}-note-hint` });
    const msg = h("div", { class: "form-message", "aria-live": "polite" });
    const button = h("button", { type: "submit", class: `button ${closed ? "secondary" : "primary"}`, "data-action": closed ? "reopen" : "close" }, closed ? "Reopen alert" : "Close alert");
    const formEl = h(
      "form",
      {
        class: "action-form",
        "aria-label": `${closed ? "Reopen" : "Close"} alert ${a.id}`,
        novalidate: true,
        on: {
          submit: async (ev) => {
            ev.preventDefault();
            button.disabled = true;
            msg.replaceChildren(h("p", { role: "status" }, closed ? "Reopening…" : "Closing…"));
            let updated;
            try {
              updated = (await setAlertStatus(a.id, closed ? "open" : "closed", note.value.trim())).body;
            } catch (e) {
              if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost();
              if (e instanceof ApiError && e.status === 403) return ctx.onForbidden();
              button.disabled = false;
              msg.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
              return;
            }
            const next = updated && typeof updated === "object" && updated.id ? updated : { ...a, status: closed ? "open" : "closed" };
            li.dataset.status = next.status;
            render(next);
            const done = h("p", { role: "status", class: "done" }, next.status === "closed" ? "Alert closed." : "Alert reopened.");
            li.querySelector(".form-message").replaceChildren(done);
            li.querySelector("button[type=submit]")?.focus();
          },
        },
      },
      h("div", { class: "field" }, h("label", { for: `${idBase}-note` }, "Note"), h("p", { class: "hint", id: `${idBase}-note-hint` }, closed ? "Why the alert is reopened." : "What you found, for the audit trail."), note),
      button,
      msg,
    );
    replace(
      li,
      h("h3", { id: `${idBase}-title` }, description, severity ? tag(severity, `${SEVERITY[severity] ?? severity} severity`) : null, tag(a.status, a.status === "closed" ? "Closed" : "Open")),
      facts([
        ["Rule", h("code", {}, a.rule), "rule"],
        ["Time", formatDateTime(a.time) || a.time, "time"],
        ["User", a.user_id, "user"],
        ["Organisation", a.organisation, "organisation"],
        ["Profile", a.profile, "profile"],
        ["Patient id", a.patient, "patient"],
        ["Alert id", h("code", {}, a.id), "id"],
        ["Details", a.message, "message"],
        [
          events.length === 1 ? "Triggering event" : `Triggering events (${events.length})`,
          h("ul", { class: "events" }, events.map((e) => h("li", { "data-event": e }, h("code", {}, e)))),
          "events",
        ],
      ]),
      history.length
        ? [
            h("h4", { id: `${idBase}-history` }, "History"),
            h(
              "ol",
              { class: "history", "aria-labelledby": `${idBase}-history` },
              history.map((e) => h("li", { "data-action": e.action }, h("span", { class: "when" }, formatDateTime(e.time) || e.time), ": ", e.action === "closed" ? "Closed" : e.action === "open" ? "Reopened" : e.action, e.actor ? ` by ${e.actor}` : "", e.note ? `: ${e.note}` : "")),
            ),
          ]
        : null,
      formEl,
    );
  };
  render(alert);
  return li;
}
