/**
 * The server policy of the stream engine for inbound streams (RFC 6120 §4–§5 for `jabber:server`,
 * XEP-0220 Server Dialback as the receiving and as the authoritative server). The engine does
 * the header, STARTTLS (required by default, s2s.requireTls), the time bounds and the order;
 * this file says:
 * - the header must be in jabber:server and name a domain we serve (else <host-unknown/>);
 * - after TLS: the dialback feature, <db:result/> checked with the originating domain's
 *   authoritative server (outbound.ts) and <db:verify/> answered from our own key;
 * - once a domain is authenticated (the engine's "bound": a server stream has no session),
 *   stanzas only, each `from` of a domain this stream authenticated (else <invalid-from/>) and
 *   each `to` of a domain we serve (else <host-unknown/>), handed to the router.
 */
import { Element, NS_SERVER, StreamError, tryParseJid, x } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import type { StreamEngine, StreamPolicy } from "@switchboard/stream";
import type { SecureContext } from "node:tls";
import { DialbackKeys, NS_DIALBACK, NS_DIALBACK_FEATURE, dbElement, dialbackElement } from "./dialback.js";
import type { S2sOptions } from "./options.js";

/** what an inbound stream needs from the rest of federation */
export interface InboundDeps {
  host: Host;
  opts: S2sOptions;
  keys: DialbackKeys;
  /** asks `originating`'s authoritative server whether the key is its own (XEP-0220 §2.3) */
  verifyKey(originating: string, request: { from: string; to: string; id: string; key: string }): Promise<"valid" | "invalid">;
  /** the stream has ended (connection accounting) */
  ended(stream: StreamEngine): void;
  /** `domain` just authenticated to us: it is up, whatever our last attempt to reach it said */
  remoteIsUp(domain: string): void;
}

const STANZAS = new Set(["message", "presence", "iq"]);

/**
 * Dialback checks one inbound stream may have in flight (XEP-0220 §2.5 piggybacking). Each makes
 * us resolve and connect to the domain it names: without a bound, one connection could send us
 * to any number of servers.
 */
export const MAX_PENDING_DIALBACK = 4;

export class InboundPolicy implements StreamPolicy {
  readonly namespace = NS_SERVER;
  /** remote domains this stream authenticated (several may share it, XEP-0220 §2.5 piggybacking) */
  private readonly verified = new Set<string>();
  /** remote domains whose key is being checked with their authoritative server */
  private readonly pending = new Set<string>();
  /** when the peer last sent an element; the idle check (s2s.idleSeconds) reads it */
  private lastInput = Date.now();
  private idleTimer?: NodeJS.Timeout;

  constructor(private readonly deps: InboundDeps) {}

  get tlsContext(): SecureContext {
    return this.deps.opts.tlsContext;
  }
  get requireTls(): boolean {
    return this.deps.opts.requireTls;
  }
  get tlsHandshakeMs(): number {
    return this.deps.opts.tlsHandshakeMs;
  }
  get handshakeTimeoutMs(): number {
    return this.deps.opts.handshakeTimeoutMs;
  }
  get outboundBufferBytes(): number {
    return this.deps.opts.outboundBufferBytes;
  }
  get congestionTimeoutMs(): number {
    return this.deps.opts.congestionTimeoutMs;
  }

  /** the domains this stream authenticated, for logs and tests */
  get remoteDomains(): readonly string[] {
    return [...this.verified];
  }

  private serves(domain: string): boolean {
    return this.deps.host.routes.resolve(domain).kind !== "remote";
  }

  private blocked(domain: string): boolean {
    return this.deps.opts.blockedDomains.includes(domain);
  }

  ownHeader(peer: Record<string, string> | undefined): Record<string, string> {
    // RFC 6120 §4.7.1: answer from the domain the peer asked for, to the one it said it is.
    const attrs: Record<string, string> = { from: this.deps.host.domain, version: "1.0", "xml:lang": "en", "xmlns:db": NS_DIALBACK };
    const to = peer?.to?.toLowerCase();
    if (to && this.serves(to)) attrs.from = to;
    const from = peer?.from ? tryParseJid(peer.from) : undefined;
    if (from && !from.local && !from.resource) attrs.to = from.domain;
    return attrs;
  }

