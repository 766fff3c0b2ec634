/**
 * The web console's static files at `/ui`: public (no secrets in them — every piece of data comes
 * from API calls the page makes with the key the user typed), read once at start into memory, and
 * served with a Content-Security-Policy that allows this origin only, so the page can load nothing
 * from elsewhere and runs no inline script. The UI is plain ES modules (ui/): no bundler, no build
 * step. Its two libraries, Preact and htm, are served from the engine's own node_modules (resolved
 * like any import), so the console needs no network and no CDN; Preact's hooks module imports the
 * bare specifier "preact", rewritten to the served path because a browser without an import map
 * (which would be an inline script) cannot resolve it.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** self only; `connect-src 'self'` is what lets the page call the API and the event stream */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface StaticFile {
  contentType: string;
  body: Buffer;
}

/** ui/ beside the engine's sources (engine/console → ../../ui) or, compiled, beside dist/ (dist/engine/console → ../../../ui). */
function consoleDirectory(): string | undefined {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return [resolve(here, "../../ui"), resolve(here, "../../../ui")].find((directory) => existsSync(join(directory, "index.html")));
}

/** The served libraries: URL path under /ui/vendor/ → module specifier. */
const VENDORED: Record<string, string> = {
  "preact.js": "preact",
  "hooks.js": "preact/hooks",
  "htm.js": "htm",
};

function loadFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const directory = consoleDirectory();
  if (directory === undefined) return files;
  for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const contentType = CONTENT_TYPES[extname(entry.name)];
    if (contentType === undefined) continue;
    files.set(`/ui/${relative(directory, path).split(sep).join("/")}`, { contentType, body: readFileSync(path) });
  }
  for (const [name, specifier] of Object.entries(VENDORED)) {
    const source = readFileSync(fileURLToPath(import.meta.resolve(specifier)), "utf8").replace(/from\s*(["'])preact\1/g, 'from"./preact.js"');
    files.set(`/ui/vendor/${name}`, { contentType: CONTENT_TYPES[".js"]!, body: Buffer.from(source) });
  }
  return files;
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Serves `/ui` and everything under it; returns false for any other path. */
export function createConsoleHandler(): ConsoleHandler {
  let files: Map<string, StaticFile> | undefined;
  return (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0]!;
    if (pathname !== "/ui" && !pathname.startsWith("/ui/")) return false;
    req.resume();
    if (pathname === "/ui") {
      res.writeHead(308, { location: "/ui/" }).end();
      return true;
    }
    files ??= loadFiles();
    const file = files.get(pathname === "/ui/" ? "/ui/index.html" : pathname);
    const headers = {
      "content-security-policy": CONSOLE_CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { ...headers, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("use GET\n");
      return true;
    }
    if (file === undefined) {
      res.writeHead(404, { ...headers, "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return true;
    }
    res.writeHead(200, { ...headers, "content-type": file.contentType, "content-length": file.body.length });
    res.end(req.method === "HEAD" ? undefined : file.body);
    return true;
  };
}
