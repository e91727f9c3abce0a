/**
 * Network listeners for client streams: TCP with STARTTLS on the c2s port, direct TLS
 * (XEP-0368) on the TLS port, and RFC 7395 WebSocket on an HTTP server path.
 *
 * Every accepted socket goes through one path (accept → admission → optional PROXY header →
 * handshake slot and TLS for the direct port → stream) and is tracked until it closes, so that a
 * socket stuck anywhere on the way is bounded in time (limits.tlsHandshakeSeconds), counted
 * against the caps on unauthenticated connections (admission.ts), and cut at the shutdown
 * deadline. The handshake slots (limits.maxConcurrentHandshakes, handshake-slots.ts) and the
 * login budget (limits.loginsPerSecond, login-budget.ts) are made here, once per process, and
 * shared by every stream through the options.
 */
import net from "node:net";
import tls from "node:tls";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import { WebSocketServer } from "ws";
import { StreamError } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { UserRate } from "./user-rate.js";
import { AUTH_FAILURE_POLICY, CONNECTION_RATE_POLICY, type C2sOptions } from "./options.js";
import { TcpTransport, WebSocketTransport, normaliseIp, type StreamEngine } from "@switchboard/stream";
import { openClientStream } from "./client-stream.js";
import { OverloadGuard, type OverloadOptions } from "./overload.js";
import { readProxyHeader } from "./proxy-protocol.js";
import { Admission, type AdmissionLimits, type AdmissionTicket } from "./admission.js";
import { listenOn } from "./listen.js";
import { HandshakeSlots, holdAtMost } from "./handshake-slots.js";
import { LoginBudget } from "./login-budget.js";

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
  /** caps on connections not yet authenticated (admission.ts) */
  admission: AdmissionLimits;
  /** limits.maxConcurrentHandshakes (0 or undefined: no cap) */
  maxConcurrentHandshakes?: number;
  /** limits.loginsPerSecond (0 or undefined: no budget) */
  loginsPerSecond?: number;
}

/** how long a connection may take to send its PROXY header (and at most tlsHandshakeMs) */
const PROXY_HEADER_TIMEOUT_MS = 10_000;

