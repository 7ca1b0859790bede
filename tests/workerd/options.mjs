// Miniflare options for a module worker that imports the web build
// (`pkg/web`) from anywhere under `modulesRoot`: the conformance worker
// here and the benchmark workers in bench/node. Loopback only, and never
// the real `request.cf` from the network.
export function webBuildWorker(scriptPath, modulesRoot) {
  return {
    modules: true,
    scriptPath,
    modulesRoot,
    // The wasm-bindgen glue is an ES module with a .js name (Miniflare
    // treats .js as CommonJS unless told).
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: "2026-04-26",
    host: "127.0.0.1",
    cf: false,
  };
}
