/**
 * http.tlsPort: the HTTP listener again, over TLS with the server's certificate — the wss://
 * WebSocket endpoint, /healthz, /readyz, /metrics, the admin API and HTTP File Upload, which
 * XEP-0363 §5 wants on HTTPS.
 *
 * The TLS is ours rather than https.createServer's so that its handshakes queue for the same
 * slots as the client ports' (limits.maxConcurrentHandshakes, c2s handshake-slots.ts): a
 * reconnect storm of web clients costs no more CPU at once than one of TCP clients. Each raw
 * socket waits for a slot (its ClientHello unread), is wrapped and, once secure, handed to a
 * plain http.Server as its connection: from there on the WebSocket upgrade deadline, the
 * admission counts and the routes are exactly those of http.port. The handshake itself is
 * bounded by limits.tlsHandshakeSeconds.
 *
 * With http.tlsProxyProtocol a PROXY header (v1 or v2) comes first, before the ClientHello, as
 * a TCP balancer that passes TLS through sends it (HAProxy `send-proxy-v2`); the client address
 * it names is the connection's from then on, so the per-IP limits of the wss WebSocket count
 * clients, not the balancer.
 *
 * Operator paths (/metrics, /admin) are not served here: a TCP load balancer in front (HAProxy
 * in docker-compose) cannot see paths inside TLS to keep them in, as it does on http.port, and
 * would make every client look like a private address to metrics.allowCidrs. Operators use
 * http.port, inside the network.
 */
import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import { listenOn, readProxyHeader } from "@switchboard/c2s";
import type { Logger } from "@switchboard/core";

/** The part of the c2s HandshakeSlots this listener uses. */
export interface TlsHandshakeGate {
  request(work: "tls", grant: (release: () => void) => void): (() => void) | undefined;
}

export interface HttpsListener {
  /** the http.Server the secure connections are handed to (attach the WebSocket to it) */
  server: http.Server;
  /** Listens; `gate()` is asked per connection, so an edge started later can supply its slots. */
  listen(bind: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/** a slot is held at most this long (the CPU part of a handshake is long done by then) */
const HOLD_MS = 2_000;
/** how long a connection may take to send its PROXY header (as on the client ports) */
const PROXY_HEADER_MS = 10_000;

export function createHttpsListener(opts: {
  handler: http.RequestListener;
  tls: { cert: string; key: string };
  handshakeMs: number;
  gate: () => TlsHandshakeGate | undefined;
  /** http.tlsProxyProtocol: read a PROXY header before the TLS handshake */
  proxyProtocol?: boolean;
  log: Logger;
}): HttpsListener {
  const secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
  const server = http.createServer((req, res) => {
    if (isOperatorPath(req.url ?? "/")) {
      res.writeHead(403, { "content-type": "text/plain" }).end("operator paths are served on http.port only\n");
      return;
    }
    opts.handler(req, res);
  });
  server.keepAliveTimeout = 5_000;
  // Node's default of 300 s for a whole request would cut a large upload on a slow link; the
  // upload routes bound idleness instead (http-routes.ts), and requests that prove nothing are
  // still cut by the WebSocket upgrade deadline (c2s listeners) and headersTimeout.
  server.requestTimeout = 0;
  const raw = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    raw.add(socket);
    socket.once("close", () => raw.delete(socket));
    socket.on("error", () => {});
    const deadline = setTimeout(() => socket.destroy(), opts.handshakeMs);
    deadline.unref();
    socket.once("close", () => clearTimeout(deadline));
    let clientIp: string | undefined;
    const start = (release: () => void) => {
      if (socket.destroyed) return release();
      const timer = setTimeout(release, HOLD_MS);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        release();
      };
      socket.once("close", done);
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: ["http/1.1"] });
      secure.once("secure", () => {
        done();
        clearTimeout(deadline);
        // The address the PROXY header named is what the HTTP side (admission, per-IP limits)
        // reads as the peer's.
        if (clientIp !== undefined) Object.defineProperty(secure, "remoteAddress", { value: clientIp });
        server.emit("connection", secure);
      });
      secure.on("error", (err) => {
        done();
        opts.log.debug({ err: err.message }, "HTTPS TLS handshake failed");
        secure.destroy();
      });
      if (socket.isPaused()) socket.resume();
    };
    const handshake = () => {
      const gate = opts.gate();
      if (!gate) return start(() => {});
      const cancel = gate.request("tls", start);
      if (!cancel) socket.destroy(); // the wait queue is full, as on the client ports
      else socket.once("close", cancel);
    };
    if (!opts.proxyProtocol) return handshake();
    readProxyHeader(socket, Math.min(PROXY_HEADER_MS, opts.handshakeMs)).then(
      (ip) => {
        clientIp = ip;
        handshake();
      },
      (err: Error) => {
        opts.log.info({ err: err.message, peer: socket.remoteAddress }, "HTTPS connection without a valid PROXY header closed");
        socket.destroy();
      },
    );
  });
  listener.on("error", (err) => opts.log.error({ err }, "HTTPS listener error"));
  return {
    server,
    listen: (bind, port) => listenOn(listener, bind, port, "http.tlsPort"),
    close: () =>
      new Promise<void>((resolve) => {
        listener.close(() => resolve());
        server.closeAllConnections();
        for (const socket of raw) socket.destroy();
      }),
  };
}

/** /metrics and /admin, however encoded (/%6Detrics), as HAProxy matches them on http.port. */
export function isOperatorPath(url: string): boolean {
  let path = url.split("?")[0]!;
  try {
    path = decodeURIComponent(path);
  } catch {
    return true; // undecodable: nothing we serve
  }
  return /^\/+(?:metrics|admin)(?:\/|$)/.test(path);
}
