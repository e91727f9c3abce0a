/**
 * SQLite implementation of the Store port (@switchboard/core ports.ts), the default store of the
 * single-node `switchboard start`. better-sqlite3 is synchronous, so every method runs to
 * completion before it returns; the async signatures only match the port. Operations that touch
 * several rows run in one IMMEDIATE transaction: it takes the write lock before reading, so a
 * check-then-write (the offline cap) stays atomic even if another process opens the same file.
 */

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import {
  AccountExistsError,
  AccountNotFoundError,
  type AccountCredentials,
  type AccountStore,
  type BanStore,
  type BlockStore,
  type FastTokenStore,
  type FastTokens,
  type LastActivityStore,
  type OfflineStore,
  type PepStore,
  type PrivatePayload,
  type PrivateStore,
  type PushStore,
  type RoomStore,
  type RosterItem,
  type RosterStore,
  type Store,
  type VCardStore,
} from "@switchboard/core";
import { sqliteBans } from "./bans.js";
import { sqlitePep } from "./pep.js";
import { migrate } from "./schema.js";
import { prepareStatements, type Statements } from "./statements.js";
import { deletePush, sqlitePush } from "./push.js";

export class SqliteStoreOpenError extends Error {
  override name = "SqliteStoreOpenError";
  constructor(
    readonly file: string,
    options: { cause: unknown },
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`cannot open SQLite store ${file}: ${reason}`, options);
  }
}

type AccountEntry = { bare: string; credentials: AccountCredentials };

export class SqliteStore implements Store {
  readonly accounts: Required<AccountStore>;
  readonly bans: BanStore;
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly vcard: VCardStore;
  readonly blocklist: BlockStore;
  readonly lastActivity: LastActivityStore;
  readonly privateXml: PrivateStore;
  readonly rooms: RoomStore;
  readonly push: PushStore;
  readonly fastTokens: FastTokenStore;
  readonly pep: PepStore;

