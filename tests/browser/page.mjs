// The browser side of the Chromium suite: loads the web build the way a
// portal does (`await init()` fetches the .wasm next to the glue) and exposes
// `replayVector` and `replayBytes` for the Node side to call through
// Playwright.
import init, { Engine } from "/pkg/web/tiergate_wasm.js";
import { replay } from "/tests/node/lib/replay.mjs";

const status = document.getElementById("status");
try {
  await init();
  const engine = new Engine();
  window.tiergate = {
    policyHash: () => engine.policyHash(),
    /** Fetches the record's bytes from the server and replays the vector. */
    async replayVector(vector, recordUrl) {
      const res = await fetch(recordUrl);
      if (!res.ok) throw new Error(`GET ${recordUrl}: ${res.status}`);
      const record = new Uint8Array(await res.arrayBuffer());
      return replay(engine, vector, record);
    },
    /** Replays a vector whose record comes as base64 (a hostile case's bytes). */
    replayBytes(vector, base64) {
      const binary = atob(base64);
      const record = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      return replay(engine, vector, record);
    },
  };
  status.textContent = "ready";
} catch (e) {
  status.textContent = `failed: ${e}`;
  throw e;
}
