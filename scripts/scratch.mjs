// Miniflare options for scripts/scratch-worker.mjs over a built module
// (bytes): used by scripts/preinit.mjs and bench/node/startup-edge.mjs.
import { readFileSync } from "node:fs";

const worker = readFileSync(new URL("./scratch-worker.mjs", import.meta.url), "utf8");

export function scratchWorkerd(wasm) {
  return {
    modules: [
      { type: "ESModule", path: "scratch/worker.mjs", contents: worker },
      { type: "CompiledWasm", path: "scratch/module.wasm", contents: wasm },
    ],
    compatibilityDate: "2026-04-26",
    host: "127.0.0.1",
    cf: false,
  };
}
