// Individual approvals (framework 7.2): "wider access" to community
// information is decided case by case under information governance. A
// profile whose tier reaches it sees it for a patient only while an
// approval recorded here, for that user and that patient, is in force.
// Every approval and every early end is audited and appears in the
// person's own access log.
import { ApiError } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDateTime } from "../shared/format.js";
import { segmentName } from "../shared/labels.js";
import { listApprovals, recordApproval, revokeApproval } from "./api.js";
import { countHeading, errorText, facts, filterForm, loadFailed, safeId, statusBox, tag } from "./ui.js";

/** "community-3" -> "Community tier 3". */
function placementName(label) {
  const m = /^(.*)-(\d+)$/.exec(String(label ?? ""));
  return m ? `${segmentName(m[1])} tier ${m[2]}` : String(label ?? "");
}

export async function approvalsView(root, ctx) {
  const filters = { ...ctx.filters };
  const heading = h("h1", {}, "Individual approvals");
  const intro = h(
    "p",
    {},
    "Some of the shared record is reached only case by case, under your information governance process (framework 7.2). Record an approval for one professional and one patient, for a limited time. The person sees it in their access log.",
  );
  const formHolder = h("div", { id: "approval-form-holder" });
  const results = h("div", { id: "approval-results", "aria-live": "polite" });
  const { form: filterBox } = filterForm({
    id: "approval-filters",
    title: "Filter approvals",
    values: filters,
    fields: [
      { name: "user", label: "User id" },
      { name: "patient", label: "Patient id" },
    ],
    onSubmit: (v) => ctx.navigate(v),
    onClear: () => ctx.navigate({}),
  });
  replace(root, heading, intro, formHolder, filterBox, results);
  if (ctx.focus) focusHeading(heading);

  const load = async () => {
    root.dataset.state = "loading";
    replace(results, statusBox("loading", "Loading approvals…"));
    let body;
    try {
      body = (await listApprovals(filters)).body ?? {};
    } catch (e) {
      loadFailed(e, ctx, root, results, load);
      return;
    }
    if (!ctx.isCurrent()) return;
    const placements = Array.isArray(body.placements) ? body.placements : [];
    replace(formHolder, placements.length ? approvalForm(placements, body.max_days, ctx, load) : h("p", { class: "notice notice-info", id: "approvals-off" }, "The sharing policy reserves no part of the record for individual approvals."));
    const list = Array.isArray(body.approvals) ? body.approvals : [];
    const title = countHeading("approvals-title", list.length, "approval", "approvals");
    if (!list.length) {
      root.dataset.state = "empty";
      replace(results, title, statusBox("empty", "No approvals match these filters."));
    } else {
      root.dataset.state = "loaded";
      replace(results, title, h("ul", { class: "items", id: "approval-list", "aria-labelledby": "approvals-title" }, list.map((a, i) => approvalItem(a, i, ctx))));
    }
  };
  await load();
}