  checkHeader(_stream: StreamEngine, attrs: Record<string, string>): StreamError | undefined {
    if (attrs.xmlns !== NS_SERVER) return new StreamError("invalid-namespace", "the default namespace must be jabber:server");
    const to = attrs.to?.toLowerCase();
    if (!to || !this.serves(to)) return new StreamError("host-unknown", `this server does not serve ${attrs.to ?? "(no 'to')"}`);
    if (this.requireTls && !(attrs.version && Number.parseFloat(attrs.version) >= 1)) {
      return new StreamError("unsupported-version", "XMPP 1.0 is required (STARTTLS)");
    }
    const from = attrs.from?.toLowerCase();
    if (from && this.blocked(from)) return this.refuseBlocked(from);
    return undefined;
  }

  features(stream: StreamEngine): Element[] {
    if (stream.state === "bound" || !this.deps.opts.allowDialback) return [];
    // XEP-0220 §2.1: dialback offered, with <errors/>: we understand type='error' results.
    return [x("dialback", { xmlns: NS_DIALBACK_FEATURE }, x("errors"))];
  }

  async element(stream: StreamEngine, el: Element): Promise<void> {
    this.lastInput = Date.now();
    const db = dialbackElement(el);
    if (db === "verify") return this.answerVerify(stream, el);
    if (db === "result") return this.authenticate(stream, el);
    if (stream.state !== "bound") return stream.close(new StreamError("not-authorized", "authenticate a domain first (Server Dialback)"));
    return this.stanza(stream, el);
  }

  ended(stream: StreamEngine, reason: string): void {
    clearTimeout(this.idleTimer);
    stream.log.debug({ reason, remote: this.remoteDomains }, "s2s stream closed");
    this.deps.ended(stream);
  }

  // ---------------------------------------------------------------------------------------
  // Server Dialback as the authoritative server (XEP-0220 §2.3): is this key ours?

  private answerVerify(stream: StreamEngine, el: Element): void {
    const receiving = el.attrs.from?.toLowerCase();
    const originating = el.attrs.to?.toLowerCase();
    const id = el.attrs.id;
    if (!receiving || !originating || !id) return stream.close(new StreamError("improper-addressing", "<db:verify/> needs from, to and id"));
    if (!this.serves(originating)) return stream.close(new StreamError("host-unknown", `this server does not serve ${originating}`));
    const valid = this.deps.keys.verify(receiving, originating, id, el.text());
    stream.log.info({ receiving, originating, valid }, "answered a dialback verification");
    stream.send(dbElement("verify", { from: originating, to: receiving, id, type: valid ? "valid" : "invalid" }));
  }

  // ---------------------------------------------------------------------------------------
  // Server Dialback as the receiving server (XEP-0220 §2.2, §2.4)

  private async authenticate(stream: StreamEngine, el: Element): Promise<void> {
    const originating = el.attrs.from?.toLowerCase();
    const receiving = el.attrs.to?.toLowerCase();
    if (!this.deps.opts.allowDialback) return stream.close(new StreamError("not-authorized", "Server Dialback is not accepted here (s2s.allowDialback)"));
    if (el.attrs.type) return stream.close(new StreamError("bad-format", "a <db:result/> request carries no type"));
    const from = originating ? tryParseJid(originating) : undefined;
    if (!originating || !receiving || !from || from.local || from.resource) {
      return stream.close(new StreamError("improper-addressing", "<db:result/> needs a domain in from and in to"));
    }
    if (!this.serves(receiving)) return stream.close(new StreamError("host-unknown", `this server does not serve ${receiving}`));
    if (this.blocked(originating)) return stream.close(this.refuseBlocked(originating));
    const reply = (type: string, error?: Element) => stream.send(dbElement("result", { from: receiving, to: originating, type }, error));
    if (this.verified.has(originating)) return void reply("valid");
    if (this.pending.has(originating)) return;
    if (this.pending.size >= MAX_PENDING_DIALBACK) {
      stream.log.warn({ pending: [...this.pending], originating }, "too many dialback checks in flight on one stream");
      return stream.close(new StreamError("policy-violation", `at most ${MAX_PENDING_DIALBACK} dialback requests may wait at once on a stream`));
    }
    this.pending.add(originating);
    // Not awaited: this stream must go on reading while the authoritative server is asked. Two
    // servers verifying each other at once would otherwise each wait for a <db:verify/> answer
    // queued behind its own question on the other's stream (a deadlock). Nothing else is
    // accepted from the domain until the answer is in.
    void this.completeDialback(stream, originating, receiving, el.text(), reply)
      .catch((err: unknown) => stream.log.error({ err }, "dialback failed"))
      .finally(() => this.pending.delete(originating));
  }

