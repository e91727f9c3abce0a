/**
 * Every SQL statement the store runs, prepared once per connection (preparing is the expensive
 * part of a query in SQLite; re-preparing per call would dominate bulk imports).
 */

import type BetterSqlite3 from "better-sqlite3";
type Database = BetterSqlite3.Database;

export type Statements = ReturnType<typeof prepareStatements>;

export interface BanRow {
  jid: string;
  since: number;
  until: number | null;
  reason: string | null;
  banned_by: string | null;
}

export function prepareStatements(db: Database) {
  return {
    // accounts
    insertAccount: db.prepare<[jid: string, credentials: string, createdAt: number]>(
      "INSERT OR IGNORE INTO accounts (jid, credentials, created_at) VALUES (?, ?, ?)",
    ),
    getCredentials: db.prepare<[jid: string], { credentials: string }>(
      "SELECT credentials FROM accounts WHERE jid = ?",
    ),
    updateCredentials: db.prepare<[credentials: string, jid: string]>(
      "UPDATE accounts SET credentials = ? WHERE jid = ?",
    ),
    accountExists: db.prepare<[jid: string], { found: number }>("SELECT 1 AS found FROM accounts WHERE jid = ?"),
    listAccounts: db.prepare<[], { jid: string }>("SELECT jid FROM accounts"),
    deleteAccount: db.prepare<[jid: string]>("DELETE FROM accounts WHERE jid = ?"),

    // roster
    listRoster: db.prepare<[owner: string], { item: string }>("SELECT item FROM roster WHERE owner = ?"),
    getRosterItem: db.prepare<[owner: string, contact: string], { item: string }>(
      "SELECT item FROM roster WHERE owner = ? AND contact = ?",
    ),
    upsertRosterItem: db.prepare<[owner: string, contact: string, item: string]>(
      "INSERT INTO roster (owner, contact, item) VALUES (?, ?, ?) " +
        "ON CONFLICT (owner, contact) DO UPDATE SET item = excluded.item",
    ),
    deleteRosterItem: db.prepare<[owner: string, contact: string]>(
      "DELETE FROM roster WHERE owner = ? AND contact = ?",
    ),
    deleteRoster: db.prepare<[owner: string]>("DELETE FROM roster WHERE owner = ?"),
    nextRosterVersion: db.prepare<[], { value: number }>(
      "UPDATE counters SET value = value + 1 WHERE name = 'roster_version' RETURNING value",
    ),
    setRosterVersion: db.prepare<[owner: string, version: number]>(
      "INSERT INTO roster_version (owner, version) VALUES (?, ?) " +
        "ON CONFLICT (owner) DO UPDATE SET version = excluded.version",
    ),
    getRosterVersion: db.prepare<[owner: string], { version: number }>(
      "SELECT version FROM roster_version WHERE owner = ?",
    ),
    deleteRosterVersion: db.prepare<[owner: string]>("DELETE FROM roster_version WHERE owner = ?"),

    // offline
    countOffline: db.prepare<[owner: string], { n: number }>("SELECT COUNT(*) AS n FROM offline WHERE owner = ?"),
    insertOffline: db.prepare<[owner: string, xml: string, storedAt: number]>(
      "INSERT INTO offline (owner, xml, stored_at) VALUES (?, ?, ?)",
    ),
    // A negative LIMIT means "no limit" in SQLite, which is how peek() without a limit binds.
    peekOffline: db.prepare<[owner: string, limit: number], { id: number; xml: string }>(
      "SELECT id, xml FROM offline WHERE owner = ? ORDER BY id LIMIT ?",
    ),
    deleteOffline: db.prepare<[owner: string]>("DELETE FROM offline WHERE owner = ?"),

    // vcard
    getVCard: db.prepare<[owner: string], { xml: string }>("SELECT xml FROM vcard WHERE owner = ?"),
    upsertVCard: db.prepare<[owner: string, xml: string]>(
      "INSERT INTO vcard (owner, xml) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET xml = excluded.xml",
    ),
    deleteVCard: db.prepare<[owner: string]>("DELETE FROM vcard WHERE owner = ?"),

    // blocklist (rowid order = the order JIDs were blocked)
    listBlocked: db.prepare<[owner: string], { jid: string }>(
      "SELECT jid FROM blocklist WHERE owner = ? ORDER BY rowid",
    ),
    insertBlocked: db.prepare<[owner: string, jid: string]>(
      "INSERT OR IGNORE INTO blocklist (owner, jid) VALUES (?, ?)",
    ),
    deleteBlocked: db.prepare<[owner: string, jid: string]>("DELETE FROM blocklist WHERE owner = ? AND jid = ?"),
    deleteBlocklist: db.prepare<[owner: string]>("DELETE FROM blocklist WHERE owner = ?"),

    // last activity
    getLastActivity: db.prepare<[owner: string], { at: number; status: string | null }>(
      "SELECT at, status FROM last_activity WHERE owner = ?",
    ),
    upsertLastActivity: db.prepare<[owner: string, at: number, status: string | null]>(
      "INSERT INTO last_activity (owner, at, status) VALUES (?, ?, ?) " +
        "ON CONFLICT (owner) DO UPDATE SET at = excluded.at, status = excluded.status",
    ),
    deleteLastActivity: db.prepare<[owner: string]>("DELETE FROM last_activity WHERE owner = ?"),

    // private XML
    getPrivate: db.prepare<[owner: string, namespace: string], { xml: string }>(
      "SELECT xml FROM private_xml WHERE owner = ? AND namespace = ?",
    ),
    countPrivate: db.prepare<[owner: string], { n: number }>("SELECT COUNT(*) AS n FROM private_xml WHERE owner = ?"),
    upsertPrivate: db.prepare<[owner: string, namespace: string, xml: string]>(
      "INSERT INTO private_xml (owner, namespace, xml) VALUES (?, ?, ?) " +
        "ON CONFLICT (owner, namespace) DO UPDATE SET xml = excluded.xml",
    ),
    deletePrivate: db.prepare<[owner: string]>("DELETE FROM private_xml WHERE owner = ?"),
    getFastTokens: db.prepare<[owner: string, agent: string], { tokens: string }>("SELECT tokens FROM fast_tokens WHERE owner = ? AND agent = ?"),
    putFastTokens: db.prepare<[owner: string, agent: string, tokens: string]>(
      "INSERT INTO fast_tokens (owner, agent, tokens) VALUES (?, ?, ?) ON CONFLICT (owner, agent) DO UPDATE SET tokens = excluded.tokens",
    ),
    deleteFastToken: db.prepare<[owner: string, agent: string]>("DELETE FROM fast_tokens WHERE owner = ? AND agent = ?"),
    deleteFastTokens: db.prepare<[owner: string]>("DELETE FROM fast_tokens WHERE owner = ?"),

    // persistent MUC rooms
    getRoom: db.prepare<[jid: string], { data: string }>("SELECT data FROM muc_rooms WHERE jid = ?"),
    upsertRoom: db.prepare<[jid: string, domain: string, data: string]>(
      "INSERT INTO muc_rooms (jid, domain, data) VALUES (?, ?, ?) ON CONFLICT (jid) DO UPDATE SET data = excluded.data",
    ),
    deleteRoom: db.prepare<[jid: string]>("DELETE FROM muc_rooms WHERE jid = ?"),
    listRooms: db.prepare<[domain: string], { jid: string; data: string }>("SELECT jid, data FROM muc_rooms WHERE domain = ? ORDER BY jid"),

    // bans: "in force" is until IS NULL OR until > now, the same rule as every other Store
    upsertBan: db.prepare<[jid: string, since: number, until: number | null, reason: string | null, by: string | null]>(
      "INSERT INTO bans (jid, since, until, reason, banned_by) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (jid) DO UPDATE SET since = excluded.since, until = excluded.until, " +
        "reason = excluded.reason, banned_by = excluded.banned_by",
    ),
    getBan: db.prepare<[jid: string], BanRow>("SELECT jid, since, until, reason, banned_by FROM bans WHERE jid = ?"),
    listBans: db.prepare<[now: number], BanRow>(
      "SELECT jid, since, until, reason, banned_by FROM bans WHERE until IS NULL OR until > ?",
    ),
    deleteBan: db.prepare<[jid: string], { until: number | null }>("DELETE FROM bans WHERE jid = ? RETURNING until"),
    deleteEndedBan: db.prepare<[jid: string, now: number]>("DELETE FROM bans WHERE jid = ? AND until <= ?"),
    deleteEndedBans: db.prepare<[now: number]>("DELETE FROM bans WHERE until <= ?"),
  };
}
