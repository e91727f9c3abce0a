/**
 * One outbound server-to-server stream (RFC 6120 §4–§5 as the initiating entity, XEP-0220 as
 * the originating server): connect to an address resolution gave (resolve.ts), open a
 * `jabber:server` stream, STARTTLS (or direct TLS, XEP-0368), then authenticate our domain with
 * Server Dialback and carry our stanzas to the remote domain. The same stream carries our
 * <db:verify/> questions when the remote's own stream to us wants checking (XEP-0220 §2.3).
 *
 *   connecting ──header──▶ negotiating ──STARTTLS──▶ negotiating (TLS) ──features──▶ open ──db:result valid──▶ authenticated
 *
 * The engine (stream/engine.ts) is the accepting side's; this initiating side is its own small
 * state machine over the same parser, with the same time bound on the whole negotiation.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";
import { Element, NS_SERVER, NS_STREAM, NS_TLS, StreamParser, escapeXml, type ParserLimits, type StanzaErrorCondition } from "@switchboard/xml";
import type { Logger } from "@switchboard/core";
import { DialbackKeys, NS_DIALBACK, dbElement, dialbackElement } from "./dialback.js";
import type { RemoteAddress, RemoteResolver } from "./resolve.js";

export type OutboundState = "connecting" | "negotiating" | "open" | "authenticated" | "closed";

/** why a stream failed, as the stanza error its queued stanzas bounce with */
export interface OutboundFailure {
  condition: Extract<StanzaErrorCondition, "remote-server-not-found" | "remote-server-timeout">;
  text: string;
}

export interface OutboundConfig {
  /** our domain (the originating server) */
  local: string;
  /** the remote domain (the receiving server) */
  remote: string;
  requireTls: boolean;
  allowDialback: boolean;
  trustedCa?: string;
  parser: ParserLimits;
  /** connect → authenticated */
  handshakeTimeoutMs: number;
  keys: DialbackKeys;
  resolver: RemoteResolver;
  log: Logger;
}

interface OutboundEvents {
  authenticated: [];
  /** the stream is over; `failure` when it never got authenticated */
  closed: [failure: OutboundFailure | undefined];
}

export class OutboundStream extends EventEmitter<OutboundEvents> {
  private state_: OutboundState = "connecting";
  private socket?: net.Socket;
  private parser?: StreamParser;
  private remoteStreamId = "";
  private timer?: NodeJS.Timeout;
  /** verification questions asked on this stream, by stream id */
  private readonly verifies = new Map<string, Array<(answer: "valid" | "invalid" | Error) => void>>();
  private readonly openWaiters: Array<(err?: Error) => void> = [];
  private failure?: OutboundFailure;
  /** an address answered: later failures are the remote's, not "not found" */
  private connected = false;
  /** RFC 6125 verification of the remote's certificate, once TLS is up (tlsOptions) */
  certificate?: "verified" | "unverified";

  constructor(private readonly cfg: OutboundConfig) {
    super();
  }

  get state(): OutboundState {
    return this.state_;
  }

  /** read through a call: the state changes while a connect is awaited */
  private closedNow(): boolean {
    return this.state_ === "closed";
  }

  get authenticated(): boolean {
    return this.state_ === "authenticated";
  }

  /** bytes accepted for writing but not yet with the kernel */
  bufferedBytes(): number {
    return this.socket?.writableLength ?? 0;
  }

  start(): void {
    this.timer = setTimeout(() => this.fail("remote-server-timeout", `no authenticated stream to ${this.cfg.remote} within limits.handshakeTimeoutSeconds`), this.cfg.handshakeTimeoutMs);
    this.timer.unref();
    void this.connectAny().catch((err: Error) => this.fail("remote-server-not-found", err.message));
  }

  private async connectAny(): Promise<void> {
    const addresses = await this.cfg.resolver.resolve(this.cfg.remote);
    let last: Error | undefined;
    for (const address of addresses) {
      if (this.closedNow()) return;
      try {
        const socket = await this.connect(address);
        if (this.closedNow()) return void socket.destroy();
        this.connected = true;
        // A remote that vanishes without a FIN (a dead host, a dropped NAT entry) is noticed by
        // TCP keepalive rather than by the next write that never arrives.
        socket.setKeepAlive(true, 60_000);
        this.attach(socket);
        this.cfg.log.debug({ remote: this.cfg.remote, host: address.host, port: address.port, directTls: address.directTls }, "s2s connected");
        this.openStream();
        return;
      } catch (err) {
        last = err as Error;
      }
    }
    throw new Error(`cannot connect to ${this.cfg.remote}: ${last?.message ?? "no address"}`);
  }

