/**
 * Routing to remote domains (RFC 6120 §10.4, §13.9.5 "no silent drop"): one outbound stream per
 * remote domain, in order; stanzas queued while it is being set up, bounded per domain in bytes
 * (s2s.maxQueueBytes) and, once it is up, by what its socket has not taken yet; a stream idle for
 * s2s.idleSeconds closed; a failed domain retried with backoff. What cannot be carried bounces to
 * its sender — `remote-server-not-found` when the remote could not be resolved or reached,
 * `remote-server-timeout` when it was reached but would not (or could not fast enough) take
 * our stream — for messages, IQ requests and subscription requests; other presence has no sender
 * to tell (RFC 6121 §4.3 a probe, §4.4 a broadcast) and is dropped with a debug line.
 */
import type { Counter, Host, Logger, StanzaEvent } from "@switchboard/core";
import type { Element, StanzaErrorCondition } from "@switchboard/xml";
import type { DialbackKeys } from "./dialback.js";
import type { S2sOptions } from "./options.js";
import { OutboundStream, type OutboundFailure } from "./outbound.js";
import type { RemoteResolver } from "./resolve.js";

/** backoff after a failed attempt: doubles from the first to the last */
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 300_000;

interface Queued {
  ev: StanzaEvent;
  bytes: number;
}

class RemoteDomain {
  stream?: OutboundStream;
  queue: Queued[] = [];
  queuedBytes = 0;
  /** no new attempt before this time; stanzas meanwhile bounce with the last failure */
  retryAt = 0;
  backoffMs = 0;
  lastFailure?: OutboundFailure;
  lastUse = Date.now();
  idleTimer?: NodeJS.Timeout;
  forgetTimer?: NodeJS.Timeout;
  /** `name`: the remote domain; `local`: ours it is reached from (the served domain or a component's) */
  constructor(
    readonly name: string,
    readonly local: string,
  ) {}

  get key(): string {
    return `${this.local} ${this.name}`;
  }
}

export class RemoteDomains {
  private readonly domains = new Map<string, RemoteDomain>();
  private stopped = false;
  private readonly log: Logger;
  private readonly bounced: Counter;

  constructor(
    private readonly host: Host,
    private readonly opts: S2sOptions,
    private readonly keys: DialbackKeys,
    private readonly resolver: RemoteResolver,
  ) {
    this.log = host.log.child({ component: "s2s" });
    this.bounced = host.metrics.counter("switchboard_s2s_bounces_total", { help: "Stanzas to remote domains bounced to their sender, by condition", labels: ["condition"] });
  }

  /** the route/remote hook: always takes the stanza (carried, queued or bounced) */
  async route(ev: StanzaEvent): Promise<true> {
    const name = ev.to.domain;
    if (this.opts.blockedDomains.includes(name)) {
      this.log.info({ policy: "s2s.blockedDomains", domain: name, from: ev.from.full }, "stanza to a blocked domain refused");
      await this.bounce(ev, "not-allowed", `${name} is blocked by this server`);
      return true;
    }
    // RFC 6120 §13.7.1.3, XEP-0220 §2.1: a stream authenticates one pair of domains; a
    // component's stanzas (MUC at conference.<domain>) go on a stream of its own.
    const local = this.host.routes.resolve(ev.from.domain).kind === "remote" ? this.host.domain : ev.from.domain;
    const domain = this.domain(name, local);
    domain.lastUse = Date.now();
    this.log.trace({ to: ev.to.full, from: ev.from.full, kind: ev.kind, state: domain.stream?.state ?? "none" }, "stanza to a remote domain");
    const stream = domain.stream;
    if (stream?.authenticated && domain.queue.length === 0) {
      await this.write(domain, stream, ev);
      return true;
    }
    if (!stream && Date.now() < domain.retryAt && domain.lastFailure) {
      await this.bounce(ev, domain.lastFailure.condition, domain.lastFailure.text);
      return true;
    }
    const bytes = Buffer.byteLength(ev.stanza.toString());
    if (domain.queuedBytes + bytes > this.opts.maxQueueBytes) {
      await this.bounce(ev, "remote-server-timeout", `more than s2s.maxQueueBytes waits for ${name}`);
      return true;
    }
    domain.queue.push({ ev, bytes });
    domain.queuedBytes += bytes;
    this.streamTo(domain);
    return true;
  }

  /** XEP-0220 §2.3: asks `originating`'s authoritative server, over our stream to it, whether a key is its own */
  verify(originating: string, request: { from: string; to: string; id: string; key: string }): Promise<"valid" | "invalid"> {
    if (this.stopped) return Promise.reject(new Error("federation is stopping"));
    const local = this.host.routes.resolve(request.from).kind === "remote" ? this.host.domain : request.from;
    return this.streamTo(this.domain(originating, local)).verify(request);
  }

  /**
   * `name` authenticated a stream to us: it is up, so a backoff from our last failed attempt no
   * longer holds (after a remote's restart its first stanzas are probes whose answers would
   * otherwise meet the backoff and be dropped, being presence).
   */
  remoteIsUp(name: string): void {
    for (const domain of this.domains.values()) {
      if (domain.name !== name || !domain.lastFailure) continue;
      domain.retryAt = 0;
      domain.backoffMs = 0;
      domain.lastFailure = undefined;
    }
  }

  /** the remote domains with an outbound stream, and its state (admin, tests) */
  streams(): Array<{ domain: string; local: string; state: string; queued: number; certificate?: "verified" | "unverified" }> {
    return [...this.domains.values()]
      .filter((d) => d.stream)
      .map((d) => ({ domain: d.name, local: d.local, state: d.stream!.state, queued: d.queue.length, certificate: d.stream!.certificate }));
  }

