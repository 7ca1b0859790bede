// The shared record view: loads $everything from the edge for the signed-in
// practitioner and shows exactly what came back, organised summary first,
// then community, diagnostics and hospitals, each entry labelled with the
// segment, tier and content line the engine in the page places it in.
// Used by the portal (index.html) and the embeddable view (embed.html).
import { ApiError, errorText, everything } from "../shared/api.js";
import { focusHeading, h, htmlToParagraphs, replace, statusBox } from "../shared/dom.js";
import { classifyByRef, loadEngine } from "../shared/engine.js";
import { describe, nhsNumberOf, personName } from "../shared/fhir.js";
import { ageOn, formatDate, formatNhsNumber, formatTime } from "../shared/format.js";
import { contentName, contentOrder, segmentName, segmentOrder } from "../shared/labels.js";
import { consentPanel } from "./consent.js";

export { errorText, statusBox };

const CONSENT_HEADER = "x-tiergate-consent";
const POLICY_HEADER = "x-tiergate-policy";
const BREAK_GLASS_EXPIRES_HEADER = "x-tiergate-break-glass-expires";
const APPROVAL_HEADER = "x-tiergate-approval";
const APPROVAL_EXPIRES_HEADER = "x-tiergate-approval-expires";

/**
 * The break-glass statement in force for a patient in this tab: one the
 * edge has not answered yet, or one whose window (as the edge stated it)
 * is still open.
 */
export function activeBreakGlass(patientId) {
  try {
    const bg = JSON.parse(sessionStorage.getItem(`tiergate.bg.${patientId}`) ?? "null");
    if (bg && (!bg.expires || Date.parse(bg.expires) > Date.now())) return bg;
  } catch {}
  sessionStorage.removeItem(`tiergate.bg.${patientId}`);
  return null;
}

function saveBreakGlass(patientId, bg) {
  sessionStorage.setItem(`tiergate.bg.${patientId}`, JSON.stringify(bg));
}

/**
 * Shows the record of `patientId` in `root`. `known` is what patient
 * search already returned (a Patient, shown in the banner until the record
 * loads). `onAuthLost` is called when the session is no longer valid.
 */
export async function showRecord(root, { patientId, known = null, onAuthLost = () => {}, headingLevel = 1, focus: focusFirst = true, casesLink = "#/cases" } = {}) {
  let first = true;
  const load = async () => {
    const focus = first ? focusFirst : true;
    first = false;
    replace(root, patientBanner(known, headingLevel), statusBox("loading", "Loading the shared record…"));
    const bg = activeBreakGlass(patientId);
    let engine;
    let res;
    try {
      [engine, res] = await Promise.all([loadEngine(), everything(patientId, { breakGlass: bg ?? undefined })]);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return onAuthLost(e);
      replace(root, patientBanner(known, headingLevel), statusBox("error", errorText(e), () => load()));
      focusHeading(root.querySelector("[role=alert] p"));
      return;
    }
    // The edge says when the window closes; the page keeps that, never its own estimate.
    const expires = bg ? res.headers.get(BREAK_GLASS_EXPIRES_HEADER) : null;
    if (bg && expires && !Number.isNaN(Date.parse(expires)) && expires !== bg.expires) saveBreakGlass(patientId, { ...bg, expires });
    render(engine, res, bg && expires ? { ...bg, expires } : bg, focus);
  };

  const render = (engine, res, bg, focus) => {
    const bundle = res.body && typeof res.body === "object" ? res.body : {};
    const entries = Array.isArray(bundle.entry) ? bundle.entry.map((e) => e?.resource).filter((r) => r && r.resourceType) : [];
    const patient = entries.find((r) => r.resourceType === "Patient" && (r.id === patientId || !r.id)) ?? null;
    let classes;
    try {
      classes = classifyByRef(engine, res.text);
    } catch {
      classes = new Map();
    }
    const consentNeeded = needsConsent(res, patient, bg);
    const banner = patientBanner(patient ?? known, headingLevel, !!patient);
    const parts = [banner, policyCheck(engine, res)];
    if (bg) parts.push(breakGlassNotice(bg, casesLink));
    const approval = approvalNotice(res);
    if (approval) parts.push(approval);
    if (consentNeeded) {
      parts.push(
        consentPanel({
          patientId,
          engine,
          anyShown: entries.length > 0,
          onConsentRecorded: () => load(),
          onBreakGlass: (statement) => {
            // Opened by the edge on the next record request, which states its end.
            saveBreakGlass(patientId, { ...statement, requested: new Date().toISOString() });
            return load();
          },
          onAuthLost,
        }),
      );
    }
    parts.push(recordBody(entries, classes, consentNeeded));
    replace(root, ...parts);
    root.setAttribute("data-patient", patientId);
    root.setAttribute("data-state", "loaded");
    if (focus) focusHeading(root.querySelector(".patient-banner h1, .patient-banner h2"));
  };

  await load();
}

/**
 * Whether to offer consent or break glass: the edge says so with
 * `x-tiergate-consent: required`. Until every edge sends that header, a
 * record without even its demographics (which every profile reaches) is
 * read the same way.
 */
