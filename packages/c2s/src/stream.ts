/**
 * The client stream state machine (RFC 6120 §4–§7), shared by TCP, direct TLS and WebSocket:
 *
 *   connected ──STARTTLS──▶ secured ──SASL──▶ authenticated ──bind──▶ bound ──▶ closed
 *
 * (a direct-TLS or WebSocket-over-HTTPS stream starts in `secured`; with requireTls off a plain
 * stream may authenticate from `connected`). Feature logic lives in modules; this class only
 * negotiates the stream and hands stanzas to the router with a server-stamped `from`.
 */
import { randomBytes } from "node:crypto";
import { Element, Jid, NS_BIND, NS_SASL, NS_SESSION, NS_STREAM, NS_TLS, StanzaError, StreamError, errorReply, tryParseJid, x } from "@switchboard/xml";
import { iqResult, type Host, type LocalSession, type Logger } from "@switchboard/core";
import type { C2sOptions } from "./options.js";
import type { Transport } from "./transport.js";
import { SaslNegotiation } from "./sasl-negotiation.js";
import { bindResource } from "./bind.js";

export type StreamState = "connected" | "secured" | "authenticated" | "bound" | "closed";

/** Stanzas waiting to be routed before reading from the peer pauses. */
const MAX_QUEUED = 64;

let connectionSeq = 0;

export class C2sStream implements LocalSession {
  readonly id: string;
  private logger?: Logger;
  state: StreamState;
  private boundJid?: Jid;
  private username?: string;
  private sasl?: SaslNegotiation;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** why reading from the peer is paused: its own backlog ("queue"), or the whole process ("overload") */
  /** why reading is paused: "queue" and/or "overload" (two flags, not a Set: one per connection) */
  private pausedFor: { queue: boolean; overload: boolean } | undefined;
  private handshakeTimer?: NodeJS.Timeout;
  /** limits.tlsHandshakeSeconds on the STARTTLS port (see startTlsDeadline) */
  private tlsTimer?: NodeJS.Timeout;
  private upgrading = false;
  private cleanedUp = false;

