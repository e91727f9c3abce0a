/**
 * A SessionRegistry cache for the hot path (ARCHITECTURE.md "Routing a stanza"): routing a chat
 * message between two online users must not cost a Redis round trip per stanza. Each node keeps
 * the resource list of the users it routes to; every write goes through to the backing registry
 * and then tells every node, over the bus, to drop that user's entry. A read that races with an
 * invalidation is not cached (generation check), entries expire after a TTL as a safety net, and
 * the whole cache is dropped when the bus reconnects, since notices may have been missed.
 */
import { bareOf } from "@switchboard/xml";
import type { ControlMessage, SessionInfo, SessionLocation, SessionPatch, SessionRegistry, StanzaBus } from "./ports.js";
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

interface Entry {
  sessions: SessionInfo[];
  at: number;
}


export class CachedSessionRegistry implements SessionRegistry {
  readonly counters = { hits: 0, misses: 0, invalidations: 0 };
  private readonly cache = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private generationAll = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly inner: SessionRegistry,
    private readonly bus: StanzaBus,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly opts: CachedRegistryOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.unsubscribe.push(
      bus.subscribeControl((m) => this.onControl(m)),
      bus.onReconnect(() => this.clear()),
    );
  }

  private onControl(message: ControlMessage): void {
    if (message.type !== REGISTRY_INVALIDATE) return;
    const bares = message.bares;
    if (Array.isArray(bares)) for (const b of bares) if (typeof b === "string") this.drop(b);
  }

  private drop(bare: string): void {
    this.cache.delete(bare);
    this.generations.set(bare, (this.generations.get(bare) ?? 0) + 1);
    this.counters.invalidations++;
  }

  clear(): void {
    this.cache.clear();
    this.generations.clear();
    this.generationAll++;
  }

  /** Drops the users' entries here and on every other node. */
  async invalidate(bares: string[]): Promise<void> {
    for (const b of bares) this.drop(b);
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

  private async load(bare: string): Promise<SessionInfo[]> {
    const entry = this.cache.get(bare);
    if (entry && this.now() - entry.at < this.ttlMs) {
      this.counters.hits++;
      return entry.sessions;
    }
    this.counters.misses++;
    const generation = this.generations.get(bare) ?? 0;
    const all = this.generationAll;
    const sessions = await this.inner.list(bare);
    if ((this.generations.get(bare) ?? 0) === generation && this.generationAll === all) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.delete(bare);
      this.cache.set(bare, { sessions, at: this.now() });
    }
    return sessions;
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
    for (const u of this.unsubscribe) u();
    this.clear();
  }
}
