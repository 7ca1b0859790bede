// Node tooling's use of the nodejs build, checked by `tsc --noEmit`.
import { Engine, type Decisions } from "../../../pkg/node/tiergate_wasm.js";

export function audit(record: Uint8Array, viewer: string, now: string): Decisions {
  const engine = new Engine(undefined);
  try {
    return engine.explain(record, viewer, undefined, now);
  } finally {
    engine.free();
  }
}

export function withheldNow(record: string, viewer: object): number {
  // Freed at the end of the scope (`[Symbol.dispose]`).
  using engine = new Engine();
  return engine.redact(record, viewer).summary.withheld;
}
