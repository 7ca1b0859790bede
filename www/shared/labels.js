// Display names for the policy's segments, content lines and profiles, in
// the policy document's order, from the engine in the page
// (`Engine.policyInfo()`): nothing of the policy is repeated here. The
// module waits (bounded) for the engine so that importers can use the
// names synchronously; if the engine cannot load, every id is shown in a
// readable form instead. No rule depends on a label.
import { loadEngine, policyInfo } from "./engine.js";

const WAIT_MS = 10_000;

let info = { segments: [], profiles: [], contentLines: [] };
try {
  info = policyInfo(
    await Promise.race([loadEngine(), new Promise((_, reject) => setTimeout(() => reject(new Error("engine load timed out")), WAIT_MS))]),
  );
} catch {
  // Readable ids below; the page reports the engine's failure where it needs it.
}

/** Segments in policy order: `{id, name}`. */
export const SEGMENTS = info.segments.map(({ id, name }) => ({ id, name }));

/** Content lines in policy order (the framework's tables 1-4): `[id, label]`. */
export const CONTENT = info.contentLines.map((c) => [c.id, c.label]);

const segmentIndex = new Map(SEGMENTS.map((s, i) => [s.id, i]));
const contentIndex = new Map(CONTENT.map(([id], i) => [id, i]));
const contentNames = new Map(CONTENT);
const profiles = new Map(info.profiles.map((p) => [p.id, p]));

export function segmentName(id) {
  return SEGMENTS[segmentIndex.get(id)]?.name ?? humanise(id);
}

export function contentName(id) {
  return contentNames.get(id) ?? humanise(id);
}

/** Sort key of a content line (unknown lines last). */
export function contentOrder(id) {
  return contentIndex.get(id) ?? CONTENT.length;
}

/** Sort key of a segment (unknown segments last). */
export function segmentOrder(id) {
  return segmentIndex.get(id) ?? SEGMENTS.length;
}

/** A profile as "GP (medical, profile 1b)", for "signed in as" lines and lists; unknown ids as "Profile X". */
export function profileName(id) {
  const p = profiles.get(id);
  if (!p) return `Profile ${id}`;
  // The group only when the name does not already say it ("Hospital (social care professional, profile 3a)").
  const group = p.group && !p.name.toLowerCase().includes(p.group.toLowerCase()) ? `${p.group.toLowerCase()}, ` : "";
  return `${p.name} (${group}profile ${id})`;
}

function humanise(id) {
  const s = String(id ?? "").replace(/[_-]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : "Other";
}
