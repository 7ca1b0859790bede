// Conformance worker: the web build of the engine in workerd. The .wasm is
// imported as a compiled module (workerd compiles it ahead of time and does
// not allow compiling bytes at run time) and instantiated with `initSync`;
// the Engine is built once per isolate.
//
// POST /replay with a JSON vector whose `record` is the record file's bytes
// in base64; answers {outcome, body, summary, decisions} as JSON, or 500
// with the error's name and message.
import module from "../../pkg/web/tiergate_wasm_bg.wasm";
import { Engine, initSync } from "../../pkg/web/tiergate_wasm.js";
import { replay } from "../node/lib/replay.mjs";

initSync({ module });
const engine = new Engine();

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/policy-hash") {
      return new Response(engine.policyHash());
    }
    if (request.method !== "POST" || url.pathname !== "/replay") {
      return new Response("not found", { status: 404 });
    }
    try {
      const vector = await request.json();
      const out = replay(engine, vector, fromBase64(vector.record));
      return Response.json(out);
    } catch (e) {
      return Response.json({ error: `${e?.name}: ${e?.message}` }, { status: 500 });
    }
  },
};
