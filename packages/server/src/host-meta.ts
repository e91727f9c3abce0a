/**
 * XEP-0156 §3 (discovering alternative XMPP connection methods, HTTP lookup): the host-meta
 * documents of RFC 6415 on the HTTP port, naming the WebSocket endpoint (RFC 7395 §4) as an
 * `urn:xmpp:alt-connections:websocket` link, in XRD (`/.well-known/host-meta`) and JSON
 * (`/.well-known/host-meta.json`). Web clients (converse.js among them) look here first when
 * given only an account. Readable from any origin, as §3.1 asks: a browser page elsewhere must
 * be able to fetch it.
 */
import type http from "node:http";
import type { RunningHttp } from "./http.js";

const WEBSOCKET_REL = "urn:xmpp:alt-connections:websocket";

export interface HostMetaOptions {
  websocketPath: string;
  /** http.websocketUrl: announced as given */
  websocketUrl?: string;
}

/** The announced URL: the configured one, else the request's host with the WebSocket path. */
export function websocketUrlFor(req: http.IncomingMessage, opts: HostMetaOptions): string | undefined {
  if (opts.websocketUrl) return opts.websocketUrl;
  const host = req.headers.host?.trim();
  // a Host header that is not a plain host[:port] is not echoed into the document
  if (!host || !/^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return undefined;
  const plain = !(req.socket as { encrypted?: boolean }).encrypted && req.headers["x-forwarded-proto"] !== "https";
  return `${plain ? "ws" : "wss"}://${host}${opts.websocketPath}`;
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

export function mountHostMeta(server: RunningHttp, opts: HostMetaOptions): void {
  const headers = { "access-control-allow-origin": "*", "cache-control": "max-age=300" };
  const serve = (json: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = websocketUrlFor(req, opts);
    if (json) {
      const body = JSON.stringify({ links: url ? [{ rel: WEBSOCKET_REL, href: url }] : [] });
      res.writeHead(200, { ...headers, "content-type": "application/json" }).end(req.method === "HEAD" ? undefined : body);
      return;
    }
    const link = url ? `\n  <Link rel="${WEBSOCKET_REL}" href="${escapeXml(url)}"/>` : "";
    const body = `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>${link}\n</XRD>\n`;
    res.writeHead(200, { ...headers, "content-type": "application/xrd+xml" }).end(req.method === "HEAD" ? undefined : body);
  };
  server.route({ path: "/.well-known/host-meta", methods: ["GET", "HEAD"], handle: serve(false) });
  server.route({ path: "/.well-known/host-meta.json", methods: ["GET", "HEAD"], handle: serve(true) });
}
