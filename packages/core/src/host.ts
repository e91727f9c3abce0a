/**
 * The per-process server context: one served domain, the ports, the hook bus, the IQ table and
 * the local stream table. Modules get it through their ModuleContext; only entry points build it.
 */
import { Element, Jid, StreamError, bareOf, parseFrame, parseJid } from "@switchboard/xml";
import type { CoreEvents } from "./events.js";
import { HookBus } from "./hooks.js";
import { IqDispatcher, PendingIqs } from "./iq.js";
import type { Logger } from "./logger.js";
import type { BusEnvelope, Limiter, SessionInfo, SessionRegistry, StanzaBus, Store } from "./ports.js";
import type { LocalSession } from "./session.js";
import { Router } from "./router.js";
import { DiscoRegistry } from "./disco.js";
import { StreamFeatures } from "./stream-features.js";
import { noopMetrics, type Metrics } from "./metrics.js";
import { RateLimits } from "./limits.js";

export interface HostLimits {
  offlinePerUser: number;
  /** how long server-to-client IQs wait for an answer */
  iqTimeoutMs: number;
}

export interface HostOptions {
  domain: string;
  nodeId: string;
  store: Store;
  registry: SessionRegistry;
  bus: StanzaBus;
  limiter: Limiter;
  log: Logger;
  limits?: Partial<HostLimits>;
  /**
   * Liveness of other nodes (cluster mode): a stanza for a session on a dead node is treated as
   * undeliverable at once instead of vanishing into the bus until the purge.
   */
  isNodeAlive?: (nodeId: string) => boolean;
  /** How many nodes are live in the cluster, this one included (cluster mode; default 1). */
  liveNodeCount?: () => number;
  /**
   * Why new logins cannot be accepted right now (a backend is unreachable, the node is
   * draining), or undefined when they can. Checked when a client starts authenticating.
   */
  loginBlocker?: () => string | undefined;
  /** the metrics adapter (default: counts nothing) */
  metrics?: Metrics;
}

/** The core's own counts, through the metrics port (tests read them to prove no round trip per stanza). */
export interface CoreMeters {
  routed: { add(n?: number): void };
  deliveredLocal: { add(n?: number): void };
  deliveredBus: { add(n?: number): void };
  registryLookups: { add(n?: number): void };
}

function coreMeters(metrics: Metrics): CoreMeters {
  const deliveries = metrics.counter("switchboard_deliveries_total", { help: "Stanzas handed to a resource, by path (local stream or bus)", labels: ["path"] });
  return {
    routed: metrics.counter("switchboard_stanzas_routed_total", { help: "Stanzas through the router" }).with({}),
    deliveredLocal: deliveries.with({ path: "local" }),
    deliveredBus: deliveries.with({ path: "bus" }),
    registryLookups: metrics.counter("switchboard_registry_lookups_total", { help: "Session registry reads made by the router" }).with({}),
  };
}

export class Host {
  readonly domain: string;
  readonly domainJid: Jid;
  readonly nodeId: string;
  readonly store: Store;
  readonly registry: SessionRegistry;
  readonly bus: StanzaBus;
  readonly limiter: Limiter;
  readonly log: Logger;
  readonly limits: HostLimits;
  readonly hooks = new HookBus<CoreEvents>();
  readonly iq = new IqDispatcher();
  readonly pendingIqs = new PendingIqs();
  readonly disco = new DiscoRegistry();
  readonly streamFeatures = new StreamFeatures();
  readonly router: Router;
  /** streams held by this process, by session id */
  readonly sessions = new Map<string, LocalSession>();
  private unsubscribeBus?: () => void;
  private readonly isNodeAlive: (nodeId: string) => boolean;
  private readonly liveNodeCount: () => number;
  /** Where everything that counts goes (no-op unless the process wires an adapter). */
  readonly metrics: Metrics;
  readonly meters: CoreMeters;
  /** decisions of the limiter, each refusal logged, counted and announced (limits.ts) */
  readonly rateLimits: RateLimits;
  /** Why new logins are refused right now (undefined: they are accepted); see HostOptions. */
  readonly loginBlocker: () => string | undefined;

  constructor(opts: HostOptions) {
    this.domain = opts.domain;
    this.domainJid = parseJid(opts.domain);
    this.nodeId = opts.nodeId;
    this.store = opts.store;
    this.registry = opts.registry;
    this.bus = opts.bus;
    this.limiter = opts.limiter;
    this.log = opts.log;
    this.limits = { offlinePerUser: 100, iqTimeoutMs: 30_000, ...opts.limits };
    this.router = new Router(this);
    this.isNodeAlive = opts.isNodeAlive ?? (() => true);
    this.liveNodeCount = opts.liveNodeCount ?? (() => 1);
    this.loginBlocker = opts.loginBlocker ?? (() => undefined);
    this.metrics = opts.metrics ?? noopMetrics;
    this.meters = coreMeters(this.metrics);
    this.rateLimits = new RateLimits(this.limiter, this.log, this.metrics, this.hooks);
  }