export interface C2sListeners {
  ports: { c2s: number; c2sTls: number };
  readonly admission: Admission;
  readonly handshakeSlots: HandshakeSlots;
  readonly loginBudget?: LoginBudget;
  /** sockets open on the client ports and the HTTP port (for tests and metrics) */
  readonly connectionCount: number;
  /** attaches the RFC 7395 endpoint to an HTTP(S) server */
  attachWebSocket(server: HttpServer, path: string, opts?: { secure?: boolean; trustForwardedFor?: boolean }): void;
  /**
   * Stops accepting, closes every stream with <system-shutdown/> and cuts connections that have
   * no stream yet (TLS handshakes, PROXY headers, idle HTTP). Resolves when every socket is gone,
   * destroying whatever is still open after `graceMs`.
   */
  /** Closes the listeners (drain's first step); open streams stay until close(). */
  stopAccepting(): void;
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** One accepted socket: its place in the admission count and, once it has one, its stream. */
interface Connection {
  ticket: AdmissionTicket;
  stream?: StreamEngine;
}

export async function startC2s(host: Host, opts: C2sListenOptions): Promise<C2sListeners> {
  const secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
  // Every waiter holds an unauthenticated connection, so maxUnauthenticated bounds the queue.
  const handshakeSlots = new HandshakeSlots(opts.maxConcurrentHandshakes ?? 0, host.log, host.metrics, opts.admission.maxUnauthenticated);
  const loginBudget = (opts.loginsPerSecond ?? 0) > 0 ? new LoginBudget(host, opts.loginsPerSecond!) : undefined;
  const options: C2sOptions = { ...opts, tlsContext: secureContext, handshakeSlots, loginBudget };
  // cluster scope: a client spreading its attempts over several edges gets one allowance
  host.limiter.define(AUTH_FAILURE_POLICY, { limit: opts.authFailuresPerIp, intervalMs: opts.authFailureWindowMs, keyedBy: "ip", scope: "cluster" });
  const admission = new Admission(opts.admission, host.log, host.metrics);
  const connections = new Map<net.Socket, Connection>();
  const streams = new Set<StreamEngine>();
  const guard = new OverloadGuard(() => streams, host.log, opts.overload);
  const shedding = host.metrics.gauge("switchboard_overload_shedding", { help: "1 while reads from clients are paused because the event loop lags" });
  guard.onChange = (on) => shedding.set(on ? 1 : 0);
  guard.start();
  let closing = false;

  /** Admits and tracks a raw socket; undefined when it was refused (and destroyed). */
  const accept = (socket: net.Socket): Connection | undefined => {
    socket.on("error", () => {}); // until a transport owns the socket; a reset must not throw
    const ticket = closing ? undefined : admission.admit(normaliseIp(socket.remoteAddress ?? "unknown"));
    if (!ticket) {
      socket.destroy();
      return undefined;
    }
    const connection: Connection = { ticket };
    connections.set(socket, connection);
    socket.once("close", () => {
      ticket.release();
      connections.delete(socket);
    });
    return connection;
  };

  const open = host.metrics.gauge("switchboard_connections", { help: "Client connections open now, by transport", labels: ["transport"] });
  const opened = host.metrics.counter("switchboard_connections_opened_total", { help: "Client connections accepted, by transport", labels: ["transport"] });
  const userRate = opts.userRate ? new UserRate(host, opts.userRate) : undefined;
  const startStream = (connection: Connection, transport: TcpTransport | WebSocketTransport, streamOptions: C2sOptions) => {
    const stream = openClientStream(host, transport, streamOptions, () => connection.ticket.release(), userRate?.enabled ? userRate : undefined);
    connection.stream = stream;
    streams.add(stream);
    if (guard.overloaded) stream.pauseReading("overload");
    const labels = { transport: transport.kind };
    open.add(1, labels);
    opened.add(1, labels);
    transport.on("disconnect", () => {
      streams.delete(stream);
      open.add(-1, labels);
    });
  };

  // New connections per client address and second, across the cluster (leased: no Redis round
  // trip per connection); off by default, as a carrier-grade NAT puts thousands behind one address.
  const perIpRate = opts.connectionsPerIpPerSecond ?? 0;
  if (perIpRate > 0) host.limiter.define(CONNECTION_RATE_POLICY, { limit: perIpRate, intervalMs: 1000, keyedBy: "ip", scope: "cluster" });
  const overRate = (ip: string) => perIpRate > 0 && !host.rateLimits.check(CONNECTION_RATE_POLICY, ip).allowed;

  /** Runs `then` with the client's address: from the PROXY header when configured, else the socket's. */
  const withClientAddress = (socket: net.Socket, connection: Connection, then: (clientIp: string) => void) => {
    const proceed = (address: string | undefined) => {
      const ip = normaliseIp(address ?? socket.remoteAddress ?? "unknown");
      // Closed before any TLS or XMPP work, as at the admission caps.
      if (overRate(ip)) {
        connection.ticket.release();
        socket.destroy();
      } else if (!connection.ticket.assignIp(ip)) socket.destroy();
      else then(ip);
    };
    if (!opts.proxyProtocol) return proceed(socket.remoteAddress);
    readProxyHeader(socket, Math.min(PROXY_HEADER_TIMEOUT_MS, opts.tlsHandshakeMs)).then(proceed, (err: Error) => {
      host.log.info({ err: err.message, peer: socket.remoteAddress }, "connection without a valid PROXY header closed");
      socket.destroy();
    });
  };

  const plain = net.createServer((socket) => {
    const connection = accept(socket);
    if (!connection) return;
    withClientAddress(socket, connection, (ip) => startStream(connection, new TcpTransport(socket, opts.parser, ip), options));
  });

  const ALPNProtocols = ["xmpp-client"];
  const direct = net.createServer((socket) => {
    const connection = accept(socket);
    if (!connection) return;
    // limits.tlsHandshakeSeconds: from accept to a completed handshake, whatever the peer sends
    // meanwhile (nothing, half a ClientHello, a byte every few seconds).
    const deadline = setTimeout(() => {
      host.log.debug({ peer: socket.remoteAddress }, "direct TLS handshake not completed in time, closed");
      socket.destroy();
    }, opts.tlsHandshakeMs);
    deadline.unref();
    socket.once("close", () => clearTimeout(deadline));
    withClientAddress(socket, connection, (ip) => {
      // limits.maxConcurrentHandshakes: the handshake starts once it has a slot, in arrival
      // order; until then the ClientHello stays unread in the socket's buffer. A socket that
      // closes (or reaches the deadline above) while it waits leaves the queue.
      let cancel: (() => void) | undefined;
      cancel = handshakeSlots.request("tls", (slot) => {
        if (cancel) socket.off("close", cancel);
        if (socket.destroyed) return slot();
        const release = holdAtMost(slot);
        socket.once("close", release);
        // Bytes that followed a PROXY header (the ClientHello) are still buffered on the socket.
        const secure = new tls.TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols });
        secure.once("secure", () => {
          release();
          clearTimeout(deadline);
          startStream(connection, new TcpTransport(secure, opts.parser, ip), options);
        });
        secure.on("error", (err) => {
          release();
          host.log.debug({ err: err.message }, "direct TLS handshake failed");
          secure.destroy();
        });
        if (socket.isPaused()) socket.resume();
      });
      if (!cancel) socket.destroy(); // the wait queue is full: closed as at the admission caps
      else socket.once("close", cancel);
    });
  });
  plain.on("error", (err) => host.log.error({ err }, "c2s listener error"));
  direct.on("error", (err) => host.log.error({ err }, "c2s TLS listener error"));

  const c2s = await listenOn(plain, opts.bind, opts.port, "c2s.port");
  const c2sTls = await listenOn(direct, opts.bind, opts.tlsPort, "c2s.tlsPort").catch(async (err: unknown) => {
    await new Promise((resolve) => plain.close(resolve));
    throw err;
  });
  const wss: WebSocketServer[] = [];
  const stopAccepting = () => {
    if (closing) return;
    closing = true;
    guard.stop();
    plain.close();
    direct.close();
    for (const w of wss) w.close();
    for (const server of httpServers) server.close();
  };
  const httpServers: HttpServer[] = [];

  return {
    ports: { c2s, c2sTls },
    admission,
    handshakeSlots,
    loginBudget,
    get connectionCount() {
      return connections.size;
    },
    attachWebSocket(server, path, { secure = false, trustForwardedFor = false } = {}) {
      httpServers.push(server);
      // Every HTTP connection counts as unauthenticated until its stream authenticates, and
      // must reach the WebSocket upgrade within limits.tlsHandshakeSeconds of going quiet. A
      // plain request (a probe, a /metrics scrape, the admin API) stops the clock while it is
      // answered and starts it again when done: a keep-alive client reusing the connection
      // after a few seconds was cut mid-request (ECONNRESET) when the clock ran from accept.
      // Idle keep-alive connections are closed by Node's keepAliveTimeout (5 s) well before.
      server.on("connection", (socket: net.Socket) => {
        const connection = accept(socket);
        if (!connection) return;
        if (!trustForwardedFor && !connection.ticket.assignIp(normaliseIp(socket.remoteAddress ?? "unknown"))) {
          socket.destroy();
          return;
        }
        const deadline = new UpgradeDeadline(socket, opts.tlsHandshakeMs);
        socket.once("close", () => deadline.stop());
        upgradeDeadlines.set(socket, deadline);
        httpAuthenticated.set(socket, () => {
          deadline.stop();
          connection.ticket.release();
        });
      });
      server.on("upgrade", (req: IncomingMessage) => upgradeDeadlines.get(req.socket as net.Socket)?.stop());
      server.on("request", (req: IncomingMessage, res: import("node:http").ServerResponse) => {
        const deadline = upgradeDeadlines.get(req.socket as net.Socket);
        if (!deadline) return;
        deadline.stop();
        res.once("finish", () => {
          if (!req.socket.destroyed) deadline.start();
        });
      });
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
        const connection = connections.get(req.socket as net.Socket);
        if (!connection) {
          socket.terminate();
          return;
        }
        const forwardedSecure = secure || req.headers["x-forwarded-proto"] === "https";
        const ip = (trustForwardedFor ? lastForwardedFor(req) : undefined) ?? normaliseIp(req.socket.remoteAddress ?? "unknown");
        if (trustForwardedFor && !connection.ticket.assignIp(ip)) {
          socket.terminate();
          return;
        }
        if (overRate(ip)) {
          socket.close(1008, "too many new connections from your address; try again shortly");
          return;
        }
        // Channel binding only to a TLS this server terminated (wss): behind a proxy there is none.
        const tlsSocket = req.socket instanceof tls.TLSSocket ? req.socket : undefined;
        const transport = new WebSocketTransport(socket, ip, forwardedSecure, opts.parser, undefined, tlsSocket);
        startStream(connection, transport, { ...options, requireTls: options.requireTls && !forwardedSecure && !isLoopback(req) });
      });
      wss.push(ws);
    },
    stopAccepting,
    async close({ graceMs = 10_000 } = {}) {
      stopAccepting();
      for (const [socket, connection] of connections) {
        if (connection.stream) connection.stream.close(new StreamError("system-shutdown", "the server is stopping"));
        else socket.destroy(); // nothing to say to a socket that has no stream yet
      }
      const deadline = Date.now() + graceMs;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const socket of connections.keys()) socket.destroy();
      connections.clear();
    },
  };
}