function approvalForm(placements, maxDays, ctx, reload) {
  const max = Number.isInteger(maxDays) && maxDays > 0 ? maxDays : 1;
  const field = (id, label, control, hint) =>
    h("div", { class: "field" }, h("label", { for: id }, label), hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null, control);
  const user = h("input", { id: "approval-user", name: "user_id", type: "text", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "approval-user-hint" });
  const organisation = h("input", { id: "approval-organisation", name: "organisation", type: "text", required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "approval-organisation-hint" });
  const patient = h("input", { id: "approval-patient", name: "patient", type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  const days = h("input", { id: "approval-days", name: "days", type: "number", min: "1", max: String(max), value: String(Math.min(30, max)), required: true, "aria-describedby": "approval-days-hint" });
  const reason = h("textarea", { id: "approval-reason", name: "reason", rows: 2, required: true, "aria-describedby": "approval-reason-hint" });
  const msg = h("div", { class: "form-message", "aria-live": "polite" });
  const button = h("button", { type: "submit", class: "button primary", id: "approval-submit" }, "Record approval");
  const form = h(
    "form",
    {
      id: "approval-form",
      class: "card",
      novalidate: true,
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const n = Number(days.value);
          const problems = [];
          if (!user.value.trim()) problems.push("Enter the professional's user id.");
          if (!organisation.value.trim()) problems.push("Enter the professional's organisation (ODS code).");
          if (!patient.value.trim()) problems.push("Enter the patient id.");
          if (!Number.isInteger(n) || n < 1 || n > max) problems.push(`Enter a number of days from 1 to ${max}.`);
          if (!reason.value.trim()) problems.push("Give the information governance reason.");
          if (problems.length) {
            msg.replaceChildren(h("div", { class: "error", role: "alert" }, problems.map((p) => h("p", {}, p))));
            return;
          }
          button.disabled = true;
          msg.replaceChildren(h("p", { role: "status" }, "Recording the approval…"));
          let saved;
          try {
            saved = (await recordApproval({ user_id: user.value.trim(), organisation: organisation.value.trim(), patient: patient.value.trim(), days: n, reason: reason.value.trim() })).body;
          } catch (e) {
            if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost();
            button.disabled = false;
            msg.replaceChildren(h("p", { class: "error", role: "alert", "data-error": String(e?.status ?? "") }, errorText(e)));
            return;
          }
          await reload();
          const done = document.getElementById("approval-form-holder")?.querySelector(".form-message");
          done?.replaceChildren(h("p", { role: "status", class: "done", id: "approval-done" }, `Approval recorded for ${saved?.user_id ?? "the professional"} until ${formatDateTime(saved?.expires) || saved?.expires}.`));
        },
      },
    },
    h("h2", {}, "Record an approval"),
    h("p", {}, "Opens ", h("strong", { id: "approval-placements" }, placements.map(placementName).join(", ")), " of one patient's record to one professional whose role reaches it. Everything else they see is unchanged."),
    field("approval-user", "Professional's user id", user, "As it appears in the audit (for example dr.okafor)."),
    field("approval-organisation", "Their organisation (ODS code)", organisation, "The approval holds only while they sign in for this organisation."),
    field("approval-patient", "Patient id", patient),
    field("approval-days", "Days", days, `At most ${max} days; you can end it early.`),
    field("approval-reason", "Information governance reason", reason, "Recorded in the audit trail; not shown to the patient."),
    button,
    msg,
  );
  return form;
}

function approvalItem(initial, index, ctx) {
  const idBase = `approval-${index}-${safeId(initial.id)}`;
  const li = h("li", { class: "card item approval", "data-approval-id": initial.id, "aria-labelledby": `${idBase}-title` });
  const render = (a, message) => {
    const state = a.revoked ? "ended" : a.in_force ? "in-force" : "expired";
    li.dataset.state = state;
    const label = { ended: "Ended early", "in-force": "In force", expired: "Expired" }[state];
    const end = async (button) => {
      button.disabled = true;
      let updated;
      try {
        updated = (await revokeApproval(a.id)).body;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return ctx.onAuthLost();
        button.disabled = false;
        li.querySelector(".form-message")?.replaceChildren(h("p", { class: "error", role: "alert" }, errorText(e)));
        return;
      }
      render({ ...updated, in_force: false }, h("p", { role: "status", class: "done" }, "Approval ended."));
      focusHeading(document.getElementById(`${idBase}-title`));
    };
    const button = h("button", { type: "button", class: "button danger", "data-revoke": a.id }, "End approval now");
    button.addEventListener("click", () => end(button));
    replace(
      li,
      h("h3", { id: `${idBase}-title`, tabindex: "-1" }, `${a.user_id} for patient ${a.patient}`, tag(state, label)),
      facts([
        ["Professional", a.user_id, "user"],
        ["Organisation", a.organisation, "organisation"],
        ["Patient id", a.patient, "patient"],
        ["Opens", placementName(`${a.segment}-${a.tier}`), "placement"],
        ["Reason", a.reason, "reason"],
        ["Recorded by", a.recorded_by, "recorded_by"],
        ["From", formatDateTime(a.starts) || a.starts, "starts"],
        ["Until", formatDateTime(a.expires) || a.expires, "expires"],
        ["Ended", a.revoked ? `${formatDateTime(a.revoked) || a.revoked}${a.revoked_by ? ` by ${a.revoked_by}` : ""}` : "", "revoked"],
      ]),
      state === "in-force" ? button : null,
      h("div", { class: "form-message", "aria-live": "polite" }, message ?? null),
    );
  };
  render(initial);
  return li;
}