function needsConsent(res, patient, bg) {
  const header = res.headers.get(CONSENT_HEADER);
  if (header !== null) return header.toLowerCase() === "required";
  return !patient && !bg;
}

/**
 * Part of the record (Community tier 3 in the framework's policy) is
 * shared case by case (7.2): the edge says when an approval from the
 * privacy officer would show more, or when the one in use ends. Never
 * what is behind it.
 */
function approvalNotice(res) {
  const until = res.headers.get(APPROVAL_EXPIRES_HEADER);
  if (until && !Number.isNaN(Date.parse(until))) {
    return h(
      "p",
      { class: "notice notice-info", id: "approval-in-use", "data-expires": until },
      h("strong", {}, "Individual approval in use. "),
      `Your privacy officer approved wider access to this patient's record for you until ${formatTime(until)} on ${formatDate(until)}. Each access is recorded and the patient can see it.`,
    );
  }
  if ((res.headers.get(APPROVAL_HEADER) ?? "").toLowerCase() !== "required") return null;
  return h(
    "p",
    { class: "notice notice-info", id: "approval-required" },
    h("strong", {}, "Some of this record needs an individual approval. "),
    "Wider community information is shared case by case under information governance (framework 7.2). If your care of this patient needs it, ask your privacy officer to approve access for you.",
  );
}

function policyCheck(engine, res) {
  const edge = res.headers.get(POLICY_HEADER);
  const page = engine.policyHash();
  if (edge && edge === page) {
    return h("p", { class: "policy-ok", "data-policy": page }, "Labels from policy ", h("code", {}, page.slice(0, 19)), " (the same policy the service applied).");
  }
  return h(
    "div",
    { class: "notice notice-warning", role: "alert", "data-policy-mismatch": "" },
    h("p", {}, h("strong", {}, "Policy mismatch. "), "The service applied a different sharing policy from the one this page uses to label entries, so segment and tier labels may be wrong. Reload the page; if this persists, report it."),
  );
}

function breakGlassNotice(bg, casesLink) {
  const ends = bg.expires
    ? [h("strong", { "data-expires": bg.expires }, `Access ends at ${formatTime(bg.expires)} on ${formatDate(bg.expires)}`), " (as the service recorded it)."]
    : [h("strong", {}, "The service did not state when this access ends."), " Ask your information governance team."];
  return h(
    "section",
    { class: "notice notice-danger", "aria-labelledby": "bg-active-title", "data-break-glass": bg.reason },
    h("h2", { id: "bg-active-title" }, "Emergency access (break glass) in use"),
    h("p", {}, `Reason: ${bg.display ?? bg.reason}. `, bg.detail ? `Details: ${bg.detail}` : ""),
    h("p", {}, ...ends, " This access is recorded and will be investigated."),
    h(
      "p",
      { class: "bg-explain", "data-explanation-required": "" },
      h("strong", {}, "You must record an explanation. "),
      "Say why you needed this access and what you used it for: ",
      h("a", { href: casesLink, id: "bg-explain-link" }, "record an explanation in My break-glass cases"),
      ".",
    ),
  );
}

/** Name, NHS number, date of birth and age, gender, address: the first thing a practitioner checks. */
export function patientBanner(p, level = 1, fromRecord = false) {
  const heading = h(`h${level}`, { class: "patient-name" }, p ? personName(p) || "Patient" : "Patient record");
  const banner = h("section", { class: "patient-banner", "aria-label": "Patient details" }, heading);
  if (!p) return banner;
  const age = ageOn(p.birthDate);
  const items = [
    ["NHS number", formatNhsNumber(nhsNumberOf(p))],
    ["Born", p.birthDate ? `${formatDate(p.birthDate)}${age !== null ? ` (${age} years)` : ""}` : ""],
    ["Gender", p.gender ? p.gender[0].toUpperCase() + p.gender.slice(1) : ""],
  ].filter(([, v]) => v);
  banner.append(h("dl", { class: "banner-facts" }, items.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { "data-field": k }, v)))));
  if (!fromRecord) banner.append(h("p", { class: "hint" }, "From patient search."));
  return banner;
}

/** Placement chips: "Summary · tier 2 · Allergies". */
function placementLabel(c) {
  const ps = c?.placements ?? [];
  if (!ps.length) return null;
  return h(
    "ul",
    { class: "placements", "aria-label": "Where this sits in the shared record" },
    ps.map((p) => h("li", { class: `chip seg-${p.segment}`, "data-segment": p.segment, "data-tier": p.tier }, `${segmentName(p.segment)} · tier ${p.tier} · ${contentName(p.content)}`)),
  );
}

