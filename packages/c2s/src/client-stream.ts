/**
 * The client policy of the stream engine (RFC 6120 §4–§8 for `jabber:client`): what a client
 * stream offers and accepts in each state. The engine (@switchboard/stream) does the rest —
 * transitions, STARTTLS, time bounds, order, stream-level handlers of modules — and this file
 * only says:
 * - the header must name this server's domain (RFC 6120 §4.7.2) in jabber:client, version 1.0;
 * - before authentication: SASL (sasl-negotiation.ts), SASL2 with Bind 2 inline (sasl2.ts) and
 *   the IQs modules allow (XEP-0077);
 * - after it: resource binding (bind.ts) and the legacy session no-op (RFC 3921 §3);
 * - once bound: stanzas only, `from` checked and stamped (RFC 6120 §8.1.2.1), handed to the
 *   session, which owns everything after (filters, router).
 */
import { Element, NS_BIND, NS_CLIENT, NS_SASL, NS_SESSION, StanzaError, StreamError, errorReply, tryParseJid, x } from "@switchboard/xml";
import { iqResult, type Host, type LocalSession, type Session, type SessionConnection } from "@switchboard/core";
import { StreamEngine, type StreamPolicy, type Transport } from "@switchboard/stream";
import type { SecureContext } from "node:tls";
import type { C2sOptions } from "./options.js";
import { NS_SASL2, SaslNegotiation } from "./sasl-negotiation.js";
import { bindResource, openResource, type BindRefusal } from "./bind.js";
import { Sasl2Exchange, authenticationFeature } from "./sasl2.js";
import { completeSasl2 } from "./sasl2-inline.js";
import { fastAfterSuccess, tokenSeal, type FastContext } from "./fast.js";
import { clientTraffic, type ClientTraffic } from "./traffic.js";
import type { RateCredit, UserRate } from "./user-rate.js";
import { holdAtMost } from "./handshake-slots.js";

/** A client stream: the engine with the client policy; `rate`: the per-user rate limits (user-rate.ts). */
export function openClientStream(host: Host, transport: Transport, opts: C2sOptions, onAuthenticated?: () => void, rate?: UserRate): StreamEngine {
  return new StreamEngine(host, transport, new ClientPolicy(host, opts, onAuthenticated, rate));
}

/**
 * The stream as the session's connection. A class rather than an object of closures: one of
 * these lives per connection, and tsx (esbuild keepNames) gives every closure made as an object
 * literal value a `name` property of its own (~300 bytes each).
 */
class StreamConnection implements SessionConnection {
  /** the session carried, once bound or resumed (its traffic is counted here) */
  session?: Session;
  constructor(
    private readonly stream: StreamEngine,
    private readonly traffic: ClientTraffic,
  ) {}
  get ip(): string {
    return this.stream.ip;
  }
  get secure(): boolean {
    return this.stream.secure;
  }
  get transport(): string {
    return this.stream.transport.kind;
  }
  write(stanza: Element): "written" | "refused" {
    const before = this.stream.bytesOut;
    const outcome = this.stream.send(stanza);
    if (outcome === "written") this.traffic.wrote(this.session, stanza, this.stream.bytesOut - before);
    return outcome;
  }
  get congested(): boolean {
    return this.stream.congested;
  }
  close(error?: StreamError): void {
    this.stream.close(error);
  }
  abort(reason: string): void {
    this.stream.destroy(reason);
  }
}

class ClientPolicy implements StreamPolicy {
  readonly namespace = NS_CLIENT;
  private sasl?: SaslNegotiation;
  /** XEP-0388, made at its first element */
  private sasl2Exchange?: Sasl2Exchange;
  private username?: string;
  private session?: Session;
  private connection?: StreamConnection;
  private readonly traffic: ClientTraffic;
  /** what this stream took from its user's rate buckets and has not spent (user-rate.ts) */
  private credit?: RateCredit;
  /** the stream's byte count when the last stanza was read (the next one's size is the rest) */
  private readMark = 0;

  /** `onAuthenticated`: the connection no longer counts as unauthenticated (admission.ts) */
  constructor(
    private readonly host: Host,
    private readonly opts: C2sOptions,
    private readonly onAuthenticated?: () => void,
    private readonly rate?: UserRate,
  ) {
    this.traffic = clientTraffic(host);
  }

