/**
 * Network listeners for client streams: TCP with STARTTLS on the c2s port, direct TLS
 * (XEP-0368) on the TLS port, and RFC 7395 WebSocket on an HTTP server path.
 */
import net from "node:net";
import tls from "node:tls";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { WebSocketServer } from "ws";
import { StreamError } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { AUTH_FAILURE_POLICY, type C2sOptions } from "./options.js";
import { C2sStream } from "./stream.js";
import { TcpTransport } from "./tcp-transport.js";
import { WebSocketTransport } from "./ws-transport.js";
import { OverloadGuard, type OverloadOptions } from "./overload.js";
import { readProxyHeader } from "./proxy-protocol.js";

export interface C2sListenOptions extends C2sOptions {
  bind: string;
  port: number;
  tlsPort: number;
  tls: { cert: string; key: string };
  /** load shedding on event-loop lag (overload.ts) */
  overload?: OverloadOptions;
  /**
   * Both client ports expect a PROXY protocol header (v1 or v2) first and take the client's
   * address from it (proxy-protocol.ts); connections without one are closed.
   */
  proxyProtocol?: boolean;
}

/** how long a connection may take to send its PROXY header */
const PROXY_HEADER_TIMEOUT_MS = 10_000;

export interface C2sListeners {
  ports: { c2s: number; c2sTls: number };
  /** attaches the RFC 7395 endpoint to an HTTP(S) server */
  attachWebSocket(server: HttpServer, path: string, opts?: { secure?: boolean; trustForwardedFor?: boolean }): void;
  /** stops accepting and closes every stream with <system-shutdown/> */
  close(): Promise<void>;
}

export async function startC2s(host: Host, opts: C2sListenOptions): Promise<C2sListeners> {
  const secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
  const options: C2sOptions = { ...opts, tlsContext: secureContext };
  // cluster scope: a client spreading its attempts over several edges gets one allowance
  host.limiter.define(AUTH_FAILURE_POLICY, { limit: opts.authFailuresPerIp, intervalMs: opts.authFailureWindowMs, scope: "cluster" });
  const streams = new Set<C2sStream>();
  const guard = new OverloadGuard(() => streams, host.log, opts.overload);
  guard.start();
  const track = (stream: C2sStream, transport: { on(e: "disconnect", l: () => void): void }) => {
    streams.add(stream);
    if (guard.overloaded) stream.pauseReading("overload");
    transport.on("disconnect", () => streams.delete(stream));
  };

  const serve = (socket: net.Socket, clientIp?: string) => {
    const transport = new TcpTransport(socket, opts.parser, clientIp);
    track(new C2sStream(host, transport, options), transport);
  };
  const tlsOptions = { cert: opts.tls.cert, key: opts.tls.key, ALPNProtocols: ["xmpp-client"] };
  let plain: net.Server;
  let direct: net.Server;
  if (opts.proxyProtocol) {
    // Behind a balancer: read the header, then go on exactly as a direct connection would.
    const proxied = (socket: net.Socket, then: (socket: net.Socket, clientIp: string | undefined) => void) => {
      socket.on("error", () => {}); // until a transport owns the socket
      readProxyHeader(socket, PROXY_HEADER_TIMEOUT_MS).then(
        (clientIp) => then(socket, clientIp),
        (err: Error) => {
          host.log.info({ err: err.message, peer: socket.remoteAddress }, "connection without a valid PROXY header closed");
          socket.destroy();
        },
      );
    };
    plain = net.createServer((socket) => proxied(socket, (s, ip) => serve(s, ip)));
    direct = net.createServer((socket) =>
      proxied(socket, (s, ip) => {
        // What the header was followed by (the ClientHello) is still buffered on the socket:
        // TLSSocket reads it from there.
        const secure = new tls.TLSSocket(s, { isServer: true, secureContext, ALPNProtocols: tlsOptions.ALPNProtocols });
        const timer = setTimeout(() => secure.destroy(), PROXY_HEADER_TIMEOUT_MS);
        secure.once("secure", () => {
          clearTimeout(timer);
          serve(secure, ip);
        });
        secure.on("error", (err) => {
          clearTimeout(timer);
          host.log.debug({ err: err.message }, "direct TLS handshake failed");
          secure.destroy();
        });
        s.resume();
      }),
    );
  } else {
    plain = net.createServer((socket) => serve(socket));
    direct = tls.createServer(tlsOptions, (socket) => serve(socket));
    // A client that fails the TLS handshake must not leave an error unhandled.
    direct.on("tlsClientError", (err) => host.log.debug({ err: err.message }, "direct TLS handshake failed"));
  }
  plain.on("error", (err) => host.log.error({ err }, "c2s listener error"));
  direct.on("error", (err) => host.log.error({ err }, "c2s TLS listener error"));

  const c2s = await listen(plain, opts.bind, opts.port);
  const c2sTls = await listen(direct, opts.bind, opts.tlsPort);
  const wss: WebSocketServer[] = [];

  return {
    ports: { c2s, c2sTls },
    attachWebSocket(server, path, { secure = false, trustForwardedFor = false } = {}) {
      const ws = new WebSocketServer({
        server,
        path,
        maxPayload: opts.parser.maxStanzaBytes + 1024,
        handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false),
      });
      ws.on("connection", (socket, req: IncomingMessage) => {
        if (socket.protocol !== "xmpp") {
          // RFC 7395 §3.1: the "xmpp" subprotocol is required.
          socket.close(1002, "the xmpp subprotocol is required");
          return;
        }
        const forwardedSecure = secure || req.headers["x-forwarded-proto"] === "https";
        const ip = (trustForwardedFor ? lastForwardedFor(req) : undefined) ?? req.socket.remoteAddress ?? "unknown";
        const transport = new WebSocketTransport(socket, ip, forwardedSecure, opts.parser);
        track(new C2sStream(host, transport, { ...options, requireTls: options.requireTls && !forwardedSecure && !isLoopback(req) }), transport);
      });
      wss.push(ws);
    },
    async close() {
      guard.stop();
      plain.close();
      direct.close();
      for (const w of wss) w.close();
      for (const s of streams) s.close(new StreamError("system-shutdown", "the server is stopping"));
      await Promise.all([closed(plain), closed(direct)]);
    },
  };
}

/**
 * COMPAT: browsers reach a local server over ws:// (there is no STARTTLS on WebSocket); TLS for
 * WebSocket is a deployment concern (reverse proxy setting X-Forwarded-Proto). Plain ws:// is
 * accepted from loopback only when TLS is required.
 */
function isLoopback(req: IncomingMessage): boolean {
  const ip = req.socket.remoteAddress ?? "";
  return ip === "127.0.0.1" || ip === "::1" || ip.startsWith("::ffff:127.") || ip.startsWith("127.");
}

/**
 * The address the proxy in front saw: the last X-Forwarded-For entry (a proxy appends to what the
 * client sent, so earlier entries are the client's own claims). Undefined when absent or not an IP.
 */
function lastForwardedFor(req: IncomingMessage): string | undefined {
  const header = req.headers["x-forwarded-for"];
  const raw = Array.isArray(header) ? header.at(-1) : header;
  const last = raw?.split(",").at(-1)?.trim();
  return last && net.isIP(last) ? last : undefined;
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closed(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