  private connect(address: RemoteAddress): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = address.directTls
        ? tls.connect({ host: address.host, port: address.port, ...this.tlsOptions() })
        : net.connect({ host: address.host, port: address.port });
      const ok = () => {
        socket.off("error", ko);
        resolve(socket);
      };
      const ko = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      socket.once(address.directTls ? "secureConnect" : "connect", ok);
      socket.once("error", ko);
    });
  }

  /**
   * A certificate we cannot verify is still used for encryption: dialback then authenticates
   * the remote's domain through DNS (XEP-0220 §1). RFC 6125 verification against
   * s2s.trustedCaFile decides only whether the TLS identity alone would do (SASL EXTERNAL).
   */
  private tlsOptions(): tls.ConnectionOptions {
    return { servername: this.cfg.remote, ALPNProtocols: ["xmpp-server"], ca: this.cfg.trustedCa, rejectUnauthorized: false };
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    if (socket instanceof tls.TLSSocket && !this.certificate) this.checkCertificate(socket);
    this.parser = new StreamParser(this.cfg.parser);
    this.parser.on("streamStart", (attrs) => this.onHeader(attrs));
    this.parser.on("stanza", (el) => this.onElement(el));
    this.parser.on("streamEnd", () => this.close("the remote closed its stream"));
    this.parser.on("error", (err) => this.fail("remote-server-timeout", `the remote sent bad XML: ${err.message}`));
    socket.on("data", (chunk: Buffer) => this.parser?.write(chunk));
    socket.on("error", () => {});
    socket.on("close", () => this.finish(this.state_ === "authenticated" ? undefined : { condition: this.connected ? "remote-server-timeout" : "remote-server-not-found", text: `the connection to ${this.cfg.remote} closed` }));
  }

  /**
   * RFC 6125 §6: the chain against s2s.trustedCaFile (or Node's CAs) and the remote domain among
   * the certificate's names. Logged and reported (streams()); authentication stays dialback's
   * until SASL EXTERNAL lands, so an unverified certificate is not a failure.
   */
  private checkCertificate(socket: tls.TLSSocket): void {
    const peer = socket.getPeerCertificate();
    const nameError = peer && Object.keys(peer).length > 0 ? tls.checkServerIdentity(this.cfg.remote, peer) : new Error("no certificate");
    const verified = socket.authorized && nameError === undefined;
    this.certificate = verified ? "verified" : "unverified";
    const reason = verified ? undefined : socket.authorizationError ? String(socket.authorizationError) : nameError?.message;
    this.cfg.log.info({ remote: this.cfg.remote, certificate: this.certificate, reason }, "s2s outbound TLS up");
  }

  private openStream(): void {
    this.state_ = "negotiating";
    const { local, remote } = this.cfg;
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS_SERVER}' xmlns:stream='${NS_STREAM}' xmlns:db='${NS_DIALBACK}' from='${escapeXml(local)}' to='${escapeXml(remote)}' version='1.0'>`,
    );
  }

  private onHeader(attrs: Record<string, string>): void {
    if (attrs.xmlns !== NS_SERVER) return this.fail("remote-server-timeout", `${this.cfg.remote} did not answer in jabber:server`);
    this.remoteStreamId = attrs.id ?? "";
    // A pre-1.0 server sends no features (RFC 6120 §4.7.5): dialback at once, in the clear.
    if (!attrs.version && !this.cfg.requireTls) this.ready();
  }

  private onElement(el: Element): void {
    if (el.name === "stream:features") return this.onFeatures(el);
    if (el.name === "stream:error") {
      const condition = el.getChildElements().find((c) => c.name !== "text")?.name ?? "undefined-condition";
      return this.fail("remote-server-timeout", `${this.cfg.remote} closed the stream: ${condition}${el.getChildText("text") ? ` (${el.getChildText("text")})` : ""}`);
    }
    if (el.attrs.xmlns === NS_TLS) {
      if (el.name === "proceed") return void this.upgrade();
      return this.fail("remote-server-timeout", `${this.cfg.remote} refused STARTTLS`);
    }
    const db = dialbackElement(el);
    if (db === "result") return this.onResult(el);
    if (db === "verify") return this.onVerify(el);
    // RFC 6120 §2.5: a stream carries stanzas one way; the remote's come on its own stream.
    this.cfg.log.debug({ remote: this.cfg.remote, name: el.name }, "ignored an element on an outbound s2s stream");
  }

  private onFeatures(features: Element): void {
    const secure = this.socket instanceof tls.TLSSocket;
    if (!secure) {
      if (features.getChild("starttls", NS_TLS)) return void this.write(`<starttls xmlns='${NS_TLS}'/>`);
      if (this.cfg.requireTls) return this.fail("remote-server-timeout", `${this.cfg.remote} offers no STARTTLS (s2s.requireTls)`);
    }
    this.ready();
  }

  private upgrade(): void {
    const raw = this.socket!;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    const secure = tls.connect({ socket: raw, ...this.tlsOptions() });
    secure.once("secureConnect", () => {
      // RFC 6120 §5.4.3.3: a new stream over TLS, and nothing read before it counts.
      this.attach(secure);
      this.openStream();
    });
    secure.once("error", (err) => this.fail("remote-server-timeout", `TLS with ${this.cfg.remote} failed: ${err.message}`));
    raw.once("close", () => this.finish({ condition: "remote-server-timeout", text: `the connection to ${this.cfg.remote} closed during TLS` }));
  }

  /** the stream can carry dialback: ask to be authenticated, answer whoever waited */
  private ready(): void {
    if (this.state_ !== "negotiating") return;
    this.state_ = "open";
    for (const waiter of this.openWaiters.splice(0)) waiter();
    if (!this.cfg.allowDialback) return this.fail("remote-server-timeout", `no way to authenticate to ${this.cfg.remote}: s2s.allowDialback is off`);
    const { local, remote, keys } = this.cfg;
    this.send(dbElement("result", { from: local, to: remote }, keys.key(remote, local, this.remoteStreamId)));
  }

  private onResult(el: Element): void {
    if (el.attrs.type === "valid") {
      this.state_ = "authenticated";
      clearTimeout(this.timer);
      this.cfg.log.info({ remote: this.cfg.remote }, "s2s outbound stream authenticated by dialback");
      this.emit("authenticated");
      return;
    }
    this.fail("remote-server-timeout", `${this.cfg.remote} did not accept our dialback key (${el.attrs.type ?? "no type"})`);
  }

  private onVerify(el: Element): void {
    const waiters = this.verifies.get(el.attrs.id ?? "");
    if (!waiters) return;
    this.verifies.delete(el.attrs.id!);
    const answer = el.attrs.type === "valid" ? "valid" : "invalid";
    for (const w of waiters) w(answer);
  }

  /** XEP-0220 §2.3.1: is `key` the one the remote gave for its stream `id` to us? */
  async verify(request: { from: string; to: string; id: string; key: string }): Promise<"valid" | "invalid"> {
    await this.whenOpen();
    return new Promise((resolve, reject) => {
      const list = this.verifies.get(request.id) ?? [];
      list.push((answer) => (answer instanceof Error ? reject(answer) : resolve(answer)));
      if (list.length === 1) {
        this.verifies.set(request.id, list);
        this.send(dbElement("verify", { from: request.from, to: request.to, id: request.id }, request.key));
      }
    });
  }

  private whenOpen(): Promise<void> {
    if (this.state_ === "open" || this.state_ === "authenticated") return Promise.resolve();
    if (this.state_ === "closed") return Promise.reject(new Error(this.failure?.text ?? "stream closed"));
    return new Promise((resolve, reject) => this.openWaiters.push((err) => (err ? reject(err) : resolve())));
  }

  /** writes a stanza or dialback element; the caller checks bufferedBytes() for back-pressure */
  send(el: Element): number {
    const text = el.toString();
    this.write(text);
    return Buffer.byteLength(text);
  }

  private write(text: string): void {
    if (this.socket && !this.socket.destroyed && this.state_ !== "closed") this.socket.write(text);
  }

  /** ends the stream cleanly (RFC 6120 §4.4) */
  close(reason: string): void {
    if (this.state_ === "closed") return;
    this.cfg.log.debug({ remote: this.cfg.remote, reason }, "closing s2s outbound stream");
    this.write("</stream:stream>");
    const socket = this.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), 2000).unref();
    this.finish(this.state_ === "authenticated" ? undefined : { condition: "remote-server-timeout", text: reason });
  }

  private fail(condition: OutboundFailure["condition"], text: string): void {
    if (this.state_ === "closed") return;
    this.cfg.log.info({ remote: this.cfg.remote, condition, text }, "s2s outbound stream failed");
    this.failure = { condition, text };
    if (this.socket && !this.socket.destroyed) this.write("</stream:stream>");
    this.socket?.destroy();
    this.finish(this.failure);
  }

  private finish(failure: OutboundFailure | undefined): void {
    if (this.state_ === "closed") return;
    const wasAuthenticated = this.state_ === "authenticated";
    this.state_ = "closed";
    this.failure ??= failure;
    clearTimeout(this.timer);
    this.socket?.destroy();
    const err = new Error(this.failure?.text ?? `the stream to ${this.cfg.remote} closed`);
    for (const waiter of this.openWaiters.splice(0)) waiter(err);
    for (const waiters of this.verifies.values()) for (const w of waiters) w(err);
    this.verifies.clear();
    this.emit("closed", wasAuthenticated ? undefined : (this.failure ?? { condition: "remote-server-timeout", text: err.message }));
  }
}
