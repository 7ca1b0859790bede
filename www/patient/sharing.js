// My sharing choices: the directives on record, and a new choice (opt out
// of, or agree to share, all or part of the record, with everyone or one
// kind of professional). Before anything is saved, the engine in this page
// previews what example professionals would see with and without the
// choice. Saving goes through the edge, which checks and audits it.
import { request } from "../shared/api.js";
import { focusHeading, h, replace } from "../shared/dom.js";
import { loadEngine } from "../shared/engine.js";
import { formatDate, formatDateTime } from "../shared/format.js";
import { CONTENT, profileName } from "../shared/labels.js";
import { contentText, contextBanner, segmentText } from "./record.js";
import { authLost, errorText, field, formMessage, record, statusBox } from "./ui.js";

const PLACEMENT_SYSTEM = "https://fhir.tiergate.example/CodeSystem/placement";
const CONTENT_SYSTEM = "https://fhir.tiergate.example/CodeSystem/content";
const CATEGORY_SYSTEM = "https://fhir.tiergate.example/CodeSystem/exclusion-category";
const PROFILE_SYSTEM = "https://fhir.tiergate.example/CodeSystem/profile";
const ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code";

const FORBIDDEN = "You cannot change sharing choices for this person: the access they gave you does not include managing their sharing.";

/**
 * Example professionals for the preview (the shapes of the demo viewer
 * files). Their training is current on the day of the preview
 * (`withTraining`), as a real professional's must be to see anything.
 */
export const EXAMPLE_VIEWERS = [
  {
    key: "gp",
    label: "A GP",
    viewer: { user_id: "preview-gp", name: "Example GP", organisation: "N99005", profile: "1b", purpose: "direct-care" },
  },
  {
    key: "social-worker",
    label: "A hospital social worker",
    viewer: { user_id: "preview-sw", name: "Example hospital social worker", organisation: "LA901", profile: "3a", purpose: "direct-care" },
  },
  {
    key: "admin",
    label: "An admin clerk",
    viewer: { user_id: "preview-admin", name: "Example ward clerk", organisation: "R9A", profile: "5", purpose: "direct-care" },
  },
];

const SEGMENTS = ["summary", "community", "diagnostics", "hospitals"];
const CATEGORIES = [
  ["hiv_aids", "HIV and AIDS"],
  ["sexually_transmitted_diseases", "Sexually transmitted diseases"],
  ["termination_of_pregnancy", "Termination of pregnancy"],
  ["ivf_treatment", "IVF treatment"],
  ["complaints", "Complaints"],
  ["convictions_imprisonment", "Convictions and imprisonment"],
  ["abuse", "Abuse"],
  ["gender_reassignment", "Gender reassignment"],
  ["adoption", "Adoption"],
];
const PROFILE_IDS = ["1a", "1b", "1c", "2a", "2b", "3a", "3b", "4", "5", "6", "7"];

const WITHDRAWS_URL = "https://fhir.tiergate.example/StructureDefinition/withdraws";

