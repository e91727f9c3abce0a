/**
 * A SessionRegistry cache for the hot path (ARCHITECTURE.md "Routing a stanza"): routing a chat
 * message between two online users must not cost a Redis round trip per stanza. Each node keeps
 * the resource list of the users it routes to; every write goes through to the backing registry
 * and then tells every node, over the bus, to drop that user's entry. A read that races with an
 * invalidation is not cached (generation check), entries expire after a TTL as a safety net, and
 * the whole cache is dropped when the bus reconnects, since notices may have been missed.
 */
import { bareOf } from "@switchboard/xml";
import type { SessionInfo, SessionLocation, SessionPatch, SessionRegistry, StanzaBus } from "./ports.js";
import { InvalidatedCache } from "./invalidated-cache.js";
import type { Logger } from "./logger.js";

export const REGISTRY_INVALIDATE = "registry.invalidate" as const;

export interface CachedRegistryOptions {
  ttlMs?: number;
  /**
   * Live nodes in the cluster (this one included). When given, a write resolves only once that
   * many nodes dropped their entry (or confirmTimeoutMs passed): a client told "bound" can be
   * reached at once from every edge, even by a sender whose edge had cached the user before.
   */
  liveNodeCount?: () => number;
  confirmTimeoutMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export class CachedSessionRegistry implements SessionRegistry {
  private readonly cache: InvalidatedCache<SessionInfo[]>;
  private readonly unfollow: () => void;

  constructor(
    private readonly inner: SessionRegistry,
    private readonly bus: StanzaBus,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly opts: CachedRegistryOptions = {},
  ) {
    this.cache = new InvalidatedCache({
      load: (bare) => this.inner.list(bare),
      ttlMs: opts.ttlMs ?? 60_000,
      maxEntries: opts.maxEntries ?? 100_000,
      now: opts.now,
    });
    this.unfollow = this.cache.follow(bus, REGISTRY_INVALIDATE, (m) => m.bares);
  }

  /** hits, misses and invalidations of the resource-list cache */
  get counters(): InvalidatedCache<SessionInfo[]>["counters"] {
    return this.cache.counters;
  }

  clear(): void {
    this.cache.clear();
  }

  /** Drops the users' entries here and on every other node. */
  async invalidate(bares: string[]): Promise<void> {
    for (const b of bares) this.cache.invalidate(b);
    const notice = { type: REGISTRY_INVALIDATE, origin: this.nodeId, bares } as const;
    try {
      const nodes = this.opts.liveNodeCount?.();
      if (nodes !== undefined && nodes > 1) await this.bus.publishControlConfirmed(notice, nodes, this.opts.confirmTimeoutMs ?? 1_000);
      else await this.bus.publishControl(notice);
    } catch (err) {
      // Other nodes flush everything when their bus reconnects; TTL bounds the rest.
      this.log.warn({ err }, "could not broadcast a registry invalidation");
    }
  }

  private load(bare: string): Promise<SessionInfo[]> {
    return this.cache.get(bare);
  }

  async list(bare: string): Promise<SessionInfo[]> {
    return (await this.load(bare)).map((s) => ({ ...s }));
  }

  async get(jid: string): Promise<SessionInfo | undefined> {
    const found = (await this.load(bareOf(jid))).find((s) => s.jid === jid);
    return found ? { ...found } : undefined;
  }

  async count(bare: string): Promise<number> {
    return (await this.load(bare)).length;
  }

  listNode(nodeId: string): Promise<SessionInfo[]> {
    return this.inner.listNode(nodeId);
  }

  async bind(info: SessionInfo): Promise<SessionInfo | undefined> {
    const previous = await this.inner.bind(info);
    await this.invalidate([bareOf(info.jid)]);
    return previous;
  }

  async unbind(jid: string, sessionId: string): Promise<void> {
    await this.inner.unbind(jid, sessionId);
    await this.invalidate([bareOf(jid)]);
  }

  async update(jid: string, sessionId: string, patch: SessionPatch): Promise<void> {
    await this.inner.update(jid, sessionId, patch);
    await this.invalidate([bareOf(jid)]);
  }

  async move(jid: string, fromSessionId: string, to: SessionLocation): Promise<SessionInfo | undefined> {
    const moved = await this.inner.move(jid, fromSessionId, to);
    await this.invalidate([bareOf(jid)]);
    return moved;
  }

  close(): void {
    this.unfollow();
    this.cache.clear();
  }
}
