// Throughput benchmark worker (run by bench/node/throughput-workerd.mjs in
// Miniflare). POST /load?name= keeps a record in the isolate; GET
// /redact?name=&profile=&n= redacts it n times with full consent for RVY;
// GET /floor?name=&n= runs the serde_json parse-and-serialise floor n
// times; GET /noop answers at once (the baseline).
import module from "../../pkg/web/tiergate_wasm_bg.wasm";
import { Engine, initSync } from "../../pkg/web/tiergate_wasm.js";

initSync({ module });
const engine = new Engine();
const records = new Map();
const consent = {
  directives: [{ id: "c", kind: "permit", recorded: "2026-01-01", actors: { organisations: ["RVY"] } }],
};
const viewer = (profile) => ({
  user_id: "bench", organisation: "RVY", profile, purpose: "direct-care", training: { expires: "2099-01-01" },
});

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const name = url.searchParams.get("name");
    const n = Number(url.searchParams.get("n") ?? "1");
    if (url.pathname === "/load") {
      records.set(name, new Uint8Array(await request.arrayBuffer()));
      return new Response("ok");
    }
    const bytes = records.get(name);
    if (url.pathname === "/redact" && bytes) {
      const v = viewer(url.searchParams.get("profile"));
      let outcome = "";
      for (let i = 0; i < n; i += 1) {
        outcome = engine.redact(bytes, v, consent, "2026-11-25T12:00:00Z", "primary_care").outcome;
      }
      return new Response(outcome);
    }
    if (url.pathname === "/floor" && bytes) {
      let length = 0;
      for (let i = 0; i < n; i += 1) length = engine.__serdeRoundTrip(bytes).length;
      return new Response(String(length));
    }
    if (url.pathname === "/noop") return new Response("noop");
    return new Response("not found", { status: 404 });
  },
};