/** The id of the opt-out a Consent withdraws, if it is a withdrawal. */
const withdrawnBy = (c) => (c.extension ?? []).find((e) => e.url === WITHDRAWS_URL)?.valueReference?.reference?.replace(/^Consent\//, "") ?? null;

/** One FHIR Consent in plain language. */
function describeConsent(c) {
  if (withdrawnBy(c)) return "You withdrew an earlier choice not to share.";
  const p = c.provision ?? {};
  const deny = p.type === "deny";
  const what = [];
  for (const code of p.code ?? []) {
    for (const x of code.coding ?? []) {
      if (x.system === PLACEMENT_SYSTEM) {
        const [seg, tier] = String(x.code).split("-");
        what.push(tier ? `${segmentText(seg)}, level ${tier}${deny ? " and above" : " and below"}` : segmentText(seg));
      } else if (x.system === CONTENT_SYSTEM) what.push(contentText(x.code));
      else if (x.system === CATEGORY_SYSTEM) what.push(CATEGORIES.find(([id]) => id === x.code)?.[1] ?? x.code);
    }
  }
  for (const d of p.data ?? []) if (d?.reference?.reference) what.push(`one entry (${d.reference.reference})`);
  const who = [];
  for (const a of p.actor ?? []) {
    const i = a?.reference?.identifier ?? {};
    if (i.system === PROFILE_SYSTEM) who.push(profileName(i.value));
    else if (i.system === ODS_SYSTEM) who.push(`staff of organisation ${i.value}`);
    else if (i.value) who.push(`user ${i.value}`);
  }
  const until = p.period?.end ? ` until ${formatDate(p.period.end)}` : "";
  return `${deny ? "Not shared" : "Shared"}: ${what.length ? what.join(", ") : "the whole record"}, with ${who.length ? who.join(", ") : "everyone who cares for you"}${until}.`;
}

/** The choice the form describes: {kind, body (for the edge), fhir (for the preview)} or null. */
function readChoice(form) {
  const kind = form.querySelector("[name=kind]:checked")?.value;
  if (!kind) return null;
  const what = form.querySelector("[name=what]:checked")?.value ?? "all";
  const scope = {};
  const code = [];
  if (what === "segment") {
    const seg = form.querySelector("#choice-segment").value;
    const tier = form.querySelector("#choice-tier").value;
    scope.segments = [tier ? { segment: seg, tier: Number(tier) } : { segment: seg }];
    code.push({ coding: [{ system: PLACEMENT_SYSTEM, code: tier ? `${seg}-${tier}` : seg }] });
  } else if (what === "content") {
    const id = form.querySelector("#choice-content").value;
    scope.content = [id];
    code.push({ coding: [{ system: CONTENT_SYSTEM, code: id }] });
  } else if (what === "category") {
    if (kind === "permit") return { invalid: "You can only choose not to share a sensitive category: these are never shared unless the law allows it." };
    const id = form.querySelector("#choice-category").value;
    scope.categories = [id];
    code.push({ coding: [{ system: CATEGORY_SYSTEM, code: id }] });
  }
  const whoKind = form.querySelector("[name=who]:checked")?.value ?? "everyone";
  const actors = {};
  const actor = [];
  if (whoKind === "profile") {
    const p = form.querySelector("#choice-profile").value;
    actors.profiles = [p];
    actor.push({ reference: { identifier: { system: PROFILE_SYSTEM, value: p } } });
  }
  const until = form.querySelector("#choice-until").value;
  const body = { actors, scope };
  if (until) body.period = { end: until };
  const provision = { type: kind };
  if (until) provision.period = { end: until };
  if (actor.length) provision.actor = actor;
  if (code.length) provision.code = code;
  const fhir = { resourceType: "Consent", id: "preview-choice", status: "active", dateTime: new Date().toISOString(), provision };
  return { kind, body, fhir };
}

/** What `viewer` would see: the entries' "Type/id" and content lines, or an error. */
function seen(engine, text, viewer, consents, now) {
  try {
    const out = engine.redact(text, viewer, JSON.stringify(consents), now, null);
    if (out.outcome !== "document") return { refs: [], lines: new Map() };
    const placed = new Map();
    for (const c of engine.classifyAll(out.body)) if (c.resource_type && c.id) placed.set(`${c.resource_type}/${c.id}`, c.placements?.[0]?.content);
    const doc = JSON.parse(out.body);
    const refs = (doc.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    const lines = new Map();
    for (const r of refs) {
      const line = placed.get(r);
      if (line) lines.set(line, (lines.get(line) ?? 0) + 1);
    }
    return { refs, lines };
  } catch (e) {
    return { error: e?.message ?? "could not be worked out" };
  }
}

function previewCard(ex, before, after, changed) {
  const diff = [];
  if (after && !after.error && !before.error) {
    const all = new Set([...before.lines.keys(), ...after.lines.keys()]);
    for (const line of [...all].sort()) {
      const b = before.lines.get(line) ?? 0;
      const a = after.lines.get(line) ?? 0;
      if (a < b) diff.push(h("li", {}, `${contentText(line)}: no longer sees ${b - a}`));
      else if (a > b) diff.push(h("li", {}, `${contentText(line)}: would also see ${a - b}`));
    }
  }
  const count = (s) => (s.error ? "cannot be worked out" : `${s.refs.length} ${s.refs.length === 1 ? "entry" : "entries"}`);
  return h(
    "li",
    { class: "card preview-card", "data-viewer": ex.key, "data-before": before.error ? "" : before.refs.length, "data-after": after && !after.error ? after.refs.length : "" },
    h("h4", {}, ex.label),
    h("p", { class: "counts" }, "Sees now: ", h("strong", { class: "before" }, count(before))),
    changed ? h("p", { class: "counts" }, "With your choice: ", h("strong", { class: "after changed" }, count(after))) : null,
    diff.length ? h("ul", { class: "diff" }, diff) : changed ? h("p", { class: "hint" }, "No change for them.") : null,
  );
}

export async function sharingView(root, { who, patient, standing, onAuthLost, canSwitch }) {
  const heading = h("h1", {}, "Sharing choices");
  const banner = contextBanner(who, patient, standing, canSwitch);
  replace(root, heading, banner, statusBox("loading", "Loading sharing choices…"));
  root.dataset.state = "loading";
  let consentBundle;
  let rec;
  let engine;
  try {
    [consentBundle, rec, engine] = await Promise.all([request(`/consent/Patient/${encodeURIComponent(patient)}`).then((r) => r.body), record(patient), loadEngine()]);
  } catch (e) {
    if (authLost(e)) return onAuthLost();
    replace(root, heading, banner, statusBox("error", errorText(e, FORBIDDEN), () => sharingView(root, { who, patient, standing, onAuthLost, canSwitch })));
    root.dataset.state = "error";
    return;
  }
  const existing = (consentBundle?.entry ?? []).map((e) => e?.resource).filter((r) => r?.resourceType === "Consent");
  const withdrawn = new Set(existing.map(withdrawnBy).filter(Boolean));
  // An opt-out stands until it is withdrawn: each standing one can be.
  const withdrawButton = (c) => {
    if (c.provision?.type !== "deny" || withdrawn.has(c.id)) return null;
    const button = h("button", { type: "button", class: "button secondary", "data-withdraw": c.id }, "Withdraw this choice");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await request(`/consent/Patient/${encodeURIComponent(patient)}/withdraw`, { method: "POST", body: { opt_out: c.id } });
      } catch (e) {
        button.disabled = false;
        if (authLost(e)) return onAuthLost();
        button.after(h("p", { class: "error", role: "alert" }, errorText(e, FORBIDDEN)));
        return;
      }
      await sharingView(root, { who, patient, standing, onAuthLost, canSwitch });
      document.getElementById("current-title")?.after(h("p", { class: "notice notice-info", role: "status", id: "choice-saved" }, "Your earlier choice has been withdrawn. It no longer applies from now."));
    });
    return button;
  };
  const current = existing.length
    ? h(
        "ul",
        { id: "current-choices", class: "choice-list" },
        existing.map((c) =>
          h(
            "li",
            { "data-consent": c.id, ...(withdrawn.has(c.id) ? { "data-withdrawn": "true" } : {}) },
            describeConsent(c),
            withdrawn.has(c.id) ? h("span", { class: "hint" }, " (withdrawn)") : null,
            c.dateTime ? h("span", { class: "hint" }, ` Recorded ${formatDateTime(c.dateTime)}.`) : null,
            withdrawButton(c),
          ),
        ),
      )
    : statusBox("empty", "No choices have been recorded. Without a choice, professionals see the record only with consent or in an emergency.");

  const radio = (name, value, label, checked = false) => {
    const id = `${name}-${value}`;
    return h("div", { class: "radio" }, h("input", { type: "radio", name, value, id, checked }), h("label", { for: id }, label));
  };
  const select = (id, options) => h("select", { id }, options.map(([v, t]) => h("option", { value: v }, t)));
  const segSel = select("choice-segment", SEGMENTS.map((s) => [s, segmentText(s)]));
  const tierSel = select("choice-tier", [["", "Every level"], ["1", "Level 1 (basic)"], ["2", "Level 2"], ["3", "Level 3 (most detailed)"]]);
  const contentSel = select("choice-content", CONTENT.map(([id]) => [id, contentText(id)]));
  const catSel = select("choice-category", CATEGORIES);
  const profSel = select("choice-profile", PROFILE_IDS.map((p) => [p, profileName(p)]));
  const until = h("input", { type: "date", id: "choice-until" });
  const preview = h("div", { id: "preview", "aria-live": "polite" });
  const msg = formMessage("choice-message");
  const save = h("button", { type: "submit", class: "button primary", id: "save-choice" }, "Save this choice");

  const form = h(
    "form",
    { id: "choice-form", class: "card", novalidate: true },
    h("fieldset", {}, h("legend", {}, "What do you want to do?"), radio("kind", "deny", "Stop sharing (opt out)"), radio("kind", "permit", "Agree to share")),
    h(
      "fieldset",
      {},
      h("legend", {}, "Which part of the record?"),
      radio("what", "all", "All of my record", true),
      radio("what", "segment", "One area of my record"),
      h("div", { class: "inline-fields" }, field("Area", segSel), field("Level", tierSel, "Levels 1 to 3: each level adds more detail.")),
      radio("what", "content", "One kind of information"),
      field("Kind of information", contentSel),
      radio("what", "category", "A sensitive category (not sharing only)"),
      field("Category", catSel),
    ),
    h("fieldset", {}, h("legend", {}, "With whom?"), radio("who", "everyone", "Everyone who cares for me", true), radio("who", "profile", "Only one kind of professional"), field("Kind of professional", profSel)),
    field("Until (optional)", until, "Leave empty for no end date."),
    h("h2", { id: "preview-title" }, "What professionals would see"),
    h("p", { class: "hint" }, "Worked out on this device from the record as you see it, which is close to what they would see. Nothing is saved until you press Save."),
    preview,
    save,
    msg,
  );

  const nowIso = () => new Date().toISOString();
  /** The example viewer, with training current on the day `now` falls on. */
  const withTraining = (viewer, now) => ({ ...viewer, training: { completed: now.slice(0, 10), expires: now.slice(0, 10) } });
  const renderPreview = () => {
    const choice = readChoice(form);
    const now = nowIso();
    if (choice?.invalid) {
      replace(preview, h("p", { class: "error", role: "alert" }, choice.invalid));
      return;
    }
    const cards = EXAMPLE_VIEWERS.map((ex) => {
      const viewer = withTraining(ex.viewer, now);
      const before = seen(engine, rec.text, viewer, existing, now);
      const after = choice ? seen(engine, rec.text, viewer, [...existing, choice.fhir], now) : null;
      return previewCard(ex, before, after, Boolean(choice));
    });
    replace(preview, choice ? null : h("p", {}, "Choose what you want to do to see the difference."), h("ul", { class: "preview-grid", role: "list" }, cards));
  };
  form.addEventListener("change", renderPreview);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const choice = readChoice(form);
    if (!choice) {
      replace(msg, h("p", { class: "error", role: "alert" }, "Choose whether you want to stop sharing or agree to share."));
      return;
    }
    if (choice.invalid) {
      replace(msg, h("p", { class: "error", role: "alert" }, choice.invalid));
      return;
    }
    save.disabled = true;
    replace(msg, statusBox("loading", "Saving your choice…"));
    const path = `/consent/Patient/${encodeURIComponent(patient)}${choice.kind === "deny" ? "/opt-out" : ""}`;
    try {
      await request(path, { method: "POST", body: choice.body });
    } catch (e) {
      save.disabled = false;
      if (authLost(e)) return onAuthLost();
      replace(msg, h("p", { class: "error", role: "alert" }, e?.status === 400 ? "This choice could not be saved. Check the choice and try again." : errorText(e, FORBIDDEN)));
      return;
    }
    await sharingView(root, { who, patient, standing, onAuthLost, canSwitch });
    document.getElementById("current-title")?.after(h("p", { class: "notice notice-info", role: "status", id: "choice-saved" }, "Your choice has been saved. It applies from now."));
  });

  replace(
    root,
    heading,
    banner,
    h("p", {}, "You decide who can see your record. Professionals caring for you see only the parts their role needs, and only with your agreement, except in an emergency. A choice not to share stands until you withdraw it: agreeing to share later does not undo it."),
    h("section", { "aria-labelledby": "current-title" }, h("h2", { id: "current-title" }, "Your choices so far"), current),
    h("section", { "aria-labelledby": "new-title" }, h("h2", { id: "new-title" }, "Make a new choice"), form),
  );
  renderPreview();
  root.dataset.state = "loaded";
  focusHeading(heading);
}
