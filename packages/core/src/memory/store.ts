/**
 * In-process implementation of the Store port (ports.ts): plain Maps, nothing survives the
 * process. Used by tests and ephemeral runs; `switchboard start` uses the SQLite store.
 *
 * Every method is async like the port, and every value handed in or out is copied, so callers
 * may mutate what they pass or receive without corrupting the store (the SQLite and Redis
 * adapters give the same guarantee by serializing).
 */

import {
  AccountExistsError,
  AccountNotFoundError,
  type AccountCredentials,
  type AccountStore,
  type Ban,
  type FastTokenStore,
  type FastTokens,
  type BanStore,
  type BlockStore,
  type LastActivity,
  type LastActivityStore,
  type OfflineStore,
  type PepStore,
  type PrivatePayload,
  type PrivateStore,
  type PushRegistration,
  type PushStore,
  type RosterItem,
  type RoomStore,
  type RosterStore,
  type Store,
  type StoredRoom,
  type StoredStanza,
  type VCardStore,
} from "../ports.js";
import { MemoryBanStore } from "./bans.js";
import { MemoryPepStore, type PepData } from "./pep.js";

/** The per-user data that account deletion must wipe along with the account. */
interface UserData {
  roster: Map<string, Map<string, RosterItem>>;
  rosterVersion: Map<string, number>;
  offline: Map<string, StoredStanza[]>;
  vcard: Map<string, string>;
  blocklist: Map<string, Set<string>>;
  lastActivity: Map<string, LastActivity>;
  privateXml: Map<string, Map<string, string>>;
  bans: Map<string, Ban>;
  push: Map<string, Map<string, PushRegistration>>;
  /** owner → user agent → JSON of FastTokens */
  fastTokens: Map<string, Map<string, string>>;
  pep: PepData;
}

function copyItem(item: RosterItem): RosterItem {
  return { ...item, groups: [...item.groups] };
}

class MemoryAccountStore implements AccountStore {
  private readonly accounts = new Map<string, AccountCredentials>();

  constructor(private readonly userData: UserData) {}

  async create(bare: string, credentials: AccountCredentials): Promise<void> {
    if (this.accounts.has(bare)) throw new AccountExistsError(bare);
    this.accounts.set(bare, structuredClone(credentials));
  }

  async get(bare: string): Promise<AccountCredentials | undefined> {
    const credentials = this.accounts.get(bare);
    return credentials === undefined ? undefined : structuredClone(credentials);
  }

  async setCredentials(bare: string, credentials: AccountCredentials): Promise<void> {
    if (!this.accounts.has(bare)) throw new AccountNotFoundError(bare);
    this.accounts.set(bare, structuredClone(credentials));
    this.userData.fastTokens.delete(bare);
  }

  async delete(bare: string): Promise<boolean> {
    const existed = this.accounts.delete(bare);
    // Wipe user data even when the account is already gone, so stray data never outlives it.
    // The roster version is dropped too; versions come from a store-wide sequence, so a
    // re-created account never reissues a version a client may still have cached (XEP-0237).
    this.userData.roster.delete(bare);
    this.userData.rosterVersion.delete(bare);
    this.userData.offline.delete(bare);
    this.userData.vcard.delete(bare);
    this.userData.blocklist.delete(bare);
    this.userData.lastActivity.delete(bare);
    this.userData.privateXml.delete(bare);
    this.userData.bans.delete(bare);
    this.userData.push.delete(bare);
    this.userData.fastTokens.delete(bare);
    this.userData.pep.delete(bare);
    return existed;
  }

  async exists(bare: string): Promise<boolean> {
    return this.accounts.has(bare);
  }

  async list(): Promise<string[]> {
    return [...this.accounts.keys()].sort();
  }

  async createMany(
    entries: Array<{ bare: string; credentials: AccountCredentials }>,
  ): Promise<Array<"created" | "exists">> {
    return entries.map(({ bare, credentials }) => {
      if (this.accounts.has(bare)) return "exists";
      this.accounts.set(bare, structuredClone(credentials));
      return "created";
    });
  }
}

class MemoryRosterStore implements RosterStore {
  /** Store-wide sequence: versions are monotonic per owner and never reused after deletion. */
  private lastVersion = 0;

  constructor(private readonly userData: UserData) {}

  async list(owner: string): Promise<RosterItem[]> {
    return [...(this.userData.roster.get(owner)?.values() ?? [])].map(copyItem);
  }

  async get(owner: string, contact: string): Promise<RosterItem | undefined> {
    const item = this.userData.roster.get(owner)?.get(contact);
    return item === undefined ? undefined : copyItem(item);
  }

