// The policy engine in the page: the same wasm build of core the edge
// runs. The page uses it to label what arrived (segment, tier, content
// line) and to check it runs the policy the edge ran; never to decide
// what may be seen (the edge already did).
import init, { Engine } from "/pkg/tiergate_wasm.js";

let ready;

/** The engine with the default policy, loaded once per page. */
export function loadEngine() {
  ready ??= (async () => {
    await init();
    return new Engine();
  })();
  return ready;
}

/** Classification of every entry of a Bundle (text), by "Type/id". */
export function classifyByRef(engine, bundleText) {
  const out = new Map();
  for (const c of engine.classifyAll(bundleText)) {
    if (c.resource_type && c.id) out.set(`${c.resource_type}/${c.id}`, c);
  }
  return out;
}

/**
 * How long a break-glass window lasts under this policy, in minutes, as
 * the engine computes it (never a number copied into the page).
 */
export function breakGlassMinutes(engine, reason) {
  const now = new Date();
  const viewer = {
    user_id: "window-probe",
    name: "window-probe",
    organisation: "window-probe",
    profile: "6",
    purpose: "direct-care",
    training: { completed: "2000-01-01", expires: "2999-12-31" },
    break_glass: { reason, detail: "window length", started: now.toISOString() },
  };
  const empty = JSON.stringify({ resourceType: "Bundle", type: "collection", entry: [] });
  const w = engine.explain(empty, viewer, null, now).summary.break_glass;
  if (!w) return null;
  return Math.round((Date.parse(w.expires) - Date.parse(w.started)) / 60_000);
}
