/**
 * The per-process server context: one served domain, the ports, the hook bus, the IQ table and
 * the local stream table. Modules get it through their ModuleContext; only entry points build it.
 */
import { Element, Jid, parseJid } from "@switchboard/xml";
import type { CoreEvents } from "./events.js";
import { HookBus } from "./hooks.js";
import { IqDispatcher, PendingIqs } from "./iq.js";
import type { Logger } from "./logger.js";
import type { BusHeaders, ComponentEnvelope, ControlMessage, MulticastEnvelope, ControlNotice, Limiter, RoomDirectory, SessionInfo, SessionRegistry, StanzaBus, StanzaEnvelope, Store } from "./ports.js";
import { SessionTable } from "./session-table.js";
import { addressedCopy, receiveFromBus } from "./bus-receiver.js";
import { BusLedger, busIdOf } from "./bus-ledger.js";
import { startReceipts } from "./bus-receipts.js";
import type { DeliveryOutcome } from "./delivery.js";
import { Router } from "./router.js";
import { DiscoRegistry } from "./disco.js";
import { StreamFeatures } from "./stream-features.js";
import { StreamHandlers } from "./stream-handlers.js";
import { Routes } from "./routes.js";
import { MemoryResumptionStore, type ResumptionStore } from "./resumption.js";
import { MemoryRoomDirectory } from "./memory/room-directory.js";
import { noopMetrics, type Metrics } from "./metrics.js";
import { noopTracing, StanzaTraces, type Span, type Tracing } from "./tracing.js";
import { Alerts } from "./alerts.js";
import { TapInterest } from "./tap.js";
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
   * told that another node is gone (its goodbye, or a survivor purged it): it no longer counts as
   * alive here before anything it had not confirmed is routed again, so nothing goes back to it
   */
  markNodeGone?: (nodeId: string) => void;
  /**
   * Why new logins cannot be accepted right now (a backend is unreachable, the node is
   * draining), or undefined when they can. Checked when a client starts authenticating.
   */
  loginBlocker?: () => string | undefined;
  /** the metrics adapter (default: counts nothing) */
  metrics?: Metrics;
  /** the tracing adapter (default: traces nothing) */
  tracing?: Tracing;
  /** where stream-management sessions keep their resumption state (default: in memory) */
  resumption?: ResumptionStore;
  /** where MUC rooms are served and their live state (default: in memory) */
  roomDirectory?: RoomDirectory;
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