  async put(owner: string, item: RosterItem): Promise<number> {
    let items = this.userData.roster.get(owner);
    if (items === undefined) {
      items = new Map();
      this.userData.roster.set(owner, items);
    }
    items.set(item.jid, copyItem(item));
    return this.bump(owner);
  }

  async remove(owner: string, contact: string): Promise<number> {
    const items = this.userData.roster.get(owner);
    items?.delete(contact);
    if (items?.size === 0) this.userData.roster.delete(owner);
    return this.bump(owner);
  }

  async version(owner: string): Promise<number> {
    return this.userData.rosterVersion.get(owner) ?? 0;
  }

  private bump(owner: string): number {
    this.lastVersion += 1;
    this.userData.rosterVersion.set(owner, this.lastVersion);
    return this.lastVersion;
  }
}

class MemoryOfflineStore implements OfflineStore {
  /** Monotonic across owners, so ids also order arrival like the SQLite rowid does. */
  private lastId = 0;

  constructor(private readonly userData: UserData) {}

  // Atomic per user for free: there is no await between the cap check and the append.
  async push(owner: string, stanzaXml: string, cap: number): Promise<boolean> {
    const queue = this.userData.offline.get(owner) ?? [];
    if (queue.length >= cap) return false;
    this.lastId += 1;
    queue.push({ id: String(this.lastId), xml: stanzaXml });
    this.userData.offline.set(owner, queue);
    return true;
  }

  async peek(owner: string, limit?: number): Promise<StoredStanza[]> {
    const queue = this.userData.offline.get(owner) ?? [];
    return queue.slice(0, limit ?? queue.length).map((stanza) => ({ ...stanza }));
  }

  async remove(owner: string, ids: string[]): Promise<void> {
    const queue = this.userData.offline.get(owner);
    if (queue === undefined) return;
    const delivered = new Set(ids);
    const rest = queue.filter((stanza) => !delivered.has(stanza.id));
    if (rest.length === 0) this.userData.offline.delete(owner);
    else this.userData.offline.set(owner, rest);
  }

  async count(owner: string): Promise<number> {
    return this.userData.offline.get(owner)?.length ?? 0;
  }
}

class MemoryVCardStore implements VCardStore {
  constructor(private readonly userData: UserData) {}

  async get(owner: string): Promise<string | undefined> {
    return this.userData.vcard.get(owner);
  }

  async set(owner: string, vcardXml: string): Promise<void> {
    this.userData.vcard.set(owner, vcardXml);
  }
}

class MemoryBlockStore implements BlockStore {
  constructor(private readonly userData: UserData) {}

  /** In the order the JIDs were blocked. */
  async list(owner: string): Promise<string[]> {
    return [...(this.userData.blocklist.get(owner) ?? [])];
  }

  async add(owner: string, jids: string[]): Promise<string[]> {
    const blocked = this.userData.blocklist.get(owner) ?? new Set<string>();
    const added: string[] = [];
    for (const jid of jids) {
      if (blocked.has(jid)) continue;
      blocked.add(jid);
      added.push(jid);
    }
    if (blocked.size > 0) this.userData.blocklist.set(owner, blocked);
    return added;
  }

  async remove(owner: string, jids: string[]): Promise<string[]> {
    const blocked = this.userData.blocklist.get(owner);
    if (blocked === undefined) return [];
    // XEP-0191 §3.4: an unblock without items unblocks every JID.
    if (jids.length === 0) {
      this.userData.blocklist.delete(owner);
      return [...blocked];
    }
    const removed = jids.filter((jid) => blocked.delete(jid));
    if (blocked.size === 0) this.userData.blocklist.delete(owner);
    return removed;
  }
}

class MemoryLastActivityStore implements LastActivityStore {
  constructor(private readonly userData: UserData) {}

  async get(owner: string): Promise<LastActivity | undefined> {
    const last = this.userData.lastActivity.get(owner);
    return last === undefined ? undefined : { ...last };
  }

  async set(owner: string, at: number, status?: string): Promise<void> {
    this.userData.lastActivity.set(owner, status === undefined ? { at } : { at, status });
  }
}

class MemoryPrivateStore implements PrivateStore {
  constructor(private readonly userData: UserData) {}

  async get(owner: string, namespace: string): Promise<string | undefined> {
    return this.userData.privateXml.get(owner)?.get(namespace);
  }

  // Atomic per user for free: there is no await between the check and the writes.
  async set(owner: string, payloads: PrivatePayload[], maxNamespaces: number): Promise<boolean> {
    const held = this.userData.privateXml.get(owner) ?? new Map<string, string>();
    const added = new Set(payloads.map((p) => p.namespace).filter((ns) => !held.has(ns)));
    if (held.size + added.size > maxNamespaces) return false;
    for (const { namespace, xml } of payloads) held.set(namespace, xml);
    if (held.size > 0) this.userData.privateXml.set(owner, held);
    return true;
  }

