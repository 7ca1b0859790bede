// Prints the worker's .wasm size, raw and gzip (level 9).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const wasm = readFileSync(new URL("../build/index_bg.wasm", import.meta.url));
const gz = gzipSync(wasm, { level: 9 }).length;
console.log(`worker/build/index_bg.wasm: ${wasm.length} bytes raw, ${gz} bytes gzip`);
