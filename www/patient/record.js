// My record: what the edge returned for this person, in plain language,
// grouped by topic with the engine's labels (segment, content line), and
// the person-centred plan with its edit form (the person only).
import { request } from "../shared/api.js";
import { focusHeading, h, htmlToParagraphs, replace } from "../shared/dom.js";
import { loadEngine, classifyByRef } from "../shared/engine.js";
import { describe, personName } from "../shared/fhir.js";
import { formatDate } from "../shared/format.js";
import { contentOrder, segmentOrder } from "../shared/labels.js";
import { authLost, errorText, field, forgetRecord, formMessage, fromEngine, record, scopeNames, statusBox } from "./ui.js";

/** Plain-language names of the policy's segments and content lines, for the person. */
const SEGMENT_TEXT = {
  summary: "Summary",
  community: "GP, community and mental health care",
  diagnostics: "Tests and scans",
  hospitals: "Hospital care",
};
const CONTENT_TEXT = {
  demographics: "Your details",
  allergies: "Allergies",
  medication: "Medicines",
  diagnoses: "Conditions",
  health_status_prompts: "Things your care team needs to check",
  involved_in_care: "People involved in your care",
  appointments: "Appointments",
  care_package: "Care and support",
  care_plans: "Care plans",
  significant_events: "Important events",
  coded_record: "GP and community record",
  wider_community_record: "Community and mental health notes",
  routine_tests: "Routine test results",
  all_tests: "All test results",
  wider_diagnostic_record: "Other tests and scans",
  adt: "Hospital stays",
  tci: "Planned hospital admissions",
  los_edd: "Hospital stay and expected discharge",
  hospital_care_plans: "Hospital care plans",
  discharge_plans: "Plans for leaving hospital",
  e_correspondence: "Letters",
  wider_hospital_record: "Hospital notes",
};
export const contentText = (id) => CONTENT_TEXT[id] ?? String(id).replace(/_/g, " ");
export const segmentText = (id) => SEGMENT_TEXT[id] ?? String(id);

export const PLAN_SYSTEM = "https://fhir.tiergate.example/CodeSystem/care-plan-category";
export const PLAN_CODE = "person-centred-plan";

/** The person-centred CarePlan in a bundle, if there is one. */
export function findPlan(bundle) {
  for (const e of bundle?.entry ?? []) {
    const r = e?.resource;
    if (r?.resourceType !== "CarePlan") continue;
    if ((r.category ?? []).some((c) => (c?.coding ?? []).some((x) => x?.system === PLAN_SYSTEM && x?.code === PLAN_CODE))) return r;
  }
  return null;
}

/** Who the page is showing, and in what capacity. */
export function contextBanner(who, patient, standing, canSwitch) {
  if (standing?.kind !== "proxy") {
    return canSwitch ? h("p", { class: "hint" }, h("a", { href: "#/choose" }, "Choose another person's record")) : null;
  }
  return h(
    "div",
    { class: "acting", role: "note" },
    h("p", {}, h("strong", {}, "You are acting for someone else "), `(record ${patient}). You can see and do only what they allowed: ${scopeNames(who, standing.scopes).join("; ")}.`),
    canSwitch ? h("p", {}, h("a", { href: "#/choose" }, "Choose another record")) : null,
  );
}

function entryCard(r, c) {
  const v = describe(r);
  const meta = [v.date ? h("span", { class: "entry-date" }, v.date) : null, v.status ? h("span", {}, v.status) : null].filter(Boolean);
  const details = v.details.length ? h("dl", { class: "details" }, v.details.map(([k, val]) => h("div", {}, h("dt", {}, k), h("dd", {}, val)))) : null;
  const narrative = v.narrative.flatMap((n) => htmlToParagraphs(n.html)).slice(0, 6);
  return h(
    "li",
    { class: "entry", "data-ref": `${r.resourceType}/${r.id}`, "data-content": c?.placements?.[0]?.content ?? "" },
    h("h4", { class: "entry-title" }, v.title),
    meta.length ? h("p", { class: "entry-meta" }, meta) : null,
    details,
    v.notes.map((n) => h("p", { class: "note" }, n)),
    narrative.map((p) => h("p", { class: "note" }, p)),
    v.attachments.map((a) => h("p", { class: "hint" }, `Attached: ${a.title}`)),
  );
}

