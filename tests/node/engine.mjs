// The nodejs build of the engine (pkg/node, CommonJS, instantiated
// synchronously on require). `make wasm` builds it.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/** @type {typeof import("../../pkg/node/tiergate_wasm.js")} */
const wasm = require("../../pkg/node/tiergate_wasm.js");

export const { Engine } = wasm;
