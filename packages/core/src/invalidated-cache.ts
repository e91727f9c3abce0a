/**
 * A per-node cache of per-key data (a user's resources, a blocklist, later a room's
 * affiliations) kept right by invalidation notices over the bus: every writer drops the key on
 * every node after it wrote, so the hot path reads memory, not Redis (ARCHITECTURE.md "Avoid a
 * Redis round trip per stanza"). Written once here:
 * - a read that races with an invalidation is not cached (per-key and global generations), so a
 *   value loaded before a change never lands after it;
 * - concurrent reads of one key share one load;
 * - entries expire after a TTL as a safety net for a lost notice, and the oldest leave first
 *   past a bound;
 * - a bus reconnect clears everything, since notices may have been missed meanwhile;
 * - a writer that learns the new value from its write (beginWrite / completeWrite) keeps it
 *   instead of dropping the key and reading it again, under the same generation rule: any
 *   invalidation or other write of the key in between, and the value is dropped instead.
 */
import type { ControlMessage, ControlType, StanzaBus } from "./ports.js";

export interface InvalidatedCacheOptions<V> {
  load(key: string): Promise<V>;
  /** default: no expiry */
  ttlMs?: number;
  /** default 100,000 */
  maxEntries?: number;
  now?: () => number;
}

interface Entry<V> {
  value: V;
  at: number;
  /** read since it was last (re)placed: spared once by eviction (second chance) */
  used: boolean;
}

/** A write of one key in flight (InvalidatedCache.beginWrite). */
export interface CacheWrite {
  readonly key: string;
  readonly generation: number;
  readonly all: number;
}

export class InvalidatedCache<V> {
  /** `writes`: values kept from a write of this node instead of a reload */
  readonly counters = { hits: 0, misses: 0, invalidations: 0, writes: 0 };
  private readonly entries = new Map<string, Entry<V>>();
  private readonly loading = new Map<string, Promise<V>>();
  private readonly generations = new Map<string, number>();
  private generationAll = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: InvalidatedCacheOptions<V>) {
    this.ttlMs = opts.ttlMs ?? Infinity;
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * The cached value, if fresh (and marks it used); lets a hot path stay synchronous. A read
   * only sets a flag: moving the entry to the young end on every read cost the hot path a map
   * delete and insert per stanza, so eviction gives used entries a second chance instead.
   */
  peek(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.ttlMs !== Infinity && this.now() - entry.at >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    entry.used = true;
    return entry.value;
  }

  async get(key: string): Promise<V> {
    const cached = this.peek(key);
    if (cached !== undefined) {
      this.counters.hits++;
      return cached;
    }
    this.counters.misses++;
    let pending = this.loading.get(key);
    if (!pending) {
      const generation = this.generations.get(key) ?? 0;
      const all = this.generationAll;
      pending = this.opts.load(key).then(
        (value) => {
          if (this.loading.get(key) === pending) this.loading.delete(key);
          if ((this.generations.get(key) ?? 0) === generation && this.generationAll === all) this.remember(key, value);
          return value;
        },
        (err: unknown) => {
          if (this.loading.get(key) === pending) this.loading.delete(key);
          throw err;
        },
      );
      this.loading.set(key, pending);
    }
    return pending;
  }

  invalidate(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
    this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    this.counters.invalidations++;
  }

  /**
   * Announces a write of `key` about to be sent: loads already in flight read the old value
   * and are no longer cached. The entry itself stays readable until completeWrite.
   */
  beginWrite(key: string): CacheWrite {
    this.loading.delete(key);
    const generation = (this.generations.get(key) ?? 0) + 1;
    this.generations.set(key, generation);
    return { key, generation, all: this.generationAll };
  }

  /**
   * The value the write left (undefined: unknown, e.g. the write failed): kept when nothing
   * touched the key since beginWrite, otherwise (or when unknown) the key is dropped.
   */
  completeWrite(write: CacheWrite, value: V | undefined): void {
    const untouched = (this.generations.get(write.key) ?? 0) === write.generation && this.generationAll === write.all;
    if (value !== undefined && untouched) {
      this.remember(write.key, value);
      this.counters.writes++;
    } else {
      this.invalidate(write.key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
    this.generations.clear();
    this.generationAll++;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Drops the keys that notices of `type` name (read by `keysOf`; anything malformed is
   * ignored), and everything when the bus reconnects. Returns the unsubscribe function.
   */
  follow<T extends ControlType>(
    bus: StanzaBus,
    type: T,
    keysOf: (message: Extract<ControlMessage, { type: T }>) => unknown,
    /** notices from this origin are skipped: its writer already updated this cache (see completeWrite) */
    opts: { ownOrigin?: string } = {},
  ): () => void {
    const offControl = bus.subscribeControl((m) => {
      if (m.type !== type) return;
      if (opts.ownOrigin !== undefined && m.origin === opts.ownOrigin) return;
      const keys = keysOf(m as Extract<ControlMessage, { type: T }>);
      for (const key of Array.isArray(keys) ? keys : [keys]) if (typeof key === "string") this.invalidate(key);
    });
    const offReconnect = bus.onReconnect(() => this.clear());
    return () => {
      offControl();
      offReconnect();
    };
  }

  private remember(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, at: this.now(), used: false });
    // the oldest entry not read since it was placed goes; read ones move to the young end once
    while (this.entries.size > this.maxEntries) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry<V>];
      this.entries.delete(oldestKey);
      if (!oldest.used && oldestKey !== key) break;
      oldest.used = false; // spared once (the new entry always)
      this.entries.set(oldestKey, oldest);
    }
  }
}
