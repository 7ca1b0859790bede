// Replays one conformance vector on an Engine. Runs unchanged in Node, in
// Chromium (served to the page) and in workerd (bundled into the worker):
// it uses nothing but the Engine and plain JS.
//
// `record` is the record file's bytes (a Uint8Array) or text: bodies cross
// the JS/wasm boundary as bytes or strings, never as parsed objects.

/**
 * @param {import("../../../pkg/web/tiergate_wasm.js").Engine} engine
 * @param {{now: string, setting: string | null, holding_organisation?: string | null, viewer: object, consent: object | null}} vector
 * @param {Uint8Array | string} record
 */
export function replay(engine, vector, record) {
  const { viewer, consent, now, setting } = vector;
  const holder = vector.holding_organisation ?? null;
  const redaction = engine.redact(record, viewer, consent, now, setting, holder);
  const decisions = engine.explain(record, viewer, consent, now, setting, holder);
  return {
    outcome: redaction.outcome,
    body: redaction.body,
    summary: redaction.summary,
    decisions,
  };
}
