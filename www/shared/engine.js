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

const infos = new WeakMap();

/**
 * The policy's names for display and its break-glass rules, read from the
 * document the engine compiled (`Engine.policyInfo()`): `{segments,
 * profiles, contentLines, breakGlass: {reasons, maxMinutes}}`. Parsed once
 * per engine; never a copy of the policy kept in the page.
 */
export function policyInfo(engine) {
  let info = infos.get(engine);
  if (!info) {
    info = JSON.parse(engine.policyInfo());
    infos.set(engine, info);
  }
  return info;
}