  // Read from the shared options (one object for every connection), not copied per connection.
  get tlsContext(): SecureContext | undefined {
    return this.opts.tlsContext;
  }
  get requireTls(): boolean {
    return this.opts.requireTls;
  }
  get tlsHandshakeMs(): number {
    return this.opts.tlsHandshakeMs;
  }
  get handshakeTimeoutMs(): number {
    return this.opts.handshakeTimeoutMs;
  }
  get outboundBufferBytes(): number {
    return this.opts.outboundBufferBytes;
  }
  get congestionTimeoutMs(): number {
    return this.opts.congestionTimeoutMs;
  }

  /** the engine's congestion report, handed to whoever reacts on the outgoing path (modules/congestion) */
  congestion(stream: StreamEngine, state: "congested" | "relieved"): void {
    const session = this.session;
    if (!session || session.closed || session.currentConnection !== this.connection) return;
    void this.host.hooks.fire("session/congestion", { session, state }).catch((err: unknown) => stream.log.error({ err }, "session/congestion handler failed"));
  }

  /** limits.maxConcurrentHandshakes for STARTTLS (handshake-slots.ts) */
  admitTls(start: (release: () => void) => void): (() => void) | undefined {
    const slots = this.opts.handshakeSlots;
    if (!slots) {
      start(() => {});
      return () => {};
    }
    return slots.request("tls", (release) => start(holdAtMost(release)));
  }

  checkHeader(stream: StreamEngine, attrs: Record<string, string>): StreamError | undefined {
    // RFC 7395 §3.3.2: a WebSocket <open/> is in the framing namespace; the transport checked it.
    if (stream.transport.kind !== "websocket" && attrs.xmlns !== undefined && attrs.xmlns !== NS_CLIENT) {
      return new StreamError("invalid-namespace", "the default namespace must be jabber:client");
    }
    const to = attrs.to ? tryParseJid(attrs.to) : undefined;
    if (!to || to.domain !== this.host.domain || to.local) return new StreamError("host-unknown", `this server serves ${this.host.domain}`);
    if (attrs.version && Number.parseFloat(attrs.version) < 1) return new StreamError("unsupported-version", "XMPP 1.0 or later is required");
    return undefined;
  }

  features(stream: StreamEngine): Element[] {
    if (stream.state === "connected" || stream.state === "secured") {
      const sasl = this.saslFor(stream);
      const features = [sasl.mechanismsFeature()];
      const channelBinding = sasl.channelBindingFeature();
      if (channelBinding) features.push(channelBinding);
      features.push(authenticationFeature(this.host, features[0]!, this.fastContext(stream, sasl)));
      for (const feature of this.host.streamFeatures.preAuth) features.push(feature());
      return features;
    }
    if (stream.state === "authenticated") {
      const features = [x("bind", { xmlns: NS_BIND }), x("session", { xmlns: NS_SESSION }, x("optional"))];
      for (const feature of this.host.streamFeatures.postAuth) features.push(feature());
      return features;
    }
    return [];
  }

  async element(stream: StreamEngine, el: Element): Promise<void> {
    switch (stream.state) {
      case "connected":
      case "secured":
        return this.beforeAuth(stream, el);
      case "authenticated":
        return this.beforeBind(stream, el);
      case "bound":
        return this.stanza(stream, el);
    }
  }

  ended(stream: StreamEngine, reason: string, abrupt: boolean): void {
    this.onAuthenticated?.();
    this.sasl = undefined;
    if (this.session && this.connection) void this.host.sessions.connectionLost(this.session, this.connection, reason, abrupt);
    else stream.log.debug({ reason }, "connection closed");
  }

  // ---------------------------------------------------------------------------------------
  // Before authentication: SASL (RFC 6120 §6) and the IQs modules allow

  private saslFor(stream: StreamEngine): SaslNegotiation {
    // A new negotiation after STARTTLS: the mechanisms offered depend on the channel (PLAIN, -PLUS).
    if (this.sasl && this.sasl.tls === stream.secure) return this.sasl;
    const admission = { budget: this.opts.loginBudget, slots: this.opts.handshakeSlots, closed: () => stream.closed };
    const bindings = stream.secure ? stream.transport.channelBindings?.() : undefined;
    return (this.sasl = new SaslNegotiation(this.host, stream.ip, stream.secure, (e) => stream.send(e), this.opts.unknownUserSecret, admission, bindings));
  }

