// Assembles the portals' static files for the worker's assets binding:
// www/ plus the web build of the engine (pkg/web) under /pkg/, into
// worker/public/ (generated, not committed). Stale files are removed.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "worker", "public");
const engine = ["tiergate_wasm.js", "tiergate_wasm_bg.wasm"];

for (const f of engine) {
  if (!existsSync(join(root, "pkg", "web", f))) {
    console.error(`pkg/web/${f} is missing: run \`make wasm\` first`);
    process.exit(1);
  }
}
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "pkg"), { recursive: true });
cpSync(join(root, "www"), out, { recursive: true });
for (const f of engine) cpSync(join(root, "pkg", "web", f), join(out, "pkg", f));
console.log(`portals: www/ + pkg/web -> ${out}`);
