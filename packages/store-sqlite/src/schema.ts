/**
 * SQLite schema and its migrations. The schema version lives in `PRAGMA user_version`; each
 * migration moves the file from version i to i + 1 inside one transaction, so a crash in the
 * middle of an upgrade leaves the previous version intact. To change the schema, append a
 * migration; never edit a released one.
 */

import type { Database } from "better-sqlite3";

export class SchemaVersionError extends Error {
  override name = "SchemaVersionError";
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`database schema version ${found} is newer than this build supports (${supported}); upgrade Switchboard`);
  }
}

type Migration = (db: Database) => void;

const migrations: Migration[] = [
  // 0 → 1: initial schema.
  (db) => {
    db.exec(`
      CREATE TABLE accounts (
        jid TEXT PRIMARY KEY,
        credentials TEXT NOT NULL,       -- JSON AccountCredentials (salted SCRAM only)
        created_at INTEGER NOT NULL      -- epoch ms
      );
      CREATE TABLE roster (
        owner TEXT NOT NULL,
        contact TEXT NOT NULL,
        item TEXT NOT NULL,              -- JSON RosterItem
        PRIMARY KEY (owner, contact)
      );
      CREATE TABLE roster_version (
        owner TEXT PRIMARY KEY,
        version INTEGER NOT NULL
      );
      -- Store-wide counters. 'roster_version' feeds every owner's roster version so that a
      -- deleted and re-created account never reissues a version a client still has cached.
      CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      INSERT INTO counters (name, value) VALUES ('roster_version', 0);
      CREATE TABLE offline (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, so id order is arrival order
        owner TEXT NOT NULL,
        xml TEXT NOT NULL,
        stored_at INTEGER NOT NULL
      );
      CREATE INDEX offline_owner ON offline (owner, id);
      CREATE TABLE vcard (
        owner TEXT PRIMARY KEY,
        xml TEXT NOT NULL
      );
      CREATE TABLE blocklist (
        owner TEXT NOT NULL,
        jid TEXT NOT NULL,
        PRIMARY KEY (owner, jid)
      );
    `);
  },
  // 1 → 2: XEP-0012 last activity, one row per user.
  (db) => {
    db.exec(`
      CREATE TABLE last_activity (
        owner TEXT PRIMARY KEY,
        at INTEGER NOT NULL,             -- epoch ms
        status TEXT                      -- NULL when the user left without a status
      );
    `);
  },
  // 2 → 3: XEP-0049 private XML storage, one row per (user, namespace).
  (db) => {
    db.exec(`
      CREATE TABLE private_xml (
        owner TEXT NOT NULL,
        namespace TEXT NOT NULL,
        xml TEXT NOT NULL,
        PRIMARY KEY (owner, namespace)
      );
    `);
  },
  // 3 → 4: persistent MUC rooms (XEP-0045 §10.1.3), by service domain.
  (db) => {
    db.exec(`
      CREATE TABLE muc_rooms (
        jid TEXT PRIMARY KEY,
        domain TEXT NOT NULL,
        data TEXT NOT NULL               -- JSON, written and read by the MUC service
      );
      CREATE INDEX muc_rooms_domain ON muc_rooms (domain, jid);
    `);
  },
  // 4 → 5: bans (switchboard ban), one row per banned user; refused at login while in force.
  (db) => {
    db.exec(`
      CREATE TABLE bans (
        jid TEXT PRIMARY KEY,
        since INTEGER NOT NULL,          -- epoch ms the ban was made
        until INTEGER,                   -- epoch ms it ends; NULL until unbanned
        reason TEXT,
        banned_by TEXT                   -- the admin tool's label ("by" is an SQL keyword)
      );
    `);
  },
  // 5 → 6: XEP-0357 push registrations, one row per (user, app server JID, node).
  (db) => {
    db.exec(`
      CREATE TABLE push (
        owner TEXT NOT NULL,
        jid TEXT NOT NULL,               -- the app server
        node TEXT NOT NULL,              -- its PubSub node for the device
        form TEXT,                       -- publish-options data form, serialized
        PRIMARY KEY (owner, jid, node)
      );
    `);
  },
  // 6 → 7: XEP-0484 FAST tokens, one row per (user, user agent); the tokens themselves sealed.
  (db) => {
    db.exec(`
      CREATE TABLE fast_tokens (
        owner TEXT NOT NULL,
        agent TEXT NOT NULL,             -- the XEP-0388 user-agent id
        tokens TEXT NOT NULL,            -- JSON FastTokens (current, previous), tokens sealed
        PRIMARY KEY (owner, agent)
      );
    `);
  },
  // 7 → 8: XEP-0163 personal eventing nodes and items, and the XEP-0115 caps cache.
  (db) => {
    db.exec(`
      CREATE TABLE pep_nodes (
        owner TEXT NOT NULL,
        node TEXT NOT NULL,
        config TEXT NOT NULL,            -- JSON PepNodeConfig
        PRIMARY KEY (owner, node)
      );
      CREATE TABLE pep_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, -- publication order; a republished id gets a new one
        owner TEXT NOT NULL,
        node TEXT NOT NULL,
        id TEXT NOT NULL,
        xml TEXT NOT NULL,
        publisher TEXT NOT NULL,
        at INTEGER NOT NULL,
        UNIQUE (owner, node, id)
      );
      CREATE INDEX pep_items_node ON pep_items (owner, node, seq);
      CREATE TABLE caps_features (
        key TEXT PRIMARY KEY,            -- 'hash ver' (XEP-0115 §5.4)
        features TEXT NOT NULL           -- JSON string array
      );
    `);
  },
];

export const CURRENT_SCHEMA_VERSION = migrations.length;

export function schemaVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/**
 * Brings the database up to CURRENT_SCHEMA_VERSION (or to `target`, which tests use to build a
 * file as an older release left it); refuses a file written by a newer build.
 */
export function migrate(db: Database, target = CURRENT_SCHEMA_VERSION): void {
  const found = schemaVersion(db);
  if (found > CURRENT_SCHEMA_VERSION) throw new SchemaVersionError(found, CURRENT_SCHEMA_VERSION);
  for (let version = found; version < Math.min(target, CURRENT_SCHEMA_VERSION); version++) {
    db.transaction(() => {
      migrations[version]!(db);
      // pragma cannot take bound parameters; version is an integer we computed.
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