  private async beforeAuth(stream: StreamEngine, el: Element): Promise<void> {
    if (el.attrs.xmlns === NS_SASL2) return this.sasl2(stream, el);
    if (el.attrs.xmlns === NS_SASL) {
      this.sasl2Exchange?.reset();
      const outcome = await this.saslFor(stream).handle(el);
      if (!outcome.done) return;
      if ("username" in outcome) {
        this.username = outcome.username;
        this.sasl = undefined; // its mechanism state is no longer needed
        stream.authenticated(`${outcome.username}@${this.host.domain}`);
        this.onAuthenticated?.();
        stream.log.info({ user: stream.account }, "authenticated");
        return;
      }
      if (outcome.closeStream) return stream.close(new StreamError("policy-violation", "too many failed authentication attempts"));
      return;
    }
    if (el.name === "iq") {
      const payload = el.getChildElements()[0];
      const handler = payload && this.host.streamFeatures.findPreAuthIq(payload.attrs.xmlns ?? "");
      if (handler) {
        try {
          const out = await handler(el, payload, { ip: stream.ip, secure: stream.secure });
          stream.send(stripAddresses(iqResult(el, out ?? undefined)));
        } catch (err) {
          if (!(err instanceof StanzaError)) throw err;
          stream.send(stripAddresses(errorReply(el, err.condition, err.text, err.type)));
        }
        return;
      }
    }
    stream.close(new StreamError("not-authorized", "authenticate first"));
  }

  private fastContext(stream: StreamEngine, sasl: SaslNegotiation): FastContext {
    return { seal: tokenSeal(this.opts.unknownUserSecret), secure: stream.secure, bindings: sasl.bindings };
  }

  /** XEP-0388: <authenticate/>, <response/>, <abort/>; on success the stream is authenticated without a restart. */
  private async sasl2(stream: StreamEngine, el: Element): Promise<void> {
    const sasl = this.saslFor(stream);
    const fast = this.fastContext(stream, sasl);
    const { outcome, request } = await (this.sasl2Exchange ??= new Sasl2Exchange(this.host)).handle(sasl, el, fast);
    if (!outcome.done) return;
    if ("username" in outcome && request) {
      this.username = outcome.username;
      this.sasl = undefined;
      stream.authenticated(`${outcome.username}@${this.host.domain}`, { restart: false });
      this.onAuthenticated?.();
      stream.log.info({ user: stream.account, sasl2: true }, "authenticated");
      const policy = { bind: (s: StreamEngine, resource: string) => this.bindTo(s, resource), features: (s: StreamEngine) => this.features(s) };
      const token = await fastAfterSuccess(this.host, request, fast, outcome.username);
      return completeSasl2(this.host, stream, policy, request, outcome.username, outcome.data, (e) => sasl.reply(e), token);
    }
    if ("closeStream" in outcome && outcome.closeStream) return stream.close(new StreamError("policy-violation", "too many failed authentication attempts"));
  }

  // ---------------------------------------------------------------------------------------
  // After authentication: resource binding (RFC 6120 §7)

  /** XEP-0386: binds the resource Bind 2 made up, as <bind/> would. */
  private bindTo(stream: StreamEngine, resource: string): Promise<BindRefusal | undefined> {
    const connection = new StreamConnection(stream, this.traffic);
    return openResource(this.host, connection, this.username!, resource, (session) => {
      this.session = session;
      this.connection = connection;
      connection.session = session;
      this.readMark = stream.bytesIn;
      stream.bound(session);
      stream.log.info({ jid: session.jid.full }, "resource bound (bind2)");
    }, this.opts.maxSessionsPerUser);
  }

