// A scratch worker for a built module (run in workerd by scripts/scratch.mjs):
// each request instantiates the module afresh, with every function import
// replaced by one that throws and is recorded, so nothing it does can reach
// JavaScript, and a call the module catches is still seen.
//
//   GET /noop              answers at once (a benchmark's baseline)
//   GET /fresh             the new instance's memory; headers: x-globals,
//                          the exported `tiergate.preinit.global.N` values,
//                          and x-tables, the exported tables' lengths
//   GET /run               the same after calling `tiergate_preinit()`;
//                          500 if it failed or called any import
//   GET /run?dump=0        calls it and answers "built" (for timing)
import module from "./module.wasm";

const GLOBAL = "tiergate.preinit.global.";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/noop") return new Response("noop");
    const called = [];
    const imports = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      imports[imp.module] ??= {};
      if (imp.kind === "function") {
        imports[imp.module][imp.name] = () => {
          called.push(imp.name);
          throw new Error(`pre-initialisation called the import ${imp.name}`);
        };
      } else if (imp.kind === "tag") {
        // Not JSTag: an exception the module catches stays the module's own.
        imports[imp.module][imp.name] = new WebAssembly.Tag({ parameters: ["externref"] });
      } else {
        return new Response(`cannot provide the import ${imp.name}`, { status: 500 });
      }
    }
    let instance;
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      return new Response(`instantiation failed: ${e}`, { status: 500 });
    }
    if (url.pathname === "/run") {
      let built;
      try {
        built = instance.exports.tiergate_preinit();
      } catch (e) {
        return new Response(String(e), { status: 500 });
      }
      if (called.length > 0) {
        return new Response(`pre-initialisation called the import ${called[0]}`, { status: 500 });
      }
      if (built !== 1 && built !== true) return new Response("the state did not build", { status: 500 });
      if (url.searchParams.get("dump") === "0") return new Response("built");
    }
    const globals = {};
    const tables = {};
    for (const [name, value] of Object.entries(instance.exports)) {
      if (name.startsWith(GLOBAL)) globals[name.slice(GLOBAL.length)] = String(value.value);
      if (value instanceof WebAssembly.Table) tables[name] = value.length;
    }
    return new Response(new Uint8Array(instance.exports.memory.buffer), {
      headers: { "x-globals": JSON.stringify(globals), "x-tables": JSON.stringify(tables) },
    });
  },
};