  async count(owner: string): Promise<number> {
    return this.userData.privateXml.get(owner)?.size ?? 0;
  }
}

/** XEP-0357 registrations: owner → "jid\nnode" → registration. */
class MemoryPushStore implements PushStore {
  constructor(private readonly userData: UserData) {}

  async list(owner: string): Promise<PushRegistration[]> {
    return [...(this.userData.push.get(owner)?.values() ?? [])]
      .map((r) => ({ ...r }))
      .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  async put(owner: string, registration: PushRegistration, max: number): Promise<boolean> {
    const held = this.userData.push.get(owner) ?? new Map<string, PushRegistration>();
    const key = `${registration.jid}\n${registration.node}`;
    if (!held.has(key) && held.size >= max) return false;
    held.set(key, { ...registration });
    this.userData.push.set(owner, held);
    return true;
  }

  async remove(owner: string, jid: string, node?: string): Promise<number> {
    const held = this.userData.push.get(owner);
    if (!held) return 0;
    let removed = 0;
    for (const [key, r] of held) if (r.jid === jid && (node === undefined || r.node === node)) removed += Number(held.delete(key));
    if (held.size === 0) this.userData.push.delete(owner);
    return removed;
  }
}

/** Persistent MUC rooms: not per-user data, so account deletion leaves them alone. */
class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, string>();

  async get(jid: string): Promise<StoredRoom | undefined> {
    const data = this.rooms.get(jid);
    return data === undefined ? undefined : { jid, data };
  }

  async put(room: StoredRoom): Promise<void> {
    this.rooms.set(room.jid, room.data);
  }

  async delete(jid: string): Promise<boolean> {
    return this.rooms.delete(jid);
  }

  async list(domain: string): Promise<StoredRoom[]> {
    return [...this.rooms]
      .filter(([jid]) => jid.slice(jid.indexOf("@") + 1) === domain)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([jid, data]) => ({ jid, data }));
  }
}

class MemoryFastTokenStore implements FastTokenStore {
  constructor(private readonly userData: UserData) {}

  async get(owner: string, agent: string): Promise<FastTokens | undefined> {
    const json = this.userData.fastTokens.get(owner)?.get(agent);
    return json === undefined ? undefined : (JSON.parse(json) as FastTokens);
  }

  async swap(owner: string, agent: string, expected: FastTokens | undefined, next: FastTokens | undefined): Promise<boolean> {
    const held = this.userData.fastTokens.get(owner);
    if ((held?.get(agent) ?? null) !== (expected === undefined ? null : JSON.stringify(expected))) return false;
    if (next === undefined) {
      held?.delete(agent);
      if (held?.size === 0) this.userData.fastTokens.delete(owner);
      return true;
    }
    const map = held ?? new Map<string, string>();
    map.set(agent, JSON.stringify(next));
    this.userData.fastTokens.set(owner, map);
    return true;
  }
}

export class MemoryStore implements Store {
  readonly accounts: Required<AccountStore>;
  readonly bans: BanStore;
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly vcard: VCardStore;
  readonly blocklist: BlockStore;
  readonly lastActivity: LastActivityStore;
  readonly privateXml: PrivateStore;
  readonly rooms: RoomStore = new MemoryRoomStore();
  readonly push: PushStore;
  readonly fastTokens: FastTokenStore;
  readonly pep: PepStore;

  constructor() {
    const userData: UserData = {
      roster: new Map(),
      rosterVersion: new Map(),
      offline: new Map(),
      vcard: new Map(),
      blocklist: new Map(),
      lastActivity: new Map(),
      privateXml: new Map(),
      fastTokens: new Map(),
      bans: new Map(),
      push: new Map(),
      pep: new Map(),
    };
    this.accounts = new MemoryAccountStore(userData);
    this.bans = new MemoryBanStore(userData.bans);
    this.roster = new MemoryRosterStore(userData);
    this.offline = new MemoryOfflineStore(userData);
    this.vcard = new MemoryVCardStore(userData);
    this.blocklist = new MemoryBlockStore(userData);
    this.lastActivity = new MemoryLastActivityStore(userData);
    this.privateXml = new MemoryPrivateStore(userData);
    this.push = new MemoryPushStore(userData);
    this.fastTokens = new MemoryFastTokenStore(userData);
    this.pep = new MemoryPepStore(userData.pep);
  }

  async close(): Promise<void> {}
}