  private async beforeBind(stream: StreamEngine, el: Element): Promise<void> {
    if (el.name === "iq" && el.attrs.type === "set") {
      const bind = el.getChild("bind", NS_BIND);
      if (bind) {
        const connection = new StreamConnection(stream, this.traffic);
        const result = await bindResource(this.host, connection, this.username!, el, bind, (session, reply) => {
          this.session = session;
          this.connection = connection;
          connection.session = session;
          this.readMark = stream.bytesIn;
          stream.bound(session);
          stream.send(reply);
          stream.log.info({ jid: session.jid.full }, "resource bound");
        }, this.opts.maxSessionsPerUser);
        if (result) stream.send(result);
        return;
      }
      if (isLegacySession(el, this.host.domain)) return void stream.send(stripAddresses(iqResult(el)));
    }
    stream.close(new StreamError("not-authorized", "bind a resource first"));
  }

  /** XEP-0198 §5: the stream carries a session resumed from elsewhere instead of binding one. */
  async resume(stream: StreamEngine, take: (connection: SessionConnection) => Promise<LocalSession | undefined>): Promise<LocalSession | undefined> {
    const connection = new StreamConnection(stream, this.traffic);
    const session = (await take(connection)) as Session | undefined;
    if (!session) return undefined;
    if (stream.state !== "authenticated") {
      // The connection went while the session was taken over: it is lost as after a drop.
      await this.host.sessions.connectionLost(session, connection, "connection lost while resuming");
      return undefined;
    }
    this.session = session;
    this.connection = connection;
    connection.session = session;
    this.readMark = stream.bytesIn;
    stream.bound(session);
    stream.log.info({ jid: session.jid.full }, "session resumed");
    return session;
  }

  // ---------------------------------------------------------------------------------------
  // Bound: check, stamp and hand to the session (RFC 6120 §8.1.2.1)

  private async stanza(stream: StreamEngine, el: Element): Promise<void> {
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") {
      return stream.close(new StreamError("unsupported-stanza-type", `<${el.name}/> is not a stanza`));
    }
    if (el.attrs.xmlns && el.attrs.xmlns !== NS_CLIENT) {
      return stream.close(new StreamError("invalid-namespace", "stanzas must be in jabber:client"));
    }
    const session = this.session!;
    const read = stream.bytesIn;
    const bytes = read - this.readMark;
    this.traffic.read(session, el, bytes);
    this.readMark = read;
    const jid = session.jid;
    const claimed = el.attrs.from;
    if (claimed !== undefined && claimed !== jid.full && claimed !== jid.bare) {
      const parsed = tryParseJid(claimed);
      if (!parsed || (parsed.full !== jid.full && parsed.full !== jid.bare)) {
        stream.log.warn({ from: claimed }, "spoofed from address");
        return stream.close(new StreamError("invalid-from", "the from address does not match your JID"));
      }
    }
    if (isLegacySession(el, this.host.domain)) return void stream.send(stripAddresses(iqResult(el)));
    // Over the user's rate the stanza waits here, reading paused (user-rate.ts).
    // The rate is charged the stanza's own size: `bytes` (what was read since the last stanza)
    // lumps together whatever arrived while earlier stanzas were processed.
    const waiting = this.rate?.admit(stream, jid.bare, stream.sizeOf(el) ?? bytes, (this.credit ??= this.rate.credit()));
    if (waiting && !(await waiting)) return this.flooded(stream, el);
    // The element was parsed for this stream alone: stamping it is not a shared mutation.
    delete el.attrs.xmlns;
    el.attrs.from = jid.full;
    // The sampling decision (core tracing.ts): a sampled stanza's trace starts here.
    const span = this.host.traces.start(el);
    if (span) return this.host.traces.within(el, span, () => session.receive(el));
    await session.receive(el);
  }

  /** The user flooded past limits.floodSeconds: the held stanza is answered, the stream closed. */
  private flooded(stream: StreamEngine, el: Element): void {
    if (stream.state === "closed") return;
    const text = floodedText(this.rate!);
    if ((el.name === "message" || el.name === "iq") && el.attrs.type !== "error" && el.attrs.type !== "result") {
      const reply = errorReply(el, "policy-violation", `not delivered: ${text}`, "wait");
      if (this.session) reply.attrs.to = this.session.jid.full;
      stream.send(reply);
    }
    stream.log.warn({ jid: this.session?.jid.full }, "disconnected for flooding");
    stream.close(new StreamError("policy-violation", text));
  }
}

/** Module-level so the class stays about the stream's phases. */
function floodedText(rate: UserRate): string {
  return `you stayed over this server's per-user rate (${rate.describe()}) for too long (limits.floodSeconds)`;
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
