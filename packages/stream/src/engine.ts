/**
 * The stream engine (RFC 6120 §4–§5): one XML stream over a transport, with explicit states and
 * a policy that says what this kind of stream does in each. c2s supplies a client policy
 * (c2s-policy.ts in @switchboard/c2s); s2s will supply its own. The engine owns:
 *
 *   connected ──STARTTLS──▶ secured ──auth──▶ authenticated ──bind──▶ bound ──▶ closed
 *        └──────────────(TLS not required)──▶ ┘
 *
 * - the transitions (the only way `state` changes; anything else throws),
 * - stream headers, restarts and the features element (STARTTLS itself; the rest from policy),
 * - STARTTLS, and the time bounds on TLS and on the whole negotiation,
 * - stream-level elements: modules' handlers by (state, namespace, name) first
 *   (host.streamHandlers), then the policy,
 * - input order (one element at a time, RFC 6120 §10.1) with backpressure on the transport,
 * - the one write path to the peer, `send()`, which says whether the element was written, and
 *   the state of its outbound queue (congestion.ts): past `limits.outboundBufferBytes` the
 *   stream is congested and tells the policy, which tells the session; back under half of it,
 *   relieved; no progress for `limits.congestionTimeoutSeconds`, cut.
 */
import { randomBytes } from "node:crypto";
import { Element, NS_STREAM, NS_TLS, StreamError, errorReply, x } from "@switchboard/xml";
import { congestionCounter, type Host, type LocalSession, type Logger, type SessionConnection, type StreamElementContext, type StreamState } from "@switchboard/core";
import type { SecureContext } from "node:tls";
import type { Transport } from "./transport.js";
import { CongestionWatch, type CongestionChange } from "./congestion.js";

/** Stanzas waiting to be processed before reading from the peer pauses. */
const MAX_QUEUED = 64;

const TRANSITIONS: Readonly<Record<StreamState, readonly StreamState[]>> = {
  connected: ["secured", "authenticated", "closed"],
  secured: ["authenticated", "closed"],
  authenticated: ["bound", "closed"],
  bound: ["closed"],
  closed: [],
};

export class StreamStateError extends Error {
  override name = "StreamStateError";
}

/**
 * Why reading is paused: the stream's own backlog ("queue"), the whole process ("overload"),
 * the sender's rate limit ("rate"), a STARTTLS waiting for a handshake slot ("tls": the
 * ClientHello stays unread); several may hold at once.
 */
export type PauseReason = "queue" | "overload" | "rate" | "tls" | "congested";
const PAUSE_BIT: Readonly<Record<PauseReason, number>> = { queue: 1, overload: 2, rate: 4, tls: 8, congested: 16 };

