// Who has looked at the record, carers and the access they have, and
// booking an appointment. The edge checks every request; the page shows
// its answer, including a refusal, in plain language.
import { request } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { formatDate, formatDateTime } from "../shared/format.js";
import { profileName } from "../shared/labels.js";
import { contextBanner } from "./record.js";
import { authLost, errorText, field, forgetRecord, formMessage, statusBox, ukDate, ukToInstant } from "./ui.js";

const ACTIONS = {
  read: "Looked at the record",
  everything: "Looked at the record",
  "consent-read": "Looked at sharing choices",
  "consent-permit": "Recorded agreement to share",
  "consent-opt-out": "Recorded a choice not to share",
  "consent-withdraw": "Withdrew a choice not to share",
  book: "Asked for an appointment",
  "plan-update": "Changed the plan",
  notify: "Sent reminders",
  "access-log": "Looked at this list",
  "proxy-read": "Looked at carers' access",
  "proxy-grant": "Gave someone access",
  "proxy-revoke": "Removed someone's access",
  "proxy-agree": "Agreed to someone's access",
};
/** The edge's own description of the action when it gives one; else ours. */
const actionText = (a, what) => (typeof what === "string" && what ? what : (ACTIONS[a] ?? String(a ?? "").replace(/-/g, " ")));