  private async completeDialback(stream: StreamEngine, originating: string, receiving: string, key: string, reply: (type: string, error?: Element) => void): Promise<void> {
    let answer: "valid" | "invalid";
    try {
      answer = await this.deps.verifyKey(originating, { from: receiving, to: originating, id: stream.streamId ?? "", key });
    } catch (err) {
      // XEP-0220 §2.4: we advertised <errors/>: a verification we could not make is an error
      // result, not a verdict; the peer may try again.
      stream.log.info({ originating, err: (err as Error).message }, "could not reach the authoritative server for dialback");
      if (!stream.closed) reply("error", x("error", { type: "cancel" }, x("remote-server-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
      return;
    }
    if (stream.closed) return;
    if (answer === "invalid") {
      stream.log.warn({ originating, ip: stream.ip }, "dialback key did not verify");
      reply("invalid");
      return stream.close(new StreamError("not-authorized", `the dialback key for ${originating} did not verify`));
    }
    this.verified.add(originating);
    this.deps.remoteIsUp(originating);
    reply("valid");
    if (stream.state !== "bound") {
      stream.authenticated(originating, { restart: false });
      stream.bound();
      this.armIdle(stream);
    }
    stream.log.info({ remote: originating, local: receiving }, "s2s stream authenticated by dialback");
  }

  /** s2s.idleSeconds: an authenticated stream the peer sent nothing on for that long is closed */
  private armIdle(stream: StreamEngine): void {
    const idleMs = this.deps.opts.idleMs;
    const due = this.lastInput + idleMs - Date.now();
    this.idleTimer = setTimeout(() => {
      if (stream.closed) return;
      if (Date.now() - this.lastInput >= idleMs) {
        stream.log.debug({ remote: this.remoteDomains }, "s2s stream idle for s2s.idleSeconds, closing");
        stream.close(undefined, "idle for s2s.idleSeconds");
      } else this.armIdle(stream);
    }, Math.max(due, 10));
    this.idleTimer.unref();
  }

  private refuseBlocked(domain: string): StreamError {
    this.deps.host.log.warn({ policy: "s2s.blockedDomains", domain }, "refused a blocked remote domain");
    return new StreamError("policy-violation", `${domain} is blocked here`);
  }

  // ---------------------------------------------------------------------------------------
  // Authenticated: stanzas from the remote domains this stream authenticated (RFC 6120 §8.1.1.2, §13.7.1.3)

  private async stanza(stream: StreamEngine, el: Element): Promise<void> {
    if (!STANZAS.has(el.name)) return stream.close(new StreamError("unsupported-stanza-type", `<${el.name}/> is not a stanza`));
    if (el.attrs.xmlns && el.attrs.xmlns !== NS_SERVER) return stream.close(new StreamError("invalid-namespace", "stanzas must be in jabber:server"));
    const from = el.attrs.from ? tryParseJid(el.attrs.from) : undefined;
    const to = el.attrs.to ? tryParseJid(el.attrs.to) : undefined;
    if (!from || !to) return stream.close(new StreamError("improper-addressing", "a server's stanza needs a valid from and to (RFC 6120 §8.1.1.2)"));
    if (!this.verified.has(from.domain)) {
      stream.log.warn({ from: el.attrs.from, remote: this.remoteDomains }, "stanza from a domain the stream did not authenticate");
      return stream.close(new StreamError("invalid-from", `${from.domain} is not authenticated on this stream`));
    }
    if (!this.serves(to.domain)) return stream.close(new StreamError("host-unknown", `this server does not serve ${to.domain}`));
    // Parsed for this stream alone: dropping the namespace is not a shared mutation.
    delete el.attrs.xmlns;
    stream.log.trace({ from: el.attrs.from, to: el.attrs.to, kind: el.name, type: el.attrs.type }, "stanza from a remote domain");
    await this.deps.host.router.route(el);
  }
}