/** Pending upgrade deadlines of HTTP connections, cleared when the upgrade request arrives. */
const upgradeDeadlines = new WeakMap<net.Socket, UpgradeDeadline>();

/** limits.tlsHandshakeSeconds for an HTTP connection: running while it is quiet, stopped while a request is answered. */
class UpgradeDeadline {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    private readonly ms: number,
  ) {
    this.start();
  }

  start(): void {
    this.stop();
    this.timer = setTimeout(() => this.socket.destroy(), this.ms);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
/** How an HTTP connection stops counting as unauthenticated (httpConnectionAuthenticated). */
const httpAuthenticated = new WeakMap<net.Socket, () => void>();

/**
 * An HTTP request on the WebSocket port proved who it is (the admin API's token): its
 * connection no longer counts as unauthenticated and may outlive the upgrade deadline (a tap
 * streams for as long as the operator watches).
 */
export function httpConnectionAuthenticated(socket: net.Socket): void {
  httpAuthenticated.get(socket)?.();
  httpAuthenticated.delete(socket);
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
export function lastForwardedFor(req: IncomingMessage): string | undefined {
  const header = req.headers["x-forwarded-for"];
  const raw = Array.isArray(header) ? header.at(-1) : header;
  const last = raw?.split(",").at(-1)?.trim();
  return last && net.isIP(last) ? normaliseIp(last) : undefined;
}
