// A tiny static file server for the browser suite: 127.0.0.1 only, an
// ephemeral port, GET/HEAD only, and only files under the listed folders of
// the repository. Serves .wasm as application/wasm so the glue can use
// WebAssembly.instantiateStreaming.
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
};

/**
 * @param {string} root repository root
 * @param {string[]} folders URL prefixes that may be served, e.g. "/pkg/web/"
 * @returns {Promise<{origin: string, close: () => Promise<void>}>}
 */
export async function serve(root, folders) {
  const server = createServer((req, res) => {
    let path = "";
    try {
      path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://127.0.0.1").pathname));
    } catch {
      // A malformed URL serves nothing.
    }
    const allowed = folders.some((f) => path.startsWith(f)) && !path.split(sep).includes("..");
    if ((req.method !== "GET" && req.method !== "HEAD") || !allowed) {
      res.writeHead(req.method === "GET" || req.method === "HEAD" ? 404 : 405).end();
      return;
    }
    const file = join(root, path);
    let size;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": types[extname(file)] ?? "application/octet-stream",
      "content-length": size,
      "cache-control": "no-store",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
