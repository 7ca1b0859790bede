// `wrangler dev --env demo` (make demo) serves the demo build that `make
// worker` and `make portal` made; this only checks that it is there.
import { existsSync } from "node:fs";

const missing = ["build/index.js", "build/index_bg.wasm", "public/practitioner/index.html"].filter((f) => !existsSync(f));
if (missing.length) {
  console.error(`the demo build is missing (${missing.join(", ")}): run \`make worker portal\``);
  process.exit(1);
}