  constructor(private readonly db: Database.Database) {
    const sql = prepareStatements(db);
    const pep = sqlitePep(db);
    this.pep = pep.store;
    this.accounts = sqliteAccounts(db, sql, pep.deleteOwner);
    this.bans = sqliteBans(sql);
    this.roster = sqliteRoster(db, sql);
    this.offline = sqliteOffline(db, sql);
    this.vcard = sqliteVCard(sql);
    this.blocklist = sqliteBlocklist(db, sql);
    this.lastActivity = sqliteLastActivity(sql);
    this.privateXml = sqlitePrivate(db, sql);
    this.rooms = sqliteRooms(sql);
    this.push = sqlitePush(db);
    this.fastTokens = sqliteFastTokens(db, sql);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * Opens (creating if needed) the store at `file`, or an in-memory one for ":memory:", and
 * migrates it to the current schema.
 */
export function openSqliteStore(file: string): SqliteStore {
  let db: Database.Database | undefined;
  try {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
    // timeout: wait for another process's write lock instead of failing with SQLITE_BUSY.
    db = new Database(file, { timeout: 5_000 });
    // WAL lets readers proceed during a write. synchronous=FULL (not the usual WAL pairing of
    // NORMAL) fsyncs the WAL on every commit: an offline message we answered "stored" for must
    // survive a power loss or kernel crash, and NORMAL may lose the last commits in that case.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    migrate(db);
    return new SqliteStore(db);
  } catch (cause) {
    db?.close();
    throw new SqliteStoreOpenError(file, { cause });
  }
}

function sqliteAccounts(db: Database.Database, sql: Statements, deletePep: (owner: string) => void): Required<AccountStore> {
  const insertOne = ({ bare, credentials }: AccountEntry, now: number): "created" | "exists" =>
    sql.insertAccount.run(bare, JSON.stringify(credentials), now).changes === 1 ? "created" : "exists";

  const deleteWithUserData = db.transaction((bare: string): boolean => {
    const existed = sql.deleteAccount.run(bare).changes === 1;
    // Wiped even when the account is already gone, so stray data never outlives it. The roster
    // version goes too: versions come from a store-wide counter and are never reissued.
    sql.deleteRoster.run(bare);
    sql.deleteRosterVersion.run(bare);
    sql.deleteOffline.run(bare);
    sql.deleteVCard.run(bare);
    sql.deleteBlocklist.run(bare);
    sql.deleteLastActivity.run(bare);
    sql.deletePrivate.run(bare);
    deletePep(bare);
    sql.deleteBan.get(bare);
    deletePush(db, bare);
    sql.deleteFastTokens.run(bare);
    return existed;
  });

  // XEP-0484: a new password revokes every FAST token, in the same transaction.
  const replaceCredentials = db.transaction((bare: string, credentials: AccountCredentials): boolean => {
    if (sql.updateCredentials.run(JSON.stringify(credentials), bare).changes === 0) return false;
    sql.deleteFastTokens.run(bare);
    return true;
  });

  const insertMany = db.transaction((entries: AccountEntry[]) => {
    const now = Date.now();
    return entries.map((entry) => insertOne(entry, now));
  });

  return {
    async create(bare, credentials) {
      if (insertOne({ bare, credentials }, Date.now()) === "exists") throw new AccountExistsError(bare);
    },
    async get(bare) {
      const row = sql.getCredentials.get(bare);
      return row === undefined ? undefined : (JSON.parse(row.credentials) as AccountCredentials);
    },
    async setCredentials(bare, credentials) {
      if (!replaceCredentials.immediate(bare, credentials)) throw new AccountNotFoundError(bare);
    },
    async delete(bare) {
      return deleteWithUserData.immediate(bare);
    },
    async exists(bare) {
      return sql.accountExists.get(bare) !== undefined;
    },
    async list() {
      // Sorted in JS rather than ORDER BY so the order is the same UTF-16 order as every other
      // Store implementation (SQLite's BINARY collation compares UTF-8 bytes).
      return sql.listAccounts
        .all()
        .map((row) => row.jid)
        .sort();
    },
    async createMany(entries) {
      // One transaction for the whole batch: one fsync instead of one per account.
      return insertMany.immediate(entries);
    },
  };
}

function sqliteFastTokens(db: Database.Database, sql: Statements): FastTokenStore {
  // A compare-and-set in one immediate transaction: two logins with one token cannot both pass.
  const swap = db.transaction((owner: string, agent: string, expected: string | null, next: string | null): boolean => {
    if ((sql.getFastTokens.get(owner, agent)?.tokens ?? null) !== expected) return false;
    if (next === null) sql.deleteFastToken.run(owner, agent);
    else sql.putFastTokens.run(owner, agent, next);
    return true;
  });
  return {
    async get(owner, agent) {
      const row = sql.getFastTokens.get(owner, agent);
      return row === undefined ? undefined : (JSON.parse(row.tokens) as FastTokens);
    },
    async swap(owner, agent, expected, next) {
      return swap.immediate(owner, agent, expected === undefined ? null : JSON.stringify(expected), next === undefined ? null : JSON.stringify(next));
    },
  };
}

function sqliteRoster(db: Database.Database, sql: Statements): RosterStore {
  const bumpVersion = (owner: string): number => {
    const { value } = sql.nextRosterVersion.get()!;
    sql.setRosterVersion.run(owner, value);
    return value;
  };
  const put = db.transaction((owner: string, item: RosterItem): number => {
    sql.upsertRosterItem.run(owner, item.jid, JSON.stringify(item));
    return bumpVersion(owner);
  });
  const remove = db.transaction((owner: string, contact: string): number => {
    sql.deleteRosterItem.run(owner, contact);
    return bumpVersion(owner);
  });

  return {
    async list(owner) {
      return sql.listRoster.all(owner).map((row) => JSON.parse(row.item) as RosterItem);
    },
    async get(owner, contact) {
      const row = sql.getRosterItem.get(owner, contact);
      return row === undefined ? undefined : (JSON.parse(row.item) as RosterItem);
    },
    async put(owner, item) {
      return put.immediate(owner, item);
    },
    async remove(owner, contact) {
      return remove.immediate(owner, contact);
    },
    async version(owner) {
      return sql.getRosterVersion.get(owner)?.version ?? 0;
    },
  };
}

/** Ids per DELETE: well under SQLite's bound-parameter limit (999 in older builds). */
const REMOVE_CHUNK = 100;

function sqliteOffline(db: Database.Database, sql: Statements): OfflineStore {
  const push = db.transaction((owner: string, xml: string, cap: number): boolean => {
    if (sql.countOffline.get(owner)!.n >= cap) return false;
    sql.insertOffline.run(owner, xml, Date.now());
    return true;
  });
  // One prepared DELETE per chunk length: a full chunk always, plus the tail lengths seen.
  const deleteByLength = new Map<number, Database.Statement<unknown[]>>();
  const deleteStatement = (length: number): Database.Statement<unknown[]> => {
    let statement = deleteByLength.get(length);
    if (statement === undefined) {
      const placeholders = new Array<string>(length).fill("?").join(", ");
      statement = db.prepare(`DELETE FROM offline WHERE owner = ? AND id IN (${placeholders})`);
      deleteByLength.set(length, statement);
    }
    return statement;
  };
  const remove = db.transaction((owner: string, ids: number[]): void => {
    for (let start = 0; start < ids.length; start += REMOVE_CHUNK) {
      const chunk = ids.slice(start, start + REMOVE_CHUNK);
      deleteStatement(chunk.length).run(owner, ...chunk);
    }
  });

  return {
    async push(owner, stanzaXml, cap) {
      return push.immediate(owner, stanzaXml, cap);
    },
    async peek(owner, limit) {
      return sql.peekOffline.all(owner, limit ?? -1).map((row) => ({ id: String(row.id), xml: row.xml }));
    },
    async remove(owner, ids) {
      // Ids this store never issued cannot match a row; dropping them keeps remove() idempotent.
      const rowIds = ids.filter((id) => /^[0-9]+$/.test(id)).map(Number);
      if (rowIds.length > 0) remove.immediate(owner, rowIds);
    },
    async count(owner) {
      return sql.countOffline.get(owner)!.n;
    },
  };
}

function sqliteVCard(sql: Statements): VCardStore {
  return {
    async get(owner) {
      return sql.getVCard.get(owner)?.xml;
    },
    async set(owner, vcardXml) {
      sql.upsertVCard.run(owner, vcardXml);
    },
  };
}

function sqliteBlocklist(db: Database.Database, sql: Statements): BlockStore {
  const add = db.transaction((owner: string, jids: string[]): string[] =>
    jids.filter((jid) => sql.insertBlocked.run(owner, jid).changes === 1),
  );
  const remove = db.transaction((owner: string, jids: string[]): string[] => {
    // XEP-0191 §3.4: an unblock without items unblocks every JID.
    if (jids.length === 0) {
      const all = sql.listBlocked.all(owner).map((row) => row.jid);
      sql.deleteBlocklist.run(owner);
      return all;
    }
    return jids.filter((jid) => sql.deleteBlocked.run(owner, jid).changes === 1);
  });

  return {
    async list(owner) {
      return sql.listBlocked.all(owner).map((row) => row.jid);
    },
    async add(owner, jids) {
      return add.immediate(owner, jids);
    },
    async remove(owner, jids) {
      return remove.immediate(owner, jids);
    },
  };
}

function sqliteLastActivity(sql: Statements): LastActivityStore {
  return {
    async get(owner) {
      const row = sql.getLastActivity.get(owner);
      if (row === undefined) return undefined;
      return row.status === null ? { at: row.at } : { at: row.at, status: row.status };
    },
    async set(owner, at, status) {
      sql.upsertLastActivity.run(owner, at, status ?? null);
    },
  };
}

function sqlitePrivate(db: Database.Database, sql: Statements): PrivateStore {
  const set = db.transaction((owner: string, payloads: PrivatePayload[], maxNamespaces: number): boolean => {
    const added = new Set(payloads.map((p) => p.namespace).filter((ns) => sql.getPrivate.get(owner, ns) === undefined));
    if (sql.countPrivate.get(owner)!.n + added.size > maxNamespaces) return false;
    for (const { namespace, xml } of payloads) sql.upsertPrivate.run(owner, namespace, xml);
    return true;
  });

  return {
    async get(owner, namespace) {
      return sql.getPrivate.get(owner, namespace)?.xml;
    },
    async set(owner, payloads, maxNamespaces) {
      return set.immediate(owner, payloads, maxNamespaces);
    },
    async count(owner) {
      return sql.countPrivate.get(owner)!.n;
    },
  };
}

function sqliteRooms(sql: Statements): RoomStore {
  return {
    async get(jid) {
      const row = sql.getRoom.get(jid);
      return row === undefined ? undefined : { jid, data: row.data };
    },
    async put(room) {
      sql.upsertRoom.run(room.jid, room.jid.slice(room.jid.indexOf("@") + 1), room.data);
    },
    async delete(jid) {
      return sql.deleteRoom.run(jid).changes > 0;
    },
    async list(domain) {
      return sql.listRooms.all(domain);
    },
  };
}