export async function accessView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Who has looked at the record");
  const banner = contextBanner(who, patient, standing, canSwitch);
  replace(root, heading, banner, statusBox("loading", "Loading the list…"));
  root.dataset.state = "loading";
  let entries;
  try {
    entries = (await request(`/access/Patient/${encodeURIComponent(patient)}`)).body?.entries ?? [];
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, banner, statusBox("error", errorText(e, "The access you were given does not include seeing who has looked at this record."), () => accessView(root, { who, patient, standing, onAuthLost, canSwitch })));
    root.dataset.state = "error";
    return;
  }
  const intro = h("p", {}, "Every time someone opens the record, it is recorded. Emergency access (when someone could not ask first) is highlighted with the reason they gave and is always checked.");
  if (!entries.length) {
    replace(root, heading, banner, intro, statusBox("empty", "Nobody has looked at the record yet."));
    root.dataset.state = "loaded";
    return;
  }
  const rows = entries.map((e) =>
    h(
      "tr",
      { class: e.break_glass ? "break-glass" : null, "data-user": e.user_id ?? "", "data-break-glass": e.break_glass ? "true" : "false" },
      h("td", {}, formatDateTime(e.when)),
      h("td", {}, e.who ?? e.user_id ?? "Unknown", e.as_proxy ? " (acting for the patient)" : ""),
      h("td", {}, e.role ?? (e.profile ? profileName(e.profile) : "")),
      h("td", {}, e.organisation ?? ""),
      h(
        "td",
        { "data-action": e.action ?? "" },
        actionText(e.action, e.what),
        e.approved_user ? `: ${e.approved_user}${e.approved_until ? `, until ${formatDateTime(e.approved_until)}` : ""}` : "",
        e.by_approval ? " (with your privacy officer's approval)" : "",
      ),
      h("td", {}, e.break_glass ? [h("span", { class: "bg-label" }, "Emergency access"), e.break_glass_reason ? `: ${e.break_glass_reason}` : ""] : "No"),
    ),
  );
  replace(
    root,
    heading,
    banner,
    intro,
    h(
      "div",
      { class: "table-wrap", role: "region", "aria-labelledby": "access-caption", tabindex: "0" },
      h(
        "table",
        { id: "access-log" },
        h("caption", { id: "access-caption" }, `${entries.length} ${entries.length === 1 ? "access" : "accesses"}, newest first`),
        h("thead", {}, h("tr", {}, ["When", "Who", "Role", "Organisation", "What", "Emergency access"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
  root.dataset.state = "loaded";
  focusHeading(heading);
}

export async function carersView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Carers and people who act for you");
  const banner = contextBanner(who, patient, standing, canSwitch);
  replace(root, heading, banner, statusBox("loading", "Loading…"));
  root.dataset.state = "loading";
  let grants;
  try {
    grants = (await request(`/proxy/Patient/${encodeURIComponent(patient)}`)).body?.grants ?? [];
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, banner, statusBox("error", errorText(e, "Only the person themself can choose who acts for them."), () => carersView(root, { who, patient, standing, onAuthLost, canSwitch })));
    root.dataset.state = "error";
    return;
  }
  const names = (ids) => ids.map((id) => (who.proxy_scopes ?? []).find((s) => s.id === id)?.display ?? id).join("; ");
  const categoryNames = (ids) => ids.map((id) => (who.exclusion_categories ?? []).find((c) => c.id === id)?.name ?? id).join("; ");
  const again = () => carersView(root, { who, patient, standing, onAuthLost, canSwitch });
  const listMsg = formMessage("grant-list-message");
  const shown = grants.filter((g) => g.in_force);
  const list = shown.length
    ? h(
        "ul",
        { class: "who-list", id: "grants" },
        shown.map((g) => {
          const revoke = h("button", { type: "button", class: "button danger", id: `revoke-${g.id}`, "data-grant": g.id }, `Remove access for ${g.grantee_name}`);
          revoke.addEventListener("click", async () => {
            revoke.disabled = true;
            replace(listMsg, statusBox("loading", "Removing access…"));
            try {
              await request(`/proxy/Patient/${encodeURIComponent(patient)}/${encodeURIComponent(g.id)}`, { method: "DELETE" });
            } catch (e) {
              revoke.disabled = false;
              if (authLost(e)) return onAuthLost();
              replace(listMsg, h("p", { class: "error", role: "alert" }, errorText(e, "Only the person themself can remove access.")));
              return;
            }
            await again();
            document.getElementById("grants-title")?.after(h("p", { class: "notice notice-info", role: "status", id: "grant-saved" }, `${g.grantee_name} no longer has access.`));
          });
          const shared = (g.categories ?? []).length
            ? h("p", { class: "notice notice-warning", "data-categories": g.categories.join(" ") }, `Also sees entries about: ${categoryNames(g.categories)}.`)
            : null;
          // A grant someone else made for the person (a parent, the
          // practice): from 16 it lapses unless they agree to it themself.
          let agree = null;
          if (g.made_by === "other") {
            agree = h("button", { type: "button", class: "button", id: `agree-${g.id}`, "data-agree": g.id }, g.agreed ? `Agree again to ${g.grantee_name}'s access` : `Agree to ${g.grantee_name}'s access`);
            agree.addEventListener("click", async () => {
              agree.disabled = true;
              try {
                await request(`/proxy/Patient/${encodeURIComponent(patient)}/${encodeURIComponent(g.id)}/agree`, { method: "POST" });
              } catch (e) {
                agree.disabled = false;
                if (authLost(e)) return onAuthLost();
                replace(listMsg, h("p", { class: "error", role: "alert" }, errorText(e, "Only the person themself can agree.")));
                return;
              }
              await again();
              document.getElementById("grants-title")?.after(h("p", { class: "notice notice-info", role: "status", id: "grant-saved" }, `You agreed to ${g.grantee_name}'s access.`));
            });
          }
          const madeBy = g.made_by === "other" ? (g.agreed ? ` Set up for you; you agreed ${formatDateTime(g.agreed)}.` : " Set up for you by someone else; you have not agreed to it.") : "";
          return h("li", { class: "card", "data-grantee": g.grantee }, h("h3", {}, g.grantee_name), h("p", {}, `Can: ${names(g.scopes)}.`), shared, h("p", { class: "hint" }, `Until ${formatDate(g.expires)}. Given ${formatDateTime(g.granted)}.${madeBy}`), agree, revoke);
        }),
      )
    : statusBox("empty", "Nobody acts for you at the moment.");

  const grantee = h("input", { type: "text", id: "grantee", autocomplete: "off", spellcheck: "false" });
  const granteeName = h("input", { type: "text", id: "grantee-name", autocomplete: "off" });
  const expires = h("input", { type: "date", id: "grant-expires", min: ukDate(1), max: ukDate(366) });
  expires.value = ukDate(90);
  const scopes = h(
    "fieldset",
    { id: "grant-scopes" },
    h("legend", {}, "What they can see and do"),
    (who.proxy_scopes ?? []).map((s) => h("div", { class: "check" }, h("input", { type: "checkbox", id: `scope-${s.id}`, name: "scope", value: s.id }), h("label", { for: `scope-${s.id}` }, s.display))),
  );
  // Sensitive parts (Appendix 1) are never shown to someone acting for
  // the person unless they name them here.
  const categoryWarning = h("p", { class: "notice notice-warning", id: "grant-categories-warning", role: "status", hidden: true });
  const categories = h(
    "details",
    { id: "grant-categories" },
    h("summary", {}, "Sensitive parts of your record (not shared unless you choose)"),
    h("p", { class: "hint" }, "Entries about these subjects are kept from anyone acting for you. Tick one only if you want this person to see it."),
    (who.exclusion_categories ?? []).map((c) => h("div", { class: "check" }, h("input", { type: "checkbox", id: `category-${c.id}`, name: "category", value: c.id }), h("label", { for: `category-${c.id}` }, c.name))),
    categoryWarning,
  );
  categories.addEventListener("change", () => {
    const ticked = [...categories.querySelectorAll("[name=category]:checked")].map((c) => c.value);
    categoryWarning.hidden = !ticked.length;
    categoryWarning.textContent = ticked.length ? `They will be able to see entries about: ${categoryNames(ticked)}. These are usually kept private, even from family.` : "";
  });
  const msg = formMessage("grant-message");
  const submit = h("button", { type: "submit", class: "button primary", id: "grant-save" }, "Give access");
  const form = h(
    "form",
    { id: "grant-form", class: "card", novalidate: true },
    field("Their NHS login sign-in name", grantee, "For example nhs-login-anne-whitfield. They can find it in their NHS login account."),
    field("Their name, as you want it shown", granteeName),
    scopes,
    categories,
    field("Until", expires, "Up to a year from today."),
    submit,
    msg,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chosen = [...form.querySelectorAll("[name=scope]:checked")].map((c) => c.value);
    const sensitive = [...form.querySelectorAll("[name=category]:checked")].map((c) => c.value);
    const problems = [];
    if (!grantee.value.trim()) problems.push("Enter their sign-in name.");
    if (!granteeName.value.trim()) problems.push("Enter their name.");
    if (!chosen.length) problems.push("Choose at least one thing they can see or do.");
    if (!expires.value) problems.push("Choose when their access ends.");
    grantee.setAttribute("aria-invalid", String(!grantee.value.trim()));
    granteeName.setAttribute("aria-invalid", String(!granteeName.value.trim()));
    if (problems.length) {
      replace(msg, h("div", { class: "error", role: "alert" }, problems.map((p) => h("p", {}, p))));
      return;
    }
    submit.disabled = true;
    replace(msg, statusBox("loading", "Giving access…"));
    try {
      await request(`/proxy/Patient/${encodeURIComponent(patient)}`, { method: "POST", body: { grantee: grantee.value.trim(), grantee_name: granteeName.value.trim(), scopes: chosen, categories: sensitive, expires: expires.value } });
    } catch (e) {
      submit.disabled = false;
      if (authLost(e)) return onAuthLost();
      replace(msg, h("p", { class: "error", role: "alert" }, e?.status === 400 ? "Access was not given: check the sign-in name and that the end date is within a year." : errorText(e, "Only the person themself can give access.")));
      return;
    }
    await again();
    document.getElementById("grants-title")?.after(h("p", { class: "notice notice-info", role: "status", id: "grant-saved" }, `${granteeName.value.trim()} now has access.`));
  });
  replace(
    root,
    heading,
    banner,
    h("p", {}, "You can let a carer, relative or parent see parts of your record or book appointments for you. You can remove their access at any time."),
    h("section", { "aria-labelledby": "grants-title" }, h("h2", { id: "grants-title" }, "Who acts for you now"), list, listMsg),
    h("section", { "aria-labelledby": "grant-title" }, h("h2", { id: "grant-title" }, "Give someone access"), form),
  );
  root.dataset.state = "loaded";
  focusHeading(heading);
}

const SERVICES = ["GP appointment", "Practice nurse", "COPD review", "Diabetes review", "Blood test", "Medication review", "Health trainer"];

export async function bookView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Ask for an appointment");
  const banner = contextBanner(who, patient, standing, canSwitch);
  const service = h("select", { id: "book-service" }, SERVICES.map((s) => h("option", { value: s }, s)));
  const date = h("input", { type: "date", id: "book-date", min: ukDate(0) });
  date.value = ukDate(7);
  const time = h("input", { type: "time", id: "book-time", step: "300" });
  time.value = "10:00";
  const duration = h("select", { id: "book-duration" }, [10, 15, 20, 30, 45, 60].map((m) => h("option", { value: String(m), selected: m === 15 }, `${m} minutes`)));
  const note = h("textarea", { id: "book-note", rows: "3", maxlength: "500" });
  const msg = formMessage("book-message");
  const submit = h("button", { type: "submit", class: "button primary", id: "book-submit" }, "Send request");
  const form = h(
    "form",
    { id: "book-form", class: "card", novalidate: true },
    field("Service", service),
    h("div", { class: "inline-fields" }, field("Date", date), field("Time (UK time)", time), field("How long", duration)),
    field("Anything they should know (optional)", note),
    submit,
    msg,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const start = ukToInstant(date.value, time.value);
    if (!start) {
      date.setAttribute("aria-invalid", "true");
      replace(msg, h("p", { class: "error", role: "alert" }, "Enter a real date and time."));
      return;
    }
    date.removeAttribute("aria-invalid");
    const end = new Date(Date.parse(start) + Number(duration.value) * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const appt = {
      resourceType: "Appointment",
      status: "proposed",
      start,
      end,
      serviceType: [{ text: service.value }],
      participant: [{ actor: { reference: `Patient/${patient}` } }],
    };
    if (note.value.trim()) appt.description = note.value.trim();
    submit.disabled = true;
    replace(msg, statusBox("loading", "Sending your request…"));
    try {
      const r = await request("/fhir/Appointment", { method: "POST", body: appt });
      forgetRecord(patient);
      const a = r.body ?? appt;
      replace(
        msg,
        h(
          "div",
          { class: "notice notice-info", role: "status", id: "book-done", "data-appointment": a.id ?? "" },
          h("p", {}, h("strong", {}, "Request sent. "), `${service.value} on ${formatDateTime(a.start ?? start)}. The practice will confirm the time with you.`),
        ),
      );
    } catch (e) {
      if (authLost(e)) return onAuthLost();
      const text = e?.status === 403 ? "You cannot book for this person: the access they gave you does not include booking." : e?.status === 400 ? "The request was not accepted. Check the date and time are in the future and try again." : errorText(e);
      replace(msg, h("p", { class: "error", role: "alert" }, text));
    } finally {
      submit.disabled = false;
    }
  });
  replace(root, heading, banner, h("p", {}, "Send a request for an appointment. It is not booked until the practice confirms it."), form);
  root.dataset.state = "loaded";
  focusHeading(heading);
}