/** Entries grouped by segment, then content line (their first placement). */
function groups(bundle, classes) {
  const bySeg = new Map();
  const other = [];
  for (const e of bundle.entry ?? []) {
    const r = e?.resource;
    if (!r?.resourceType) continue;
    const c = classes.get(`${r.resourceType}/${r.id}`);
    const p = [...(c?.placements ?? [])].sort((a, b) => segmentOrder(a.segment) - segmentOrder(b.segment) || a.tier - b.tier)[0];
    if (!p) {
      other.push([r, c]);
      continue;
    }
    if (!bySeg.has(p.segment)) bySeg.set(p.segment, new Map());
    const lines = bySeg.get(p.segment);
    const key = contentText(p.content);
    if (!lines.has(key)) lines.set(key, { order: contentOrder(p.content), items: [] });
    lines.get(key).items.push([r, c]);
  }
  return { bySeg, other };
}

export async function recordView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const own = standing.kind === "own";
  const heading = h("h1", {}, own ? "My record" : "Their record");
  const banner = contextBanner(who, patient, standing, canSwitch);
  const load = async (fresh = false) => {
    replace(root, heading, banner, statusBox("loading", "Loading the record…"));
    root.dataset.state = "loading";
    let rec;
    let engine;
    try {
      [rec, engine] = await Promise.all([record(patient, { fresh }), loadEngine()]);
    } catch (e) {
      if (authLost(e)) return onAuthLost();
      replace(root, heading, banner, statusBox("error", errorText(e), () => load(true)));
      root.dataset.state = "error";
      return;
    }
    const classes = classifyByRef(engine, rec.text);
    const pt = (rec.bundle.entry ?? []).map((e) => e?.resource).find((r) => r?.resourceType === "Patient" && r.id === patient);
    if (pt) heading.textContent = own ? `My record: ${personName(pt)}` : `Record of ${personName(pt)}`;
    const { bySeg, other } = groups(rec.bundle, classes);
    const sectionsOut = [];
    for (const seg of [...bySeg.keys()].sort((a, b) => segmentOrder(a) - segmentOrder(b))) {
      const lines = [...bySeg.get(seg).entries()].sort((a, b) => a[1].order - b[1].order);
      sectionsOut.push(
        h(
          "section",
          { class: "group", "aria-labelledby": `seg-${seg}`, "data-segment": seg },
          h("h2", { id: `seg-${seg}` }, segmentText(seg)),
          lines.map(([name, { items }]) => [
            h("h3", {}, name, " ", h("span", { class: "count" }, `(${items.length})`)),
            h("ul", { class: "entries", role: "list" }, items.map(([r, c]) => entryCard(r, c))),
          ]),
        ),
      );
    }
    if (other.length) {
      sectionsOut.push(
        h(
          "section",
          { class: "group", "aria-labelledby": "seg-other" },
          h("h2", { id: "seg-other" }, "People and places mentioned"),
          h("ul", { class: "entries", role: "list" }, other.map(([r, c]) => entryCard(r, c))),
        ),
      );
    }
    const count = (rec.bundle.entry ?? []).length;
    replace(
      root,
      heading,
      banner,
      h("p", {}, own ? "This is what is held about you in the shared care record. A few entries may not be shown online: your GP or care team can talk them through with you." : "This is the part of their record they have allowed you to see."),
      planSection(engine, rec.bundle, patient, own, () => load(true), onAuthLost),
      count ? sectionsOut : statusBox("empty", "There is nothing in this record that you can see yet."),
    );
    root.dataset.state = "loaded";
    focusHeading(heading);
  };
  await load();
}

/** The plan as fields, through the engine; null when there is none. */
function planFields(engine, bundle) {
  const cp = findPlan(bundle);
  if (!cp) return { fields: null, found: false };
  if (typeof engine.planFromCarePlan !== "function") return { fields: null, found: true, unavailable: true };
  try {
    return { fields: fromEngine(engine.planFromCarePlan(JSON.stringify(cp))), found: true };
  } catch {
    return { fields: null, found: true, unreadable: true };
  }
}

function planSection(engine, bundle, patient, own, reload, onAuthLost) {
  const { fields, found, unavailable, unreadable } = planFields(engine, bundle);
  const box = h("section", { class: "card plan", id: "plan", "aria-labelledby": "plan-title" }, h("h2", { id: "plan-title" }, own ? "My plan: what matters to me" : "Their plan: what matters to them"));
  if (!found) box.append(statusBox("empty", own ? "You have not written a plan yet." : "There is no plan that you can see."));
  else if (unavailable) box.append(statusBox("empty", "Your plan is on record, but this version of the service cannot show it yet."));
  else if (unreadable) box.append(statusBox("error", "The plan could not be read."));
  else box.append(planDisplay(fields));
  if (own) {
    const details = h("details", { class: "action", id: "plan-edit" }, h("summary", {}, found ? "Change my plan" : "Write my plan"), planForm(fields ?? {}, patient, reload, onAuthLost));
    box.append(details);
    box.append(h("p", { class: "hint" }, "Doctors, nurses and care workers who can see your summary will see your plan."));
  }
  return box;
}

