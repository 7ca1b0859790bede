// Display names for the policy's segments and content lines. The engine
// does not expose the policy's labels to the page yet, so the default
// policy's labels are repeated here for display only: no rule depends on
// them, and an unknown id falls back to a readable form of the id.

export const SEGMENTS = [
  { id: "summary", name: "Summary" },
  { id: "community", name: "Community" },
  { id: "diagnostics", name: "Diagnostics" },
  { id: "hospitals", name: "Hospitals" },
];

/** Content lines in the order of the framework's tables 1-4. */
export const CONTENT = [
  ["demographics", "Demographics"],
  ["allergies", "Allergies"],
  ["medication", "Medication"],
  ["diagnoses", "Diagnoses"],
  ["health_status_prompts", "Health status prompts"],
  ["involved_in_care", "Who else is involved"],
  ["appointments", "Appointments"],
  ["care_package", "Care package"],
  ["care_plans", "Care plans"],
  ["significant_events", "Significant past and current events"],
  ["coded_record", "Coded primary, community and mental health record"],
  ["wider_community_record", "Wider community and mental health record"],
  ["routine_tests", "Routine tests"],
  ["all_tests", "All tests"],
  ["wider_diagnostic_record", "Wider diagnostic record"],
  ["adt", "Admissions, discharges and transfers"],
  ["tci", "Elective admissions (TCI)"],
  ["los_edd", "Length of stay and expected discharge"],
  ["hospital_care_plans", "Hospital care plans"],
  ["discharge_plans", "Discharge plans"],
  ["e_correspondence", "Letters and discharge summaries"],
  ["wider_hospital_record", "Wider hospital record"],
];

const contentIndex = new Map(CONTENT.map(([id], i) => [id, i]));
const contentNames = new Map(CONTENT);

export function segmentName(id) {
  return SEGMENTS.find((s) => s.id === id)?.name ?? humanise(id);
}

export function contentName(id) {
  return contentNames.get(id) ?? humanise(id);
}

/** Sort key of a content line (unknown lines last). */
export function contentOrder(id) {
  return contentIndex.get(id) ?? CONTENT.length;
}

export function segmentOrder(id) {
  const i = SEGMENTS.findIndex((s) => s.id === id);
  return i < 0 ? SEGMENTS.length : i;
}

function humanise(id) {
  const s = String(id ?? "").replace(/[_-]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "Other";
}

/** Table 6 profile names, for the "signed in as" line. */
const PROFILES = {
  "1a": "Hospital specialist",
  "1b": "GP",
  "1c": "Community medical",
  "2a": "Specialist health professional",
  "2b": "Generalist health professional",
  "3a": "Hospital social care",
  "3b": "Community social care",
  "4": "Unregistered professional",
  "5": "Admin and clerical",
  "6": "Urgent care",
  "7": "Extended primary care team",
};

export function profileName(id) {
  return PROFILES[id] ? `${PROFILES[id]} (profile ${id})` : `Profile ${id}`;
}
