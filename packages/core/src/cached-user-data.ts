/**
 * Rosters and blocklists kept per node in cluster mode (issue 10, cheaper logins), in front of
 * the shared store. A login needs the user's roster three times (the roster get, the initial
 * presence broadcast, the probes of its contacts) and its blocklist twice (the get, the cache
 * that enforces it), and answering a contact's probe reads the contact's roster: each was a
 * Redis command. Here each is read once per node and kept until it changes, like the session
 * lists (cached-registry.ts):
 *
 * - every write through this store drops the owner's entry here and, over the bus, on every
 *   node, and resolves once the live nodes confirmed (so a subscription change made on one edge
 *   is what the next stanza sees on another); a read racing with a change is not kept;
 * - a login's single read (Store.readLogin: credentials, ban, roster, blocklist) seeds both
 *   entries, under the same generation rule, so the login's own later reads cost nothing and a
 *   login always starts from what the store holds (a list changed behind the bus's back, by an
 *   offline admin command, is corrected at the user's next login);
 * - entries expire after a TTL and everything is dropped when the bus reconnects.
 */
import type { Logger } from "./logger.js";
import { InvalidatedCache } from "./invalidated-cache.js";
import type { BlockStore, LoginRecord, RosterItem, RosterSnapshot, RosterStore, StanzaBus, Store } from "./ports.js";

export const USER_DATA_CHANGED = "userdata.changed" as const;

export interface CachedUserDataOptions {
  /** live nodes, this one included: how many confirmations a change waits for */
  liveNodeCount?: () => number;
  confirmTimeoutMs?: number;
  ttlMs?: number;
  maxEntries?: number;
}

type Part = "roster" | "blocklist";

/** Returns `inner` with its roster and blocklist cached, and readLogin seeding them. */
export type CachedUserDataStore = Store & {
  /** stops following the bus and forgets everything; the inner store stays open */
  detach(): void;
  readonly userDataCounters: { roster: InvalidatedCache<RosterSnapshot>["counters"]; blocklist: InvalidatedCache<string[]>["counters"] };
};

export function cacheUserData(inner: Store, bus: StanzaBus, nodeId: string, log: Logger, opts: CachedUserDataOptions = {}): CachedUserDataStore {
  const ttlMs = opts.ttlMs ?? 60_000;
  const maxEntries = opts.maxEntries ?? 20_000;
  const rosters = new InvalidatedCache<RosterSnapshot>({
    load: async (owner) => inner.roster.snapshot?.(owner) ?? { items: await inner.roster.list(owner), version: await inner.roster.version(owner) },
    ttlMs,
    maxEntries,
  });
  const blocklists = new InvalidatedCache<string[]>({ load: (owner) => inner.blocklist.list(owner), ttlMs, maxEntries });
  const caches: Record<Part, InvalidatedCache<unknown>> = { roster: rosters, blocklist: blocklists };
  const unfollow = [rosters, blocklists].map((cache, i) =>
    cache.follow(bus, USER_DATA_CHANGED, (m) => (Array.isArray(m.parts) && m.parts.includes(i === 0 ? "roster" : "blocklist") ? m.owner : undefined), { ownOrigin: nodeId }),
  );

  /** after a write of `owner`'s `parts`: dropped here, then on every node */
  const changed = async (owner: string, parts: Part[]): Promise<void> => {
    for (const part of parts) caches[part].invalidate(owner);
    const notice = { type: USER_DATA_CHANGED, origin: nodeId, owner, parts } as const;
    try {
      const nodes = opts.liveNodeCount?.();
      if (nodes !== undefined && nodes > 1) await bus.publishControlConfirmed(notice, nodes, opts.confirmTimeoutMs ?? 1_000);
      else await bus.publishControl(notice);
    } catch (err) {
      // the others flush everything when their bus reconnects; the TTL bounds the rest
      log.warn({ err, owner }, "could not announce a roster or blocklist change");
    }
  };
  const afterWrite = async <T>(owner: string, parts: Part[], write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      await changed(owner, parts); // also when it failed: it may have applied
    }
  };

  const roster: RosterStore = {
    async list(owner) {
      return (await rosters.get(owner)).items.map(copyItem);
    },
    async get(owner, contact) {
      const item = (await rosters.get(owner)).items.find((i) => i.jid === contact);
      return item ? copyItem(item) : undefined;
    },
    async version(owner) {
      return (await rosters.get(owner)).version;
    },
    async snapshot(owner) {
      const { version, items } = await rosters.get(owner);
      return { version, items: items.map(copyItem) };
    },
    put: (owner, item) => afterWrite(owner, ["roster"], () => inner.roster.put(owner, item)),
    remove: (owner, contact) => afterWrite(owner, ["roster"], () => inner.roster.remove(owner, contact)),
  };
  const blocklist: BlockStore = {
    async list(owner) {
      return [...(await blocklists.get(owner))];
    },
    add: (owner, jids) => afterWrite(owner, ["blocklist"], () => inner.blocklist.add(owner, jids)),
    remove: (owner, jids) => afterWrite(owner, ["blocklist"], () => inner.blocklist.remove(owner, jids)),
  };

  const readLogin = async (bare: string, now?: number): Promise<LoginRecord> => {
    if (!inner.readLogin) {
      const [credentials, ban, snapshot, list] = await Promise.all([inner.accounts.get(bare), inner.bans.get(bare, now), roster.snapshot!(bare), blocklist.list(bare)]);
      return { credentials, ban, roster: snapshot, blocklist: list };
    }
    const pendingRoster = rosters.beginWrite(bare);
    const pendingBlocklist = blocklists.beginWrite(bare);
    let record: LoginRecord | undefined;
    try {
      record = await inner.readLogin(bare, now);
      return { ...record, roster: { version: record.roster.version, items: record.roster.items.map(copyItem) }, blocklist: [...record.blocklist] };
    } finally {
      // kept unless either list changed meanwhile (or the read failed)
      rosters.completeWrite(pendingRoster, record?.roster);
      blocklists.completeWrite(pendingBlocklist, record?.blocklist);
    }
  };

  /** stops following the bus and forgets everything; the inner store stays open */
  const detach = (): void => {
    for (const off of unfollow) off();
    rosters.clear();
    blocklists.clear();
  };

  return Object.assign(Object.create(inner) as Store, {
    roster,
    blocklist,
    readLogin,
    accounts: Object.assign(Object.create(inner.accounts) as Store["accounts"], {
      // the user's keys go with the account: roster and blocklist too
      delete: (bare: string) => afterWrite(bare, ["roster", "blocklist"], () => inner.accounts.delete(bare)),
    }),
    userDataCounters: { roster: rosters.counters, blocklist: blocklists.counters },
    detach,
    async close() {
      detach();
      await inner.close();
    },
  });
}

function copyItem(item: RosterItem): RosterItem {
  return { ...item, groups: [...item.groups] };
}