/** `headers` with the span's trace context added (a new object: the caller's is not changed). */
function traced(tracing: Tracing, span: Span, headers: BusHeaders | undefined): BusHeaders {
  const out: BusHeaders = { ...headers };
  tracing.inject(span, out);
  return out;
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
  /** IQ handlers, per domain (iq.ts) */
  readonly iq: IqDispatcher;
  /** local, component and remote domains (routes.ts) */
  readonly routes: Routes;
  readonly pendingIqs = new PendingIqs();
  readonly disco = new DiscoRegistry();
  readonly streamFeatures = new StreamFeatures();
  /** stream-level elements modules handle (XEP-0198, XEP-0352), by state, namespace and name */
  readonly streamHandlers = new StreamHandlers();
  readonly router: Router;
  /** the sessions this process holds, and their lifecycle (session-table.ts) */
  readonly sessions: SessionTable;
  private unsubscribeBus?: () => void;
  private stopReceipts?: (final: boolean) => Promise<void>;
  /** what this node handed to the bus for other nodes and they have not confirmed (bus-ledger.ts) */
  readonly ledger: BusLedger;
  readonly isNodeAlive: (nodeId: string) => boolean;
  private readonly liveNodeCount: () => number;
  /** see HostOptions.markNodeGone */
  readonly markNodeGone: (nodeId: string) => void;
  /** stream-management resumption state, outside the edge in a cluster (resumption.ts) */
  readonly resumption: ResumptionStore;
  /** MUC rooms: which worker serves each, their live state, who is in which (ports.ts) */
  readonly roomDirectory: RoomDirectory;
  /** Where everything that counts goes (no-op unless the process wires an adapter). */
  readonly metrics: Metrics;
  readonly meters: CoreMeters;
  /** Where spans go (no-op unless the process wires an adapter), and which span each sampled stanza is in. */
  readonly tracing: Tracing;
  readonly traces: StanzaTraces;
  /** decisions of the limiter, each refusal logged, counted and announced (limits.ts) */
  readonly rateLimits: RateLimits;
  /** whose traffic the tap publishes on the bus now (tap.ts) */
  readonly tap: TapInterest;
  /** alerts raised here and received from other nodes (alerts.ts) */
  readonly alerts: Alerts;
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
    this.iq = new IqDispatcher(this.domain);
    this.routes = new Routes(this.domain);
    this.metrics = opts.metrics ?? noopMetrics;
    this.tracing = opts.tracing ?? noopTracing;
    this.traces = new StanzaTraces(this.tracing);
    this.router = new Router(this);
    this.sessions = new SessionTable(this);
    this.isNodeAlive = opts.isNodeAlive ?? (() => true);
    this.ledger = new BusLedger(this.nodeId);
    this.liveNodeCount = opts.liveNodeCount ?? (() => 1);
    this.markNodeGone = opts.markNodeGone ?? (() => {});
    this.loginBlocker = opts.loginBlocker ?? (() => undefined);
    this.resumption = opts.resumption ?? new MemoryResumptionStore();
    this.roomDirectory = opts.roomDirectory ?? new MemoryRoomDirectory();
    this.meters = coreMeters(this.metrics);
    this.rateLimits = new RateLimits(this.limiter, this.log, this.metrics, this.hooks);
    this.alerts = new Alerts(this.nodeId, this.log, this.metrics, this.hooks);
    this.tap = new TapInterest(this.log);
  }

  /** Starts receiving what other nodes address to this one (bus-receiver.ts). */
  start(): void {
    this.unsubscribeBus = this.bus.subscribe(this.nodeId, (env) => receiveFromBus(this, env));
    this.tap.follow(this.bus);
    this.stopReceipts = startReceipts(this);
  }

  /** Stops receiving; other nodes get this node's final receipts and route the rest again. */
  async stop(): Promise<void> {
    this.unsubscribeBus?.();
    this.unsubscribeBus = undefined;
    this.tap.stop();
    await this.stopReceipts?.(true);
    this.stopReceipts = undefined;
    this.pendingIqs.clear();
  }

  /**
   * Another node's sessions were purged after its death (or this node's own earlier life's):
   * every node routes again what it sent there unconfirmed (bus-receipts.ts).
   */
  async announceNodeGone(node: string): Promise<void> {
    await this.bus.publishControl({ type: "node.gone", origin: this.nodeId, node, receipts: [] });
  }

  /**
   * A cluster-wide control notice that every live node has applied by the time it resolves (or
   * after timeoutMs, when a node is dying or stalled): read-your-writes for rare changes a user
   * expects to hold everywhere at once. Resolves to how many nodes confirmed.
   */
  announceConfirmed(notice: ControlNotice, timeoutMs = 1_000): Promise<number> {
    return this.bus.publishControlConfirmed({ ...notice, origin: this.nodeId } as ControlMessage, this.liveNodeCount(), timeoutMs);
  }

  /** The server's own domain (accounts live here); components and remote domains are not. */
  isLocalDomain(domain: string): boolean {
    return this.routes.resolve(domain).kind === "local";
  }

  /**
   * Writes a stanza to one resource: through its session when the stream is held here, over the
   * bus otherwise; says what happened (delivery.ts). Anything but "refused" and "unreachable"
   * means the stanza was taken care of; on those two the caller falls back (RFC 6121 §8.5.3.2:
   * treat as the bare JID, offline storage, or an error to the sender).
   */
  async deliver(target: SessionInfo, stanza: Element, opts: { headers?: BusHeaders } = {}): Promise<DeliveryOutcome> {
    if (this.hooks.has("stanza/deliver") && (await this.hooks.fire("stanza/deliver", { stanza, target }))) return "suppressed";
    return this.write(target, stanza, opts);
  }

  /**
   * One stanza (without a 'to') for several resources, a MUC room's to its occupants: each
   * target gets a copy addressed to it, written here for streams this node holds and sent as one
   * multicast envelope per other node (kept until confirmed, like a lone stanza), so N targets
   * on E nodes cost E publishes. Says what happened per target's full JID, as deliver() does.
   */
  async deliverMany(targets: readonly SessionInfo[], stanza: Element): Promise<Map<string, DeliveryOutcome>> {
    const outcomes = new Map<string, DeliveryOutcome>();
    const byNode = new Map<string, SessionInfo[]>();
    const vetting = this.hooks.has("stanza/deliver");
    for (const target of targets) {
      const copy = addressedCopy(stanza, target.jid);
      if (vetting && (await this.hooks.fire("stanza/deliver", { stanza: copy, target }))) {
        outcomes.set(target.jid, "suppressed");
        continue;
      }
      if (target.nodeId === this.nodeId || target.detachedUntil !== undefined || !this.isNodeAlive(target.nodeId)) {
        outcomes.set(target.jid, await this.write(target, copy));
        continue;
      }
      let group = byNode.get(target.nodeId);
      if (!group) byNode.set(target.nodeId, (group = []));
      group.push(target);
    }
    for (const [node, group] of byNode) {
      if (group.length === 1) {
        outcomes.set(group[0]!.jid, await this.write(group[0]!, addressedCopy(stanza, group[0]!.jid)));
        continue;
      }
      const env: MulticastEnvelope = { kind: "multicast", targets: group.map((t) => ({ to: t.jid, sessionId: t.sessionId })), xml: stanza.toString() };
      const entry = BusLedger.tracks(stanza.name, stanza.attrs.type) ? this.ledger.record(node, env) : undefined;
      let outcome: DeliveryOutcome = "bus";
      try {
        await this.bus.publish(node, env);
        this.meters.deliveredBus.add();
      } catch (err) {
        if (entry) entry.failed = true;
        this.log.warn({ err, node }, "stanza bus refused a multicast stanza");
        outcome = "unreachable";
      }
      for (const t of group) outcomes.set(t.jid, outcome);
    }
    return outcomes;
  }

  /**
   * deliver() after the stanza/deliver hooks. For a sampled stanza (tracing.ts) a write on this
   * node is a `deliver` event of the span it is in; a hand-over to the bus is a span of its own,
   * whose context the envelope carries.
   */
  private write(target: SessionInfo, stanza: Element, opts: { headers?: BusHeaders } = {}): Promise<DeliveryOutcome> {
    const parent = this.traces.of(stanza);
    if (!parent) return this.writeNow(target, stanza, opts);
    if (target.nodeId !== this.nodeId && target.detachedUntil === undefined) return this.publishTraced(target, stanza, opts, parent);
    return this.writeNow(target, stanza, opts).then((outcome) => {
      parent.event("deliver", { "switchboard.target.node": target.nodeId, "switchboard.delivery": outcome });
      return outcome;
    });
  }

  private async publishTraced(target: SessionInfo, stanza: Element, opts: { headers?: BusHeaders }, parent: Span): Promise<DeliveryOutcome> {
    const span = this.tracing.startChild(parent, "bus.publish", "producer");
    span.set("switchboard.target.node", target.nodeId);
    try {
      const outcome = await this.writeNow(target, stanza, opts, span);
      span.set("switchboard.delivery", outcome);
      span.end(outcome === "refused" || outcome === "unreachable" ? "error" : "ok", outcome);
      return outcome;
    } catch (err) {
      span.end("error", err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  private async writeNow(target: SessionInfo, stanza: Element, opts: { headers?: BusHeaders }, span?: Span): Promise<DeliveryOutcome> {
    if (target.nodeId === this.nodeId) {
      const session = this.sessions.get(target.sessionId);
      if (session && !session.closed) {
        this.meters.deliveredLocal.add();
        return session.send(stanza);
      }
      if (target.detachedUntil === undefined) return "unreachable";
    }
    // A session without a stream (stream management waiting for a resumption, its state kept
    // outside the edges): whoever keeps its queue takes the stanza, on any node.
    if (target.detachedUntil !== undefined) {
      return (await this.hooks.fire("session/queue", { stanza, target })) ? "queued" : "unreachable";
    }
    const tracked = BusLedger.tracks(stanza.name, stanza.attrs.type);
    if (!this.isNodeAlive(target.nodeId)) {
      // Presumed dead, not purged yet: a resumable session will be kept by the purge, so its
      // stanzas wait here for that instead of going to offline storage (bus-ledger.ts).
      if (!tracked || typeof target.ext?.sm !== "string") return "unreachable";
      this.ledger.record(target.nodeId, { kind: "stanza", to: target.jid, sessionId: target.sessionId, xml: stanza.toString() }, busIdOf(stanza), true);
      return "queued";
    }
    const env: StanzaEnvelope = { kind: "stanza", to: target.jid, sessionId: target.sessionId, xml: stanza.toString(), headers: span ? traced(this.tracing, span, opts.headers) : opts.headers };
    const entry = tracked ? this.ledger.record(target.nodeId, env, busIdOf(stanza)) : undefined;
    try {
      await this.bus.publish(target.nodeId, env);
    } catch (err) {
      if (entry) entry.failed = true;
      this.log.warn({ err, node: target.nodeId }, "stanza bus refused a stanza");
      return "unreachable";
    }
    this.meters.deliveredBus.add();
    return "bus";
  }

  /**
   * The one full-JID delivery (RFC 6121 §8.5.3.1): to that resource if it is bound anywhere in
   * the cluster; "offline" when it is not. Callers decide the fallback (§8.5.3.2).
   */
  async deliverToResource(fullJid: string, stanza: Element): Promise<DeliveryOutcome | "offline"> {
    this.meters.registryLookups.add();
    const info = await this.registry.get(fullJid);
    if (!info) return "offline";
    return this.deliver(info, stanza);
  }

  /**
   * Hands a stanza (`env.xml` is `stanza` serialised) for a component's shard (a MUC room) to
   * the node serving it. Kept until that
   * node confirms it (bus-ledger.ts): if the node dies first, the stanza is routed again and
   * reaches the shard's next worker. Held, not sent, for a node presumed dead. Rejects when the
   * bus cannot take it.
   */
  async publishComponent(node: string, env: ComponentEnvelope, stanza: Element): Promise<void> {
    const tracked = BusLedger.tracksForComponent(stanza.name, stanza.attrs.type);
    if (tracked && !this.isNodeAlive(node)) {
      this.ledger.record(node, env, undefined, true);
      return;
    }
    const entry = tracked ? this.ledger.record(node, env) : undefined;
    try {
      await this.bus.publish(node, env);
    } catch (err) {
      if (entry) entry.failed = true;
      throw err;
    }
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