  /** Starts receiving stanzas other nodes address to streams held here. */
  start(): void {
    this.unsubscribeBus = this.bus.subscribe(this.nodeId, (env) => this.receiveFromBus(env));
  }

  async stop(): Promise<void> {
    this.unsubscribeBus?.();
    this.pendingIqs.clear();
  }

  /**
   * A cluster-wide control notice that every live node has applied by the time it resolves (or
   * after timeoutMs, when a node is dying or stalled): read-your-writes for rare changes a user
   * expects to hold everywhere at once. Resolves to how many nodes confirmed.
   */
  announceConfirmed(message: { type: string; [key: string]: unknown }, timeoutMs = 1_000): Promise<number> {
    return this.bus.publishControlConfirmed({ ...message, origin: this.nodeId }, this.liveNodeCount(), timeoutMs);
  }

  isLocalDomain(domain: string): boolean {
    return domain === this.domain;
  }

  /**
   * Writes a stanza to one resource: directly when the stream is held here, over the bus
   * otherwise. Resolves true when the stanza was taken care of — written, handed to the bus, or
   * deliberately suppressed by a `stanza/deliver` hook (blocking) — and false when the resource
   * cannot be reached (stream gone, node dead, bus unavailable), so the caller can fall back
   * (RFC 6121 §8.5.3.2: treat as the bare JID, offline storage, or an error to the sender).
   */
  async deliver(target: SessionInfo, stanza: Element): Promise<boolean> {
    if (this.hooks.has("stanza/deliver") && (await this.hooks.fire("stanza/deliver", { stanza, target }))) return true;
    if (target.nodeId === this.nodeId) {
      const session = this.sessions.get(target.sessionId);
      if (!session || session.closed) return false;
      this.meters.deliveredLocal.add();
      session.send(stanza);
      return true;
    }
    if (!this.isNodeAlive(target.nodeId)) return false;
    try {
      await this.bus.publish(target.nodeId, { to: target.jid, sessionId: target.sessionId, xml: stanza.toString() });
    } catch (err) {
      this.log.warn({ err, node: target.nodeId }, "stanza bus refused a stanza");
      return false;
    }
    this.meters.deliveredBus.add();
    return true;
  }

  private receiveFromBus(env: BusEnvelope): void {
    const session = this.sessions.get(env.sessionId);
    if (!session || session.closed) {
      if (env.headers?.control) return;
      this.rerouteOrphan(env).catch((err: unknown) => this.log.warn({ err, to: env.to }, "could not re-route a stanza for a closed stream"));
      return;
    }
    if (env.headers?.control === "conflict") {
      session.close(new StreamError("conflict", "replaced by a new connection for the same resource"));
      return;
    }
    try {
      session.send(parseFrame(env.xml));
    } catch (err) {
      this.log.warn({ err, to: env.to }, "malformed stanza on the bus");
    }
  }

  /**
   * The stream a bus stanza was sent to closed while it was in flight (the sender's node routed
   * with what it knew a moment earlier). Messages and IQ requests are routed again from here,
   * where the registry already knows the stream is gone: a message reaches the user's other
   * resources or the offline store, an IQ gets its error — never silence. A message that was
   * addressed to the bare JID is routed again only when no other resource is available, since
   * the sender's node fanned it out to those already. Presence is dropped: a presence for a
   * resource that is gone has no one to inform, and replaying subscription handling would run it
   * twice.
   */
  private async rerouteOrphan(env: BusEnvelope): Promise<void> {
    const stanza = parseFrame(env.xml);
    const type = stanza.attrs.type;
    const request = stanza.name === "iq" ? type === "get" || type === "set" : stanza.name === "message" && type !== "error";
    if (!request) {
      this.log.debug({ to: env.to, name: stanza.name }, "bus stanza for a stream no longer here, dropped");
      return;
    }
    const addressed = stanza.attrs.to ?? "";
    if (stanza.name === "message" && !addressed.includes("/")) {
      const others = (await this.registry.list(bareOf(env.to))).filter((s) => s.available && s.sessionId !== env.sessionId);
      if (others.length > 0) return;
    }
    this.log.debug({ to: env.to, name: stanza.name }, "bus stanza for a stream no longer here, routing it again");
    await this.router.route(stanza);
  }

  /** Sends an IQ from the server to a JID and waits for the answer (times out, never blocks). */
  async request(to: Jid, iq: Element, timeoutMs = this.limits.iqTimeoutMs): Promise<Element> {
    const id = this.pendingIqs.nextId();
    iq.attrs.id = id;
    iq.attrs.to = to.toString();
    iq.attrs.from = this.domain;
    const answer = this.pendingIqs.wait(id, timeoutMs);
    await this.router.route(iq);
    return answer;
  }
}
