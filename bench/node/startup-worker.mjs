// Start-up benchmark worker (run by bench/node/startup-workerd.mjs in
// Miniflare): nothing happens at load; GET /init instantiates the web build
// from the compiled module and builds the default-policy Engine, POST
// /engine?n=N compiles the posted policy text N times, GET /noop answers at
// once (the baseline).
import module from "../../pkg/web/tiergate_wasm_bg.wasm";
import { Engine, initSync } from "../../pkg/web/tiergate_wasm.js";

let engine = null;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/init") {
      initSync({ module });
      engine = new Engine();
      return new Response(engine.policyHash());
    }
    if (url.pathname === "/engine") {
      const n = Number(url.searchParams.get("n") ?? "1");
      const text = await request.text();
      for (let i = 0; i < n; i += 1) new Engine(text).free();
      return new Response("ok");
    }
    return new Response("noop");
  },
};