  /** closes every outbound stream; what is still queued bounces */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const domain of this.domains.values()) {
      clearTimeout(domain.idleTimer);
      clearTimeout(domain.forgetTimer);
      domain.stream?.close("server stopping");
      await this.bounceQueue(domain, { condition: "remote-server-timeout", text: "the server is stopping" });
    }
    this.domains.clear();
  }

  private domain(name: string, local: string): RemoteDomain {
    const key = `${local} ${name}`;
    let domain = this.domains.get(key);
    if (!domain) this.domains.set(key, (domain = new RemoteDomain(name, local)));
    return domain;
  }

  private streamTo(domain: RemoteDomain): OutboundStream {
    if (domain.stream) return domain.stream;
    const stream = new OutboundStream({
      local: domain.local,
      remote: domain.name,
      requireTls: this.opts.requireTls,
      allowDialback: this.opts.allowDialback,
      trustedCa: this.opts.trustedCa,
      parser: this.opts.parser,
      handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
      keys: this.keys,
      resolver: this.resolver,
      log: this.log,
    });
    domain.stream = stream;
    stream.on("authenticated", () => {
      domain.backoffMs = 0;
      domain.retryAt = 0;
      domain.lastFailure = undefined;
      void this.flush(domain, stream);
      this.armIdle(domain);
    });
    stream.on("closed", (failure) => {
      if (domain.stream === stream) domain.stream = undefined;
      clearTimeout(domain.idleTimer);
      if (failure) {
        domain.backoffMs = Math.min(MAX_BACKOFF_MS, domain.backoffMs ? domain.backoffMs * 2 : FIRST_BACKOFF_MS);
        domain.retryAt = Date.now() + domain.backoffMs;
        domain.lastFailure = failure;
        void this.bounceQueue(domain, failure);
        this.forgetLater(domain, domain.backoffMs + MAX_BACKOFF_MS);
      } else if (domain.queue.length > 0 && !this.stopped) {
        // Closed under stanzas that arrived after it was authenticated and before the flush: again.
        this.streamTo(domain);
      } else {
        this.forget(domain);
      }
    });
    stream.start();
    return stream;
  }

  /**
   * A domain with no stream and nothing queued is forgotten, so the table holds only domains in
   * use: any peer can name new domains to us (dialback), and each would otherwise stay for good.
   * One that failed is kept through its backoff and as long again, so a domain that stays down
   * keeps backing off.
   */
  private forget(domain: RemoteDomain): void {
    if (!domain.stream && domain.queue.length === 0 && Date.now() >= domain.retryAt && this.domains.get(domain.key) === domain) this.domains.delete(domain.key);
  }

  private forgetLater(domain: RemoteDomain, ms: number): void {
    clearTimeout(domain.forgetTimer);
    domain.forgetTimer = setTimeout(() => this.forget(domain), ms);
    domain.forgetTimer.unref();
  }

  /** the queue, oldest first, before anything newer (route() queues behind it) */
  private async flush(domain: RemoteDomain, stream: OutboundStream): Promise<void> {
    while (domain.queue.length > 0 && stream.authenticated) {
      const item = domain.queue.shift()!;
      domain.queuedBytes -= item.bytes;
      await this.write(domain, stream, item.ev);
    }
  }

  private async write(domain: RemoteDomain, stream: OutboundStream, ev: StanzaEvent): Promise<void> {
    // A remote that reads slower than we write: what its socket holds counts against the same bound.
    if (stream.bufferedBytes() > this.opts.maxQueueBytes) {
      await this.bounce(ev, "remote-server-timeout", `${domain.name} is not reading fast enough (s2s.maxQueueBytes)`);
      return;
    }
    stream.send(ev.stanza);
    domain.lastUse = Date.now();
  }

  private armIdle(domain: RemoteDomain): void {
    clearTimeout(domain.idleTimer);
    const due = domain.lastUse + this.opts.idleMs - Date.now();
    domain.idleTimer = setTimeout(() => {
      if (!domain.stream) return;
      if (Date.now() - domain.lastUse >= this.opts.idleMs) domain.stream.close("idle for s2s.idleSeconds");
      else this.armIdle(domain);
    }, Math.max(due, 10));
    domain.idleTimer.unref();
  }

  private async bounceQueue(domain: RemoteDomain, failure: OutboundFailure): Promise<void> {
    const queued = domain.queue.splice(0);
    domain.queuedBytes = 0;
    for (const { ev } of queued) await this.bounce(ev, failure.condition, failure.text);
  }

  private async bounce(ev: StanzaEvent, condition: StanzaErrorCondition, text: string): Promise<void> {
    if (!bounces(ev.stanza)) {
      this.log.debug({ to: ev.to.full, from: ev.from.full, kind: ev.kind, condition }, "presence to an unreachable remote domain not carried");
      return;
    }
    this.bounced.add(1, { condition });
    await this.host.router.bounce(ev, condition, text).catch((err: unknown) => this.log.error({ err }, "could not bounce a stanza to a remote domain"));
  }
}

/** RFC 6120 §8.3.1: never an error for an error; presence only for a subscription request */
function bounces(stanza: Element): boolean {
  const type = stanza.attrs.type;
  if (type === "error") return false;
  if (stanza.name === "presence") return type === "subscribe";
  if (stanza.name === "iq") return type === "get" || type === "set";
  return true;
}
