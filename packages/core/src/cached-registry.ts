/**
 * A SessionRegistry cache for the hot path (ARCHITECTURE.md "Routing a stanza"): routing a chat
 * message between two online users must not cost a Redis round trip per stanza. Each node keeps
 * the resource list of the users it routes to; every write goes through to the backing registry
 * and then tells every node, over the bus, to drop that user's entry. A read that races with an
 * invalidation is not cached (generation check), entries expire after a TTL as a safety net, and
 * the whole cache is dropped when the bus reconnects, since notices may have been missed.
 *
 * The writer itself keeps what its write left (issue 10, cheaper logins): a backing registry with
 * ListingSessionWrites returns the user's sessions from the write's own atomic step, so a login's
 * bind, roster interest and initial presence do not each drop the entry and read it again. Its
 * own notices are then skipped here (it already holds the new list); every other node drops the
 * user as before. A write that raced with any other change of the user is not kept (generations).
 */
import { bareOf } from "@switchboard/xml";
import { SessionLimitError, hasListingWrites, type BindOptions, type Listed, type SessionInfo, type SessionLocation, type SessionPatch, type SessionRegistry, type StanzaBus } from "./ports.js";
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
    // Every notice this node sends follows a local update or drop (invalidate(), write()).
    this.unfollow = this.cache.follow(bus, REGISTRY_INVALIDATE, (m) => m.bares, { ownOrigin: nodeId });
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
    await this.broadcast(bares);
  }

  /** Tells every other node to drop the users' entries (this one has dealt with its own). */
  private async broadcast(bares: string[]): Promise<void> {
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

  async bind(info: SessionInfo, opts?: BindOptions): Promise<SessionInfo | undefined> {
    const inner = this.inner;
    return this.write(info.jid, hasListingWrites(inner) ? () => inner.bindListed(info, opts) : async () => ({ result: await inner.bind(info, opts) }));
  }

  async unbind(jid: string, sessionId: string): Promise<void> {
    const inner = this.inner;
    await this.write(jid, hasListingWrites(inner) ? () => inner.unbindListed(jid, sessionId) : async () => ({ result: await inner.unbind(jid, sessionId) }));
  }

  async update(jid: string, sessionId: string, patch: SessionPatch): Promise<void> {
    const inner = this.inner;
    await this.write(jid, hasListingWrites(inner) ? () => inner.updateListed(jid, sessionId, patch) : async () => ({ result: await inner.update(jid, sessionId, patch) }));
  }

  async move(jid: string, fromSessionId: string, to: SessionLocation): Promise<SessionInfo | undefined> {
    const inner = this.inner;
    return this.write(jid, hasListingWrites(inner) ? () => inner.moveListed(jid, fromSessionId, to) : async () => ({ result: await inner.move(jid, fromSessionId, to) }));
  }

  /**
   * One write of `jid`'s user: what it left is kept here (or the entry dropped when unknown or
   * raced), then every other node is told to drop the user, and the write resolves once they
   * did (read-your-writes across edges, see liveNodeCount).
   */
  private async write<T>(jid: string, run: () => Promise<Listed<T>>): Promise<T> {
    const bare = bareOf(jid);
    const pending = this.cache.beginWrite(bare);
    let listed: Listed<T>;
    try {
      listed = await run();
    } catch (err) {
      // refused by the session limit: nothing written, and the refusal said what is there;
      // anything else may have applied: drop, read again
      this.cache.completeWrite(pending, err instanceof SessionLimitError ? err.sessions : undefined);
      throw err;
    }
    this.cache.completeWrite(pending, listed.sessions);
    await this.broadcast([bare]);
    return listed.result;
  }

  close(): void {
    this.unfollow();
    this.cache.clear();
  }
}