  /** `onAuthenticated`: the connection no longer counts as unauthenticated (admission.ts) */
  constructor(
    private readonly host: Host,
    private readonly transport: Transport,
    private readonly opts: C2sOptions,
    private readonly onAuthenticated?: () => void,
  ) {
    this.id = `${host.nodeId}:${(++connectionSeq).toString(36)}${randomBytes(3).toString("hex")}`;
    // A plain stream starts in "connected" (STARTTLS offered); with requireTls off it may also
    // authenticate from there.
    this.state = transport.secure ? "secured" : "connected";
    transport.on("open", (attrs) => this.onOpen(attrs));
    transport.on("element", (el) => this.enqueue(el));
    transport.on("end", () => this.onPeerEnd());
    transport.on("error", (err) => this.fail(err));
    transport.on("disconnect", (reason) => void this.cleanup(reason));
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== "bound") this.fail(new StreamError("connection-timeout", "stream negotiation took too long"));
    }, opts.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    // With STARTTLS required nothing useful can happen in the clear: the TLS handshake must be
    // done within limits.tlsHandshakeSeconds of accepting the connection.
    if (this.state === "connected" && opts.requireTls && transport.canStartTls && opts.tlsContext) this.startTlsDeadline();
    this.log.debug({ ip: transport.ip, transport: transport.kind }, "connection opened");
  }

  private startTlsDeadline(): void {
    if (this.tlsTimer) return;
    this.tlsTimer = setTimeout(() => {
      if (this.state !== "connected") return;
      this.log.info("TLS not negotiated within limits.tlsHandshakeSeconds, closing");
      // Mid-handshake the peer cannot read a stream error any more: just cut it.
      if (this.upgrading) this.destroy();
      else this.fail(new StreamError("connection-timeout", "TLS was not negotiated in time"));
    }, this.opts.tlsHandshakeMs);
    this.tlsTimer.unref();
  }

  private destroy(): void {
    this.state = "closed";
    this.transport.destroy();
  }

  /** Connection-scoped log (every line carries `conn`); made on first use, idle streams never pay for it. */
  get log(): Logger {
    return (this.logger ??= this.host.log.child({ conn: this.id }));
  }

  get jid(): Jid {
    if (!this.boundJid) throw new Error("stream has no bound JID yet");
    return this.boundJid;
  }

  get ip(): string {
    return this.transport.ip;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  // ---------------------------------------------------------------------------------------
  // Output

  send(stanza: Element): void {
    if (this.state === "closed") return;
    this.transport.send(stanza);
    if (this.transport.bufferedBytes() > this.opts.outboundBufferBytes) {
      this.log.warn({ buffered: this.transport.bufferedBytes(), limit: this.opts.outboundBufferBytes }, "outbound buffer limit reached, closing");
      this.destroy();
    }
  }

  /** `reason` is what the log says; by default "closed by server" or the stream error. */
  close(error?: StreamError, reason?: string): void {
    if (this.state === "closed") return;
    if (error) this.log.info({ condition: error.condition, text: error.text }, "closing stream with error");
    // RFC 6120 §4.9.1.1: an error before the peer opened its stream still follows our header.
    if (error && !this.headerSent) this.openOwnStream();
    this.state = "closed";
    this.transport.closeStream(error);
    void this.cleanup(reason ?? (error ? `stream error ${error.condition}` : "closed by server"));
  }

  private fail(error: StreamError): void {
    this.close(error);
  }

  // ---------------------------------------------------------------------------------------
  // Stream header and features (RFC 6120 §4.2, §4.3)

  private onOpen(attrs: Record<string, string>): void {
    if (this.state === "closed") return;
    this.openOwnStream();
    const to = attrs.to ? tryParseJid(attrs.to) : undefined;
    if (this.transport.kind !== "websocket" && attrs["xmlns"] !== undefined && attrs["xmlns"] !== "jabber:client") {
      return this.fail(new StreamError("invalid-namespace", "the default namespace must be jabber:client"));
    }
    if (!to || to.domain !== this.host.domain || to.local) {
      return this.fail(new StreamError("host-unknown", `this server serves ${this.host.domain}`));
    }
    if (attrs.version && Number.parseFloat(attrs.version) < 1) {
      return this.fail(new StreamError("unsupported-version", "XMPP 1.0 or later is required"));
    }
    this.transport.send(this.features());
  }

  /** Our stream header was sent since the last restart (an error must follow one). */
  private headerSent = false;

  private openOwnStream(): void {
    this.headerSent = true;
    this.transport.openStream({ id: randomBytes(8).toString("hex"), from: this.host.domain, version: "1.0", "xml:lang": "en" });
  }

  private features(): Element {
    const f = x("stream:features", { "xmlns:stream": NS_STREAM });
    if (this.state === "connected" && this.transport.canStartTls && this.opts.tlsContext) {
      const starttls = x("starttls", { xmlns: NS_TLS }, this.opts.requireTls ? x("required") : undefined);
      f.cnode(starttls);
      if (this.opts.requireTls) return f;
    }
    if (this.state === "connected" || this.state === "secured") {
      this.sasl ??= new SaslNegotiation(this.host, this.ip, this.secure, (el) => this.transport.send(el), this.opts.unknownUserSecret);
      f.cnode(this.sasl.mechanismsFeature());
      for (const feature of this.host.streamFeatures.preAuth) f.cnode(feature());
    } else if (this.state === "authenticated") {
      f.cnode(x("bind", { xmlns: NS_BIND }));
      f.cnode(x("session", { xmlns: NS_SESSION }, x("optional")));
      for (const feature of this.host.streamFeatures.postAuth) f.cnode(feature());
    }
    return f;
  }

  private onPeerEnd(): void {
    this.log.debug("peer closed the stream");
    this.close(undefined, "client closed the stream");
  }

  // ---------------------------------------------------------------------------------------
  // Input: processed one at a time so one sender's stanzas keep their order (RFC 6120 §10.1)

  private enqueue(el: Element): void {
    if (this.state === "closed") return;
    this.queued++;
    if (this.queued > MAX_QUEUED) this.pauseReading("queue");
    this.queue = this.queue
      .then(() => this.process(el))
      .catch((err) => {
        this.log.error({ err }, "stanza processing failed");
        if (this.state === "bound" && (el.name === "iq" || el.name === "message")) this.transport.send(errorReply(el, "internal-server-error"));
      })
      .finally(() => {
        this.queued--;
        if (this.queued <= MAX_QUEUED / 2) this.resumeReading("queue");
      });
  }

  /** Stops reading from the peer; several reasons may hold at once, reading resumes when none does. */
  pauseReading(reason: "queue" | "overload"): void {
    const paused = (this.pausedFor ??= { queue: false, overload: false });
    if (paused[reason]) return;
    const wasReading = !paused.queue && !paused.overload;
    paused[reason] = true;
    if (wasReading) this.transport.pause();
  }

  resumeReading(reason: "queue" | "overload"): void {
    const paused = this.pausedFor;
    if (!paused?.[reason]) return;
    paused[reason] = false;
    if (!paused.queue && !paused.overload && this.state !== "closed") this.transport.resume();
  }

  private async process(el: Element): Promise<void> {
    if (this.state === "closed") return;
    switch (this.state) {
      case "connected":
        if (el.name === "starttls" && el.attrs.xmlns === NS_TLS) return this.startTls();
        if (this.opts.requireTls) return this.fail(new StreamError("policy-violation", "STARTTLS is required before anything else"));
        return this.preAuth(el);
      case "secured":
        return this.preAuth(el);
      case "authenticated":
        return this.beforeBind(el);
      case "bound":
        return this.stanza(el);
    }
  }

  private async startTls(): Promise<void> {
    if (!this.opts.tlsContext || !this.transport.canStartTls) {
      this.transport.send(x("failure", { xmlns: NS_TLS }));
      return this.close();
    }
    this.transport.send(x("proceed", { xmlns: NS_TLS }));
    this.startTlsDeadline();
    this.upgrading = true;
    try {
      await this.transport.startTls(this.opts.tlsContext);
      if (this.state !== "connected") return; // timed out or closed meanwhile
      this.state = "secured";
      this.sasl = undefined;
      this.headerSent = false;
      clearTimeout(this.tlsTimer);
    } catch (err) {
      this.log.info({ err: (err as Error).message }, "TLS handshake failed");
      this.destroy();
    } finally {
      this.upgrading = false;
    }
  }

  private async preAuth(el: Element): Promise<void> {
    if (el.attrs.xmlns === NS_SASL) {
      this.sasl ??= new SaslNegotiation(this.host, this.ip, this.secure, (e) => this.transport.send(e), this.opts.unknownUserSecret);
      const outcome = await this.sasl.handle(el);
      if (!outcome.done) return;
      if ("username" in outcome) {
        this.username = outcome.username;
        this.state = "authenticated";
        this.onAuthenticated?.();
        this.sasl = undefined; // its mechanism state is no longer needed
        this.transport.restartStream();
        this.headerSent = false;
        this.log.info({ user: `${this.username}@${this.host.domain}` }, "authenticated");
        return;
      }
      if (outcome.closeStream) return this.fail(new StreamError("policy-violation", "too many failed authentication attempts"));
      return;
    }
    if (el.name === "iq") {
      const payload = el.getChildElements()[0];
      const handler = payload && this.host.streamFeatures.findPreAuthIq(payload.attrs.xmlns ?? "");
      if (handler) {
        const stanza = el;
        try {
          const out = await handler(stanza, payload, { ip: this.ip, secure: this.secure });
          this.transport.send(stripAddresses(iqResult(stanza, out ?? undefined)));
        } catch (err) {
          if (!(err instanceof StanzaError)) throw err;
          this.transport.send(stripAddresses(errorReply(stanza, err.condition, err.text, err.type)));
        }
        return;
      }
    }
    this.fail(new StreamError("not-authorized", "authenticate first"));
  }

  private async beforeBind(el: Element): Promise<void> {
    if (el.name === "iq" && el.attrs.type === "set") {
      const bind = el.getChild("bind", NS_BIND);
      if (bind) {
        const result = await bindResource(this.host, this, this.username!, el, bind);
        if (result.jid) {
          this.boundJid = result.jid;
          this.state = "bound";
          clearTimeout(this.handshakeTimer);
          this.handshakeTimer = undefined;
          this.host.sessions.set(this.id, this);
          this.transport.send(result.reply);
          this.log.info({ jid: result.jid.full }, "resource bound");
          await this.host.hooks.fire("session/bound", { session: this });
        } else {
          this.transport.send(result.reply);
        }
        return;
      }
      if (isLegacySession(el, this.host.domain)) return this.transport.send(stripAddresses(iqResult(el)));
    }
    this.fail(new StreamError("not-authorized", "bind a resource first"));
  }

  // ---------------------------------------------------------------------------------------
  // Bound: stamp and route (RFC 6120 §8.1.2.1)

  private async stanza(el: Element): Promise<void> {
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") {
      return this.fail(new StreamError("unsupported-stanza-type", `<${el.name}/> is not a stanza`));
    }
    if (el.attrs.xmlns && el.attrs.xmlns !== "jabber:client") {
      return this.fail(new StreamError("invalid-namespace", "stanzas must be in jabber:client"));
    }
    const jid = this.boundJid!;
    const claimed = el.attrs.from;
    if (claimed !== undefined && claimed !== jid.full && claimed !== jid.bare) {
      const parsed = tryParseJid(claimed);
      if (!parsed || (parsed.full !== jid.full && parsed.full !== jid.bare)) {
        this.log.warn({ from: claimed }, "spoofed from address");
        return this.fail(new StreamError("invalid-from", "the from address does not match your JID"));
      }
    }
    if (isLegacySession(el, this.host.domain)) return this.transport.send(stripAddresses(iqResult(el)));
    delete el.attrs.xmlns;
    el.attrs.from = jid.full;
    await this.host.router.route(el, this);
  }

  // ---------------------------------------------------------------------------------------

  private async cleanup(reason: string): Promise<void> {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    this.state = "closed";
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.tlsTimer);
    this.onAuthenticated?.();
    if (!this.boundJid || this.host.sessions.get(this.id) !== this) {
      this.log.debug({ reason }, "connection closed");
      return;
    }
    this.host.sessions.delete(this.id);
    try {
      await this.host.registry.unbind(this.boundJid.full, this.id);
      await this.host.hooks.fire("session/closed", { session: this, reason });
    } catch (err) {
      this.log.error({ err }, "session cleanup failed");
    }
    this.log.info({ jid: this.boundJid.full, reason }, "session closed");
  }
}

/** RFC 3921 §3 session establishment: a no-op kept for old clients, answered before or after bind. */
function isLegacySession(el: Element, domain: string): boolean {
  const to = el.attrs.to;
  return el.name === "iq" && el.attrs.type === "set" && (!to || to === domain) && el.getChild("session", NS_SESSION) !== undefined;
}

function stripAddresses(el: Element): Element {
  delete el.attrs.to;
  delete el.attrs.from;
  return el;
}