export interface StreamPolicy {
  /** the stream's content namespace: jabber:client (jabber:server for s2s) */
  readonly namespace: string;
  /** TLS material for STARTTLS; undefined disables it */
  readonly tlsContext?: SecureContext;
  /** TLS must be up before anything else (RFC 6120 §5.3.1 "mandatory-to-negotiate") */
  readonly requireTls: boolean;
  /** limits.tlsHandshakeSeconds: accept → TLS up when TLS is required, or <starttls/> → TLS up */
  readonly tlsHandshakeMs: number;
  /**
   * Admission of a STARTTLS handshake (limits.maxConcurrentHandshakes in c2s): calls `start`
   * with the slot's release once the handshake may begin (at once when a slot is free), and
   * returns a cancel for a stream that closes while it waits; undefined when refused (no slot
   * will come: the connection is cut, the peer already speaking TLS). Without it TLS starts at once.
   */
  admitTls?(start: (release: () => void) => void): (() => void) | undefined;
  /** limits.handshakeTimeoutSeconds: accept → bound */
  readonly handshakeTimeoutMs: number;
  /** the outbound queue's high-water mark in bytes: above it the stream is congested (congestion.ts) */
  readonly outboundBufferBytes: number;
  /** a congested stream whose queue does not shrink for this long is cut (limits.congestionTimeoutSeconds) */
  readonly congestionTimeoutMs: number;
  /** the outbound queue crossed the high-water mark, or is back under half of it (not called for "stalled": the stream is cut) */
  congestion?(stream: StreamEngine, change: Exclude<CongestionChange, "stalled">): void;
  /** the peer opened (or reopened) its stream: the error to close with, or undefined */
  checkHeader(stream: StreamEngine, attrs: Record<string, string>): StreamError | undefined;
  /**
   * Our stream header's attributes besides the id (default: `from` the server's domain, version
   * 1.0, xml:lang en); `peer` is the peer's header, undefined when an error comes before it. A
   * header without `version` is a pre-RFC 6120 stream (XEP-0114 §3 jabber:component:accept) and
   * no features follow it. s2s answers from the domain the peer addressed, to the peer's, with
   * `xmlns:db` (XEP-0220 §2.1).
   */
  ownHeader?(peer: Record<string, string> | undefined): Record<string, string>;
  /** features after the header in the current state (STARTTLS, when offered, comes first) */
  features(stream: StreamEngine): Element[];
  /** an element that neither the engine nor a module's stream-level handler took */
  element(stream: StreamEngine, el: Element): Promise<void>;
  /** a XEP-0198 resumption: binds the stream to an existing session (StreamElementContext.resumeSession) */
  resume?(stream: StreamEngine, take: (connection: SessionConnection) => Promise<LocalSession | undefined>): Promise<LocalSession | undefined>;
  /**
   * the stream is over; runs exactly once. `abrupt`: the connection went away without either side
   * closing the XML stream (a network drop, a cut connection) — the only ending after which
   * XEP-0198 lets a client resume; a closed stream or a stream error ends the session for good.
   */
  ended(stream: StreamEngine, reason: string, abrupt: boolean): void;
}

let connectionSeq = 0;


export class StreamEngine implements StreamElementContext {
  /** connection id, for logs */
  readonly id: string;
  private state_: StreamState;
  private account_?: string;
  private session_?: StreamElementContext["session"];
  private logger?: Logger;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /**
   * Each element's size as the transport read it. Elements wait in `queue` while earlier ones
   * are processed, and reading goes on meanwhile, so bytesIn at processing time says nothing
   * about one element: a per-user byte rate charged from it let a queued burst through nearly
   * free (the first element paid for all, capped at the bucket, the others nothing).
   */
  private readonly sizes = new WeakMap<Element, number>();
  /** two flags, not a Set: one per connection */
  /** PAUSE_BIT of every reason that holds */
  private pausedFor = 0;
  private handshakeTimer?: NodeJS.Timeout;
  private tlsTimer?: NodeJS.Timeout;
  private upgrading = false;
  /** a <starttls/> waiting for a handshake slot: how to leave the queue and end the wait */
  private tlsWait?: { cancel: () => void; done: () => void };
  /** our stream header was sent since the last restart (an error must follow one) */
  private headerSent = false;
  private ended_ = false;
  private watch_?: CongestionWatch;
  private streamId_ = "";
  /** writes refused past the hard cap since the last log line (one line per episode) */
  private refusedWrites = 0;

