/**
 * converse.js for the browser test: its published `dist/` (a bundle with OMEMO) and a page that
 * starts it against a WebSocket URL, plus Debian's Chromium driven by playwright-core.
 *
 * converse.js is not a dependency of the workspace: its npm package names local `file:`
 * dependencies that pnpm cannot install. The test fetches the pinned tarball once with
 * `npm pack` (the npm registry is reachable wherever the suite's own dependencies install),
 * checks it against the registry's sha512, and unpacks `dist/` into node_modules/.cache.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CONVERSE_VERSION = "14.0.0";
const CONVERSE_INTEGRITY = "sha512-LFUg030jDalV47vI/vyVPqYPZfJYXFbubq8v0cFDe2zXNeeGEk3Up0Fj/WTzT6t+6do+cAIToy73eAj7RNDj2Q==";
const CACHE = fileURLToPath(new URL(`../../node_modules/.cache/switchboard-converse/${CONVERSE_VERSION}`, import.meta.url));

export const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** The unpacked dist/ directory, fetched on first use; a reason string when it cannot be had. */
export function converseDist(): { dir: string } | { missing: string } {
  const dir = join(CACHE, "dist");
  if (existsSync(join(dir, "converse.min.js"))) return { dir };
  const work = mkdtempSync(join(tmpdir(), "sb-converse-"));
  try {
    const packed = spawnSync("npm", ["pack", `converse.js@${CONVERSE_VERSION}`, "--pack-destination", work, "--silent"], { encoding: "utf8", timeout: 180_000 });
    const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
    if (packed.status !== 0 || !tgz) return { missing: `npm pack converse.js@${CONVERSE_VERSION} failed: ${(packed.stderr || packed.error?.message || "").trim().slice(0, 300)}` };
    const digest = `sha512-${createHash("sha512").update(readFileSync(join(work, tgz))).digest("base64")}`;
    if (digest !== CONVERSE_INTEGRITY) return { missing: `converse.js tarball integrity ${digest} is not the pinned ${CONVERSE_INTEGRITY}` };
    const untar = spawnSync("tar", ["xzf", join(work, tgz), "-C", work, "package/dist"], { encoding: "utf8" });
    if (untar.status !== 0) return { missing: `tar: ${untar.stderr.trim()}` };
    mkdirSync(CACHE, { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(work, "package", "dist"), dir);
    return { dir };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const TYPES: Record<string, string> = { ".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".html": "text/html", ".map": "application/json", ".svg": "image/svg+xml", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf", ".png": "image/png" };

/** Serves `/` (the page) and `/dist/…` (converse's files) on loopback. */
export async function servePage(dist: string, page: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    if (path === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(page);
    const rel = normalize(path.replace(/^\/dist\//, "")).replace(/^(\.\.[/\\])+/, "");
    const file = join(dist, rel);
    if (!path.startsWith("/dist/") || !file.startsWith(dist) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/**
 * The page: converse in fullscreen mode, logged in over the WebSocket, with a probe plugin that
 * puts converse's API on `window.sb` so the test can ask it what it sees.
 */
export function conversePage(opts: { websocketUrl: string; jid: string; password: string; rooms: string[] }): string {
  const settings = {
    websocket_url: opts.websocketUrl,
    jid: opts.jid,
    password: opts.password,
    auto_login: true,
    view_mode: "fullscreen",
    discover_connection_methods: false,
    auto_join_rooms: opts.rooms,
    nickname: opts.jid.split("@")[0],
    whitelisted_plugins: ["sb-probe"],
    loglevel: "info",
    play_sounds: false,
    show_desktop_notifications: false,
    allow_non_roster_messaging: true,
  };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>converse.js against Switchboard</title>
<link rel="stylesheet" href="/dist/converse.min.css"></head>
<body class="converse-fullscreen">
<script type="module" src="/dist/converse.min.js"></script>
<script type="module">
  window.sbLog = [];
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level].bind(console);
    console[level] = (...args) => { window.sbLog.push(level + ": " + args.map(String).join(" ")); original(...args); };
  }
  converse.plugins.add("sb-probe", { initialize() { window.sb = this._converse.api; window.sbConverse = this._converse; } });
  // synchronous views of converse's models, for the test's waitForFunction predicates
  window.sbChat = (jid) => (window.sbConverse?.state?.chatboxes ?? window.sbConverse?.chatboxes)?.get(jid);
  window.sbBodies = (jid) => (window.sbChat(jid)?.messages?.models ?? []).map((m) => m.get("body"));
  converse.initialize(${JSON.stringify(settings)});
</script>
</body></html>`;
}
