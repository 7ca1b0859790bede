// Plain-language views of FHIR R4 resources for display: a title, a date,
// label/value details and readable text. Pure functions over parsed JSON,
// no DOM; every value is returned as text for the caller to put in text
// nodes. Nothing here filters: what arrives from the edge is what shows.
import { formatDate, formatDateTime, formatName, formatNhsNumber, formatPeriod, formatQuantity } from "./format.js";
import { NHS_NUMBER_SYSTEM } from "./api.js";

/** The display text of a CodeableConcept. */
export function conceptText(cc) {
  if (!cc || typeof cc !== "object") return "";
  if (typeof cc.text === "string" && cc.text) return cc.text;
  const c = Array.isArray(cc.coding) ? cc.coding.find((x) => x && x.display) : null;
  return c?.display ?? "";
}

const concepts = (list) => (Array.isArray(list) ? list.map(conceptText).filter(Boolean).join(", ") : conceptText(list));
const refText = (r) => (r && typeof r === "object" ? (r.display ?? "") : "");
const refs = (list) => (Array.isArray(list) ? list.map(refText).filter(Boolean).join(", ") : refText(list));
const sentence = (s) => (typeof s === "string" && s ? s[0].toUpperCase() + s.slice(1).replace(/-/g, " ") : "");

/** The NHS number of a Patient, digits only. */
export function nhsNumberOf(patient) {
  const id = Array.isArray(patient?.identifier) ? patient.identifier.find((i) => i?.system === NHS_NUMBER_SYSTEM) : null;
  return id?.value ?? "";
}

/** The official (else first) name of a Patient or person. */
export function personName(res) {
  const names = Array.isArray(res?.name) ? res.name : [];
  const n = names.find((x) => x?.use === "official") ?? names[0];
  return formatName(n);
}

export function addressText(a) {
  if (!a || typeof a !== "object") return "";
  if (a.text) return a.text;
  return [...(Array.isArray(a.line) ? a.line : []), a.city, a.district, a.postalCode].filter(Boolean).join(", ");
}

function observationValue(o) {
  if (o.valueQuantity) return formatQuantity(o.valueQuantity);
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (typeof o.valueString === "string") return o.valueString;
  if (typeof o.valueInteger === "number") return String(o.valueInteger);
  if (typeof o.valueBoolean === "boolean") return o.valueBoolean ? "Yes" : "No";
  if (o.valueDateTime) return formatDateTime(o.valueDateTime);
  return "";
}