  constructor(
    readonly host: Host,
    readonly transport: Transport,
    readonly policy: StreamPolicy,
  ) {
    this.id = `${host.nodeId}:${(++connectionSeq).toString(36)}${randomBytes(3).toString("hex")}`;
    // A plain stream starts in "connected" (STARTTLS offered); direct TLS and wss start secured.
    this.state_ = transport.secure ? "secured" : "connected";
    transport.on("open", (attrs) => this.onOpen(attrs));
    transport.on("element", (el, bytes) => {
      this.sizes.set(el, bytes);
      this.enqueue(el);
    });
    transport.on("end", () => this.close(undefined, "client closed the stream"));
    transport.on("error", (err) => this.close(err));
    transport.on("disconnect", (reason) => this.finish(reason, true));
    this.handshakeTimer = setTimeout(() => {
      if (this.state_ !== "bound") this.close(new StreamError("connection-timeout", "stream negotiation took too long"));
    }, policy.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    // With TLS required nothing useful can happen in the clear: the handshake must be done
    // within the TLS bound of accepting the connection.
    if (this.state_ === "connected" && policy.requireTls && this.canStartTls) this.startTlsDeadline();
    this.log.debug({ ip: transport.ip, transport: transport.kind }, "connection opened");
  }

  /** Connection-scoped log (every line carries `conn`); made on first use, idle streams never pay for it. */
  get log(): Logger {
    return (this.logger ??= this.host.log.child({ conn: this.id }));
  }

  get state(): StreamState {
    return this.state_;
  }

  get closed(): boolean {
    return this.state_ === "closed";
  }

  get ip(): string {
    return this.transport.ip;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  /** the id of our current stream header (XEP-0114 §3 hashes it with the component's secret) */
  get streamId(): string {
    return this.streamId_;
  }

  get account(): string | undefined {
    return this.account_;
  }

  get session(): StreamElementContext["session"] {
    return this.session_;
  }

  private get canStartTls(): boolean {
    return this.transport.canStartTls && this.policy.tlsContext !== undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Transitions: the only way the state changes

  private transition(to: StreamState): void {
    if (!TRANSITIONS[this.state_].includes(to)) throw new StreamStateError(`a stream cannot go from ${this.state_} to ${to}`);
    this.state_ = to;
  }

  /**
   * SASL succeeded (RFC 6120 §6.4.6): the peer restarts the stream. `restart: false` for
   * XEP-0388 (SASL2), which has no restart: the stream goes on as it is, for a handshake that
   * keeps the stream (XEP-0114 §3) and for Server Dialback (XEP-0220 §2.4).
   */
  authenticated(account: string, { restart = true }: { restart?: boolean } = {}): void {
    this.transition("authenticated");
    this.account_ = account;
    if (!restart) return;
    this.transport.restartStream();
    this.headerSent = false;
  }

  /**
   * A resource is bound (RFC 6120 §7) to this session, or (no session) a stream that carries
   * none is ready for stanzas (a component, XEP-0114; a server stream once its first domain is
   * authenticated); the negotiation deadline is off.
   */
  bound(session?: NonNullable<StreamElementContext["session"]>): void {
    this.transition("bound");
    this.session_ = session;
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  resumeSession(take: (connection: SessionConnection) => Promise<LocalSession | undefined>): Promise<LocalSession | undefined> {
    if (this.state_ !== "authenticated" || !this.policy.resume) return Promise.resolve(undefined);
    return this.policy.resume(this, take);
  }

  // ---------------------------------------------------------------------------------------
  // Output: the one write path to the peer

  send(el: Element): "written" | "refused" {
    if (this.state_ === "closed") return "refused";
    const watch = this.watch;
    // A peer that reads slowly is congested, not an error: the session's outgoing path holds or
    // diverts what can wait. What is written anyway stops at the hard cap, so memory stays bounded.
    if (watch.full) {
      if (this.refusedWrites++ === 0) this.log.warn({ buffered: this.transport.bufferedBytes(), highWater: this.policy.outboundBufferBytes }, "outbound queue at its hard cap, refusing writes");
      congestionCounter(this.host).add(1, { action: "refused" });
      return "refused";
    }
    this.bytesOut += this.transport.send(el);
    watch.wrote();
    return "written";
  }

  /** the outbound queue is past its high-water mark (congestion.ts) */
  get congested(): boolean {
    return this.watch_?.congested ?? false;
  }

  /** made at the first write: a connection that never writes has none */
  private get watch(): CongestionWatch {
    return (this.watch_ ??= new CongestionWatch(
      { bufferedBytes: () => this.transport.bufferedBytes(), writtenBytes: () => this.bytesOut },
      this.policy.outboundBufferBytes,
      this.policy.congestionTimeoutMs,
      (change) => this.congestionChanged(change),
    ));
  }

  private congestionChanged(change: CongestionChange): void {
    const buffered = this.transport.bufferedBytes();
    if (change === "congested") {
      this.log.info({ buffered, highWater: this.policy.outboundBufferBytes }, "outbound queue past its high-water mark: congested");
      // A peer that does not read what it is sent is not read from either until it catches up:
      // what it sends meanwhile would make answers (results, errors, bounces of its own messages)
      // that its queue could only refuse at the hard cap. It waits in its own TCP window instead.
      this.pauseReading("congested");
    } else if (change === "relieved") {
      this.resumeReading("congested");
      this.log.info({ buffered, seconds: (Date.now() - this.watch.since) / 1000, refusedWrites: this.refusedWrites }, "outbound queue under half its high-water mark: relieved");
      this.refusedWrites = 0;
    } else {
      this.log.warn({ buffered, timeoutMs: this.policy.congestionTimeoutMs }, "congested and no progress within limits.congestionTimeoutSeconds, closing");
      congestionCounter(this.host).add(1, { action: "closed" });
      // The peer reads nothing: a stream error would never reach it. Cut as a network drop
      // would, so a stream-management session can still be resumed (and its unacknowledged
      // stanzas are kept or rerouted, nothing lost).
      this.destroy("congested: no progress within limits.congestionTimeoutSeconds");
      return;
    }
    this.policy.congestion?.(this, change);
  }

  /** bytes written to the peer so far (stanzas and stream elements, not the stream header) */
  bytesOut = 0;

  /** bytes read from the peer so far */
  get bytesIn(): number {
    return this.transport.bytesIn;
  }

  /** the size on the wire of an element this stream read (undefined for one it did not) */
  sizeOf(el: Element): number | undefined {
    return this.sizes.get(el);
  }

  /** `reason` is what the log says; by default "closed by server" or the stream error. */
  close(error?: StreamError, reason?: string): void {
    if (this.state_ === "closed") return;
    if (error) this.log.info({ condition: error.condition, text: error.text }, "closing stream with error");
    // RFC 6120 §4.9.1.1: an error before the peer opened its stream still follows our header.
    if (error && !this.headerSent) this.openOwnStream(undefined);
    this.state_ = "closed";
    this.transport.closeStream(error);
    this.finish(reason ?? (error ? `stream error ${error.condition}` : "closed by server"), false);
  }

  /**
   * Cuts the connection without a goodbye (a stuck handshake, a peer that stopped reading, a
   * drain handing stream-management sessions on): the XML stream is left open, as after a
   * network drop, so a session it carried may be resumed.
   */
  destroy(reason: string): void {
    this.state_ = "closed";
    this.finish(reason, true); // before the transport's own "destroyed" disconnect can name it
    this.transport.destroy();
  }

  private finish(reason: string, abrupt: boolean): void {
    if (this.ended_) return;
    this.ended_ = true;
    this.state_ = "closed";
    this.watch_?.stop();
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.tlsTimer);
    if (this.tlsWait) {
      this.tlsWait.cancel();
      this.tlsWait.done();
      this.tlsWait = undefined;
    }
    this.policy.ended(this, reason, abrupt);
  }

  // ---------------------------------------------------------------------------------------
  // Header and features (RFC 6120 §4.2, §4.3)

  /** Writes our header; true when it is an RFC 6120 one (with a version: features follow). */
  private openOwnStream(peer: Record<string, string> | undefined): boolean {
    this.headerSent = true;
    this.streamId_ = randomBytes(8).toString("hex");
    const attrs = this.policy.ownHeader?.(peer) ?? { from: this.host.domain, version: "1.0", "xml:lang": "en" };
    this.transport.openStream({ id: this.streamId_, ...attrs });
    return attrs.version !== undefined;
  }

  private onOpen(attrs: Record<string, string>): void {
    if (this.state_ === "closed") return;
    const withFeatures = this.openOwnStream(attrs);
    const error = this.policy.checkHeader(this, attrs);
    if (error) return this.close(error);
    if (withFeatures) this.send(this.features());
  }

  private features(): Element {
    const f = x("stream:features", { "xmlns:stream": NS_STREAM });
    if (this.state_ === "connected" && this.canStartTls) {
      f.cnode(x("starttls", { xmlns: NS_TLS }, this.policy.requireTls ? x("required") : undefined));
      if (this.policy.requireTls) return f;
    }
    for (const feature of this.policy.features(this)) f.cnode(feature);
    return f;
  }

  // ---------------------------------------------------------------------------------------
  // Input: one element at a time, so one sender's stanzas keep their order (RFC 6120 §10.1)

  private enqueue(el: Element): void {
    if (this.state_ === "closed") return;
    this.queued++;
    if (this.queued > MAX_QUEUED) this.pauseReading("queue");
    this.queue = this.queue
      .then(() => this.process(el))
      .catch((err) => {
        this.log.error({ err }, "stanza processing failed");
        if (this.state_ === "bound" && (el.name === "iq" || el.name === "message") && el.attrs.type !== "error" && el.attrs.type !== "result") {
          this.send(errorReply(el, "internal-server-error"));
        }
      })
      .finally(() => {
        this.queued--;
        if (this.queued <= MAX_QUEUED / 2) this.resumeReading("queue");
      });
  }

  /** Stops reading from the peer; several reasons may hold at once, reading resumes when none does. */
  pauseReading(reason: PauseReason): void {
    const bit = PAUSE_BIT[reason];
    if (this.pausedFor & bit) return;
    const wasReading = this.pausedFor === 0;
    this.pausedFor |= bit;
    if (wasReading) this.transport.pause();
  }

  resumeReading(reason: PauseReason): void {
    const bit = PAUSE_BIT[reason];
    if (!(this.pausedFor & bit)) return;
    this.pausedFor &= ~bit;
    if (this.pausedFor === 0 && this.state_ !== "closed") this.transport.resume();
  }

  private async process(el: Element): Promise<void> {
    if (this.state_ === "closed") return;
    const handler = this.host.streamHandlers.find(this.state_, el);
    if (handler) return handler(this, el);
    if (this.state_ === "connected") {
      if (el.name === "starttls" && el.attrs.xmlns === NS_TLS) return this.startTls();
      if (this.policy.requireTls) return this.close(new StreamError("policy-violation", "STARTTLS is required before anything else"));
    }
    return this.policy.element(this, el);
  }

  // ---------------------------------------------------------------------------------------
  // STARTTLS (RFC 6120 §5)

  private startTlsDeadline(): void {
    if (this.tlsTimer) return;
    this.tlsTimer = setTimeout(() => {
      if (this.state_ !== "connected") return;
      this.log.info("TLS not negotiated within limits.tlsHandshakeSeconds, closing");
      // Mid-handshake the peer cannot read a stream error any more: just cut it.
      if (this.upgrading) this.destroy("TLS handshake not completed in time");
      else this.close(new StreamError("connection-timeout", "TLS was not negotiated in time"));
    }, this.policy.tlsHandshakeMs);
    this.tlsTimer.unref();
  }

  private startTls(): Promise<void> | void {
    if (!this.canStartTls) {
      this.send(x("failure", { xmlns: NS_TLS }));
      return this.close();
    }
    // A wait for a handshake slot counts against limits.tlsHandshakeSeconds like the handshake.
    this.startTlsDeadline();
    if (!this.policy.admitTls) return this.upgradeTls(noop);
    // <proceed/> goes at once (COMPAT: xmpp.js gives up on STARTTLS when it waits more than 2 s
    // for it; TLS clients wait for the ServerHello far longer), and the ClientHello that follows
    // stays unread until the handshake has a slot. From here on the peer speaks TLS: a deadline
    // cuts the connection rather than writing a stream error in the clear.
    this.pauseReading("tls");
    this.send(x("proceed", { xmlns: NS_TLS }));
    this.upgrading = true;
    return new Promise<void>((done) => {
      let granted = false;
      const cancel = this.policy.admitTls!((release) => {
        granted = true;
        this.tlsWait = undefined;
        if (this.state_ !== "connected") {
          release();
          return done();
        }
        void this.handshake(release).finally(done);
      });
      if (!cancel) {
        this.log.warn("STARTTLS refused: the handshake wait queue is full");
        this.destroy("handshake wait queue full");
        return done();
      }
      if (!granted) this.tlsWait = { cancel, done };
    });
  }

  /** <proceed/> and the handshake at once (no admission). */
  private upgradeTls(release: () => void): Promise<void> {
    this.send(x("proceed", { xmlns: NS_TLS }));
    this.upgrading = true;
    return this.handshake(release);
  }

  private async handshake(release: () => void): Promise<void> {
    try {
      await this.transport.startTls(this.policy.tlsContext!);
      if (this.state_ !== "connected") return; // timed out or closed meanwhile
      this.transition("secured");
      this.headerSent = false;
      clearTimeout(this.tlsTimer);
    } catch (err) {
      this.log.info({ err: (err as Error).message }, "TLS handshake failed");
      this.destroy("TLS handshake failed");
    } finally {
      this.upgrading = false;
      release();
      this.resumeReading("tls");
    }
  }


}

function noop(): void {}