function entryCard(r, c, level) {
  const v = describe(r);
  const ref = `${r.resourceType}/${r.id ?? ""}`;
  const titleId = `e-${r.resourceType}-${r.id ?? Math.random().toString(36).slice(2)}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const card = h(
    "article",
    { class: "entry", "data-ref": ref, "data-type": r.resourceType, "aria-labelledby": titleId },
    h(`h${level}`, { id: titleId, class: "entry-title" }, v.title),
    h("p", { class: "entry-meta" }, v.date ? h("span", { class: "entry-date" }, v.date) : null, v.status ? h("span", { class: "entry-status" }, v.status) : null, h("span", { class: "entry-kind" }, kindName(r.resourceType))),
    placementLabel(c),
  );
  if (v.details.length) card.append(h("dl", { class: "details" }, v.details.map(([k, val]) => h("div", {}, h("dt", {}, k), h("dd", {}, val)))));
  for (const n of v.notes) card.append(h("p", { class: "note" }, n));
  for (const s of v.narrative) {
    const paras = htmlToParagraphs(s.html);
    if (!paras.length && !s.title) continue;
    card.append(h("div", { class: "narrative" }, s.title ? h(`h${Math.min(level + 1, 6)}`, {}, s.title) : null, paras.map((t) => h("p", {}, t))));
  }
  for (const a of v.attachments) card.append(attachmentView(a, level));
  return card;
}

/** A letter or summary: inline text shown as text; a stored file is named, not fetched. */
function attachmentView(a, level) {
  if (a.inline) {
    const paras = a.inline.html ? htmlToParagraphs(a.inline.text) : a.inline.text.split(/\n{2,}/).map((t) => t.trim()).filter(Boolean);
    return h("details", { class: "letter", open: true }, h("summary", {}, `Read: ${a.title}`), h("div", { class: "letter-text" }, paras.map((t) => h("p", {}, t))));
  }
  const kind = a.type === "application/pdf" ? "PDF document" : a.type || "document";
  return h("p", { class: "attachment" }, `${a.title} (${kind}) is held by the sending organisation's document store and is not shown here.`);
}

const KINDS = {
  AllergyIntolerance: "Allergy",
  MedicationStatement: "Medication",
  MedicationRequest: "Prescription",
  Condition: "Diagnosis",
  Flag: "Alert",
  CareTeam: "Care team",
  RelatedPerson: "Related person",
  ServiceRequest: "Referral",
  CarePlan: "Plan",
  DocumentReference: "Document",
  Composition: "Document",
  DiagnosticReport: "Report",
  Observation: "Observation",
  Encounter: "Encounter",
  Practitioner: "Practitioner",
  Organization: "Organisation",
};
const kindName = (t) => KINDS[t] ?? t.replace(/([a-z])([A-Z])/g, "$1 $2");

/** The whole record body: a contents list, then each segment that has anything, then referenced directory entries. */
function recordBody(entries, classes, consentNeeded) {
  const wrap = h("div", { class: "record", "data-entries": entries.length });
  if (!entries.length) {
    wrap.append(
      statusBox(
        "empty",
        consentNeeded ? "Nothing from this record is shown until consent is recorded or emergency access is used." : "No entries of this record are shared with you.",
      ),
    );
    return wrap;
  }
  // Group: segment -> content line -> entries; entries with no placement
  // (people, organisations, provenance) go last.
  const bySegment = new Map();
  const other = [];
  for (const r of entries) {
    const c = classes.get(`${r.resourceType}/${r.id}`);
    const first = c?.placements?.slice().sort((a, b) => segmentOrder(a.segment) - segmentOrder(b.segment) || contentOrder(a.content) - contentOrder(b.content))[0];
    if (!first) {
      other.push([r, c]);
      continue;
    }
    if (!bySegment.has(first.segment)) bySegment.set(first.segment, new Map());
    const lines = bySegment.get(first.segment);
    if (!lines.has(first.content)) lines.set(first.content, []);
    lines.get(first.content).push([r, c]);
  }
  const segs = [...bySegment.keys()].sort((a, b) => segmentOrder(a) - segmentOrder(b));
  const toc = h("nav", { class: "toc", "aria-label": "Record sections" }, h("ul", {}, segs.map((s) => h("li", {}, h("a", { href: `#seg-${s}` }, segmentName(s)))), other.length ? h("li", {}, h("a", { href: "#seg-referenced" }, "People and organisations")) : null));
  wrap.append(toc);
  for (const s of segs) {
    const sec = h("section", { class: `segment seg-${s}`, id: `seg-${s}`, "aria-labelledby": `seg-${s}-h`, "data-segment": s }, h("h2", { id: `seg-${s}-h` }, segmentName(s)));
    const lines = [...bySegment.get(s).entries()].sort(([a], [b]) => contentOrder(a) - contentOrder(b));
    for (const [content, list] of lines) {
      const id = `line-${content}`;
      sec.append(h("section", { class: "content-line", "aria-labelledby": id, "data-content": content }, h("h3", { id }, contentName(content), h("span", { class: "count" }, ` (${list.length})`)), list.map(([r, c]) => entryCard(r, c, 4))));
    }
    wrap.append(sec);
  }
  if (other.length) {
    wrap.append(
      h(
        "section",
        { class: "segment seg-referenced", id: "seg-referenced", "aria-labelledby": "seg-referenced-h" },
        h("h2", { id: "seg-referenced-h" }, "People and organisations"),
        h("p", { class: "hint" }, "Named by the entries above."),
        h("div", { class: "directory" }, other.map(([r, c]) => entryCard(r, c, 3))),
      ),
    );
  }
  return wrap;
}