/** Readable text of an attachment, if it is inline text (never fetched, never HTML). */
export function attachmentText(att) {
  if (!att || typeof att.data !== "string") return null;
  const type = String(att.contentType ?? "").toLowerCase();
  if (!type.startsWith("text/plain") && !type.startsWith("text/html")) return null;
  let text;
  try {
    const bin = atob(att.data);
    text = new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  return { html: type.startsWith("text/html"), text };
}

/**
 * A display view of one resource:
 * {title, date, status, details: [[label, value]], notes: [text],
 *  narrative: [{title, html}], attachments: [{title, type, text?, html?}]}
 */
export function describe(r) {
  const v = { title: "", date: "", status: "", details: [], notes: [], narrative: [], attachments: [] };
  const d = (label, value) => {
    if (value !== undefined && value !== null && value !== "") v.details.push([label, String(value)]);
  };
  if (Array.isArray(r.note)) v.notes.push(...r.note.map((n) => n?.text).filter(Boolean));
  switch (r.resourceType) {
    case "Patient":
      v.title = personName(r);
      d("NHS number", formatNhsNumber(nhsNumberOf(r)));
      d("Date of birth", formatDate(r.birthDate));
      d("Gender", sentence(r.gender));
      d("Address", addressText(Array.isArray(r.address) ? r.address[0] : null));
      d("GP", refs(r.generalPractitioner));
      break;
    case "AllergyIntolerance":
      v.title = conceptText(r.code);
      v.date = formatDate(r.recordedDate ?? r.onsetDateTime);
      v.status = conceptText(r.clinicalStatus);
      d("Reaction", Array.isArray(r.reaction) ? r.reaction.flatMap((x) => (x?.manifestation ?? []).map(conceptText)).filter(Boolean).join(", ") : "");
      d("Severity", Array.isArray(r.reaction) ? sentence(r.reaction[0]?.severity) : "");
      d("Criticality", sentence(r.criticality));
      d("Verification", conceptText(r.verificationStatus));
      break;
    case "MedicationStatement":
    case "MedicationRequest":
      v.title = conceptText(r.medicationCodeableConcept) || refText(r.medicationReference);
      v.date = r.resourceType === "MedicationRequest" ? formatDate(r.authoredOn) : formatPeriod(r.effectivePeriod) || formatDate(r.effectiveDateTime);
      v.status = sentence(r.status);
      d("Dose", (r.dosage ?? r.dosageInstruction ?? []).map((x) => x?.text).filter(Boolean).join("; "));
      d("Prescriber", refText(r.requester) || refText(r.informationSource));
      break;
    case "Condition":
      v.title = conceptText(r.code);
      v.date = formatDate(r.onsetDateTime ?? r.recordedDate);
      v.status = conceptText(r.clinicalStatus);
      d("Category", concepts(r.category));
      break;
    case "Flag":
      v.title = conceptText(r.code);
      v.date = formatPeriod(r.period);
      v.status = sentence(r.status);
      d("Raised by", refText(r.author));
      break;
    case "CareTeam":
      v.title = r.name || "Care team";
      v.status = sentence(r.status);
      for (const p of Array.isArray(r.participant) ? r.participant : []) {
        d(concepts(p?.role) || "Member", refText(p?.member) || refText(p?.onBehalfOf));
      }
      d("Managed by", refs(r.managingOrganization));
      break;
    case "RelatedPerson":
      v.title = personName(r);
      d("Relationship", concepts(r.relationship));
      d("Contact", (r.telecom ?? []).map((t) => t?.value).filter(Boolean).join(", "));
      break;
    case "Appointment":
      v.title = r.description || concepts(r.serviceType) || "Appointment";
      v.date = formatDateTime(r.start);
      v.status = sentence(r.status);
      d("Service", concepts(r.serviceType));
      d("Ends", formatDateTime(r.end));
      break;
    case "ServiceRequest":
      v.title = conceptText(r.code) || "Referral or request";
      v.date = formatPeriod(r.occurrencePeriod) || formatDate(r.authoredOn);
      v.status = sentence(r.status);
      d("Category", concepts(r.category));
      d("Requested by", refText(r.requester));
      break;
    case "CarePlan":
      v.title = r.title || concepts(r.category) || "Care plan";
      v.date = formatPeriod(r.period);
      v.status = sentence(r.status);
      if (r.description) v.notes.unshift(r.description);
      d("Category", concepts(r.category));
      d("Author", refText(r.author));
      break;
    case "Goal":
      v.title = conceptText(r.description) || "Goal";
      v.date = formatDate(r.startDate);
      v.status = sentence(r.lifecycleStatus);
      break;
    case "Encounter": {
      v.title = concepts(r.type) || conceptText(r.class) || r.class?.display || "Encounter";
      v.date = formatPeriod(r.period);
      v.status = sentence(r.status);
      d("Reason", concepts(r.reasonCode));
      d("Where", refText(r.serviceProvider));
      if (r.length?.value !== undefined) d("Length of stay", formatQuantity(r.length));
      const edd = (r.extension ?? []).find((x) => String(x?.url).endsWith("expected-discharge-date"));
      if (edd) d("Expected discharge", formatDate(edd.valueDate ?? edd.valueDateTime));
      break;
    }
    case "Observation": {
      v.title = conceptText(r.code);
      v.date = formatDateTime(r.effectiveDateTime) || formatPeriod(r.effectivePeriod);
      v.status = sentence(r.status);
      d("Result", observationValue(r));
      for (const c of Array.isArray(r.component) ? r.component : []) d(conceptText(c?.code) || "Component", observationValue(c ?? {}));
      d("By", refs(r.performer));
      break;
    }
    case "DiagnosticReport":
      v.title = conceptText(r.code);
      v.date = formatDateTime(r.effectiveDateTime) || formatDateTime(r.issued);
      v.status = sentence(r.status);
      if (r.conclusion) v.notes.unshift(r.conclusion);
      d("By", refs(r.performer));
      break;
    case "Procedure":
      v.title = conceptText(r.code);
      v.date = formatDateTime(r.performedDateTime) || formatPeriod(r.performedPeriod);
      v.status = sentence(r.status);
      d("By", Array.isArray(r.performer) ? r.performer.map((p) => refText(p?.actor)).filter(Boolean).join(", ") : "");
      break;
    case "DocumentReference":
      v.title = conceptText(r.type) || r.description || "Document";
      v.date = formatDateTime(r.date);
      v.status = sentence(r.status);
      if (r.description) v.notes.unshift(r.description);
      d("From", refs(r.author) || refText(r.custodian));
      for (const c of Array.isArray(r.content) ? r.content : []) {
        const att = c?.attachment ?? {};
        v.attachments.push({ title: att.title || "Document", type: att.contentType || "", inline: attachmentText(att) });
      }
      break;
    case "Composition":
      v.title = r.title || conceptText(r.type) || "Document";
      v.date = formatDateTime(r.date);
      v.status = sentence(r.status);
      d("Type", conceptText(r.type));
      d("From", refs(r.author));
      for (const s of Array.isArray(r.section) ? r.section : []) {
        v.narrative.push({ title: s?.title || conceptText(s?.code) || "", html: s?.text?.div ?? "" });
      }
      break;
    case "Practitioner":
      v.title = personName(r) || "Practitioner";
      break;
    case "Organization": {
      v.title = r.name || "Organisation";
      const ods = (r.identifier ?? []).find((i) => String(i?.system).endsWith("ods-organization-code"));
      d("ODS code", ods?.value);
      d("Type", concepts(r.type));
      break;
    }
    case "Provenance":
      v.title = conceptText(r.activity) || "Provenance";
      v.date = formatDateTime(r.recorded);
      d("By", Array.isArray(r.agent) ? r.agent.map((a) => refText(a?.who)).filter(Boolean).join(", ") : "");
      break;
    default:
      v.title = conceptText(r.code) || conceptText(r.type) || r.title || r.name || r.resourceType;
  }
  if (!v.title) v.title = r.resourceType;
  if (r.text?.div && r.resourceType !== "Patient" && !v.narrative.length && !v.notes.length) v.narrative.push({ title: "", html: r.text.div });
  return v;
}
