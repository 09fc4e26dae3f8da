// Serves the preview page for `make preview` and the browser test: the page (this folder) at /,
// the built npm package (target/npm/kubevirt-instancetype, from `make npm`) at /pkg/, and the
// bundled common-instancetypes (data/common-instancetypes) at /data/. Listens on 127.0.0.1 only.
//
//   node e2e-tests/preview/server.mjs [--port 8080]        (NPM_OUT overrides target/npm)

import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve as resolvePath, sep } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = resolvePath(fileURLToPath(new URL(".", import.meta.url)));
const ROOT = join(HERE, "..", "..");
const NPM_OUT = process.env.NPM_OUT ?? join(ROOT, "target", "npm");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
};

/** URL prefix → folder. The first match wins. */
const MOUNTS = [
  ["/pkg/", join(NPM_OUT, "kubevirt-instancetype")],
  ["/data/", join(ROOT, "data", "common-instancetypes")],
  ["/", HERE],
];
const PAGE_FILES = new Set(["/", "/index.html", "/app.js", "/style.css"]);

/** The file a request path names, or null (outside every mount, or not a page file). */
function resolve(pathname) {
  if (pathname === "/") pathname = "/index.html";
  for (const [prefix, base] of MOUNTS) {
    if (!pathname.startsWith(prefix)) continue;
    if (prefix === "/" && !PAGE_FILES.has(pathname)) return null;
    const file = normalize(join(base, decodeURIComponent(pathname.slice(prefix.length))));
    return file.startsWith(base + sep) ? file : null;
  }
  return null;
}

/** Starts the server; resolves to `{ url, close() }`. Port 0 picks a free port. */
export function startServer({ port = 8080, host = "127.0.0.1" } = {}) {
  const server = createServer(async (request, response) => {
    const { pathname } = new URL(request.url ?? "/", "http://localhost");
    const file = resolve(pathname);
    try {
      if (!file || request.method !== "GET" || !(await stat(file)).isFile()) throw new Error("not found");
      const body = await readFile(file);
      response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      response.end(body);
    } catch {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end(`not found: ${pathname}\n`);
    }
  });
  return new Promise((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolvePromise({
        url: `http://${host}:${address.port}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const index = process.argv.indexOf("--port");
  const port = index > 0 ? Number(process.argv[index + 1]) : 8080;
  const { url } = await startServer({ port });
  console.log(`kubevirt-instancetype preview: ${url.replace("127.0.0.1", "localhost")} (Ctrl-C to stop)`);
}