function planDisplay(f) {
  const items = [];
  if (f.preferred_name) items.push(h("dt", {}, "What I like to be called"), h("dd", { id: "plan-preferred-name" }, f.preferred_name));
  if (f.emergency_wishes) items.push(h("dt", {}, "How I wish to be treated in an emergency"), h("dd", { id: "plan-emergency" }, f.emergency_wishes));
  if (f.preferences?.length) items.push(h("dt", {}, "My preferences"), h("dd", {}, h("ul", { id: "plan-preferences" }, f.preferences.map((p) => h("li", {}, p)))));
  if (f.goals?.length) {
    items.push(
      h("dt", {}, "My goals"),
      h("dd", {}, h("ul", { id: "plan-goals" }, f.goals.map((g) => h("li", {}, g.text, g.set_with ? ` (set with ${g.set_with})` : "", g.due ? `, by ${formatDate(g.due)}` : "")))),
    );
  }
  return items.length ? h("dl", {}, items) : statusBox("empty", "The plan is empty.");
}

function goalRow(g, i) {
  const text = h("textarea", { id: `goal-text-${i}`, name: "goal-text", rows: "2", maxlength: "500" });
  text.value = g.text ?? "";
  const setWith = h("input", { type: "text", id: `goal-with-${i}`, name: "goal-with", maxlength: "100" });
  setWith.value = g.set_with ?? "";
  const due = h("input", { type: "date", id: `goal-due-${i}`, name: "goal-due" });
  due.value = g.due ?? "";
  const row = h(
    "fieldset",
    { class: "goal-row" },
    h("legend", {}, `Goal ${i + 1}`),
    field("What I want to achieve", text),
    h("div", { class: "inline-fields" }, field("Set with (optional)", setWith, "For example, health trainer"), field("By when (optional)", due)),
  );
  row.append(h("button", { type: "button", class: "button link", on: { click: () => row.remove() } }, `Remove goal ${i + 1}`));
  return row;
}

function planForm(f, patient, reload, onAuthLost) {
  const name = h("input", { type: "text", id: "plan-name-input", maxlength: "100", autocomplete: "nickname" });
  name.value = f.preferred_name ?? "";
  const wishes = h("textarea", { id: "plan-wishes-input", rows: "3", maxlength: "2000" });
  wishes.value = f.emergency_wishes ?? "";
  const prefs = h("textarea", { id: "plan-prefs-input", rows: "3" });
  prefs.value = (f.preferences ?? []).join("\n");
  const goals = h("div", { id: "plan-goal-rows" });
  let n = 0;
  for (const g of f.goals ?? []) goals.append(goalRow(g, n++));
  const msg = formMessage("plan-message");
  const save = h("button", { type: "submit", class: "button primary", id: "plan-save" }, "Save my plan");
  const form = h(
    "form",
    {
      id: "plan-form",
      novalidate: true,
      on: {
        submit: async (ev) => {
          ev.preventDefault();
          const body = { preferences: prefs.value.split("\n").map((s) => s.trim()).filter(Boolean), goals: [] };
          if (name.value.trim()) body.preferred_name = name.value.trim();
          if (wishes.value.trim()) body.emergency_wishes = wishes.value.trim();
          for (const row of goals.querySelectorAll(".goal-row")) {
            const text = row.querySelector("[name=goal-text]").value.trim();
            const w = row.querySelector("[name=goal-with]").value.trim();
            const d = row.querySelector("[name=goal-due]").value;
            if (!text) continue;
            body.goals.push({ text, ...(w ? { set_with: w } : {}), ...(d ? { due: d } : {}) });
          }
          save.disabled = true;
          replace(msg, statusBox("loading", "Saving your plan…"));
          try {
            await request(`/plan/Patient/${encodeURIComponent(patient)}`, { method: "PUT", body });
          } catch (e) {
            save.disabled = false;
            if (authLost(e)) return onAuthLost();
            const text = e?.status === 400 ? "Your plan was not saved: check each part is filled in, not too long, and dates are real dates." : errorText(e, "Only you can change your plan.");
            replace(msg, h("p", { class: "error", role: "alert" }, text));
            return;
          }
          forgetRecord(patient);
          await reload();
          const m = document.getElementById("plan-title");
          if (m) m.after(h("p", { class: "notice notice-info", role: "status", id: "plan-saved" }, "Your plan has been saved."));
        },
      },
    },
    field("What I like to be called", name),
    field("How I wish to be treated in an emergency", wishes),
    field("My preferences", prefs, "One on each line, for example: a female doctor"),
    h("h3", {}, "My goals"),
    goals,
    h("button", { type: "button", class: "button secondary", id: "plan-add-goal", on: { click: () => goals.append(goalRow({}, n++)) } }, "Add a goal"),
    h("div", {}, save),
    msg,
  );
  return form;
}
