/** XEP-0357 push registrations in SQLite (table `push`, schema.ts migration 5 → 6). */
import type Database from "better-sqlite3";
import type { PushRegistration, PushStore } from "@switchboard/core";

type Row = { jid: string; node: string; form: string | null };

const statements = new WeakMap<Database.Database, ReturnType<typeof prepare>>();

function prepare(db: Database.Database) {
  return {
    list: db.prepare<[owner: string], Row>("SELECT jid, node, form FROM push WHERE owner = ? ORDER BY jid, node"),
    count: db.prepare<[owner: string], { n: number }>("SELECT COUNT(*) AS n FROM push WHERE owner = ?"),
    get: db.prepare<[owner: string, jid: string, node: string], { jid: string }>("SELECT jid FROM push WHERE owner = ? AND jid = ? AND node = ?"),
    upsert: db.prepare<[owner: string, jid: string, node: string, form: string | null]>(
      "INSERT INTO push (owner, jid, node, form) VALUES (?, ?, ?, ?) ON CONFLICT (owner, jid, node) DO UPDATE SET form = excluded.form",
    ),
    removeOne: db.prepare<[owner: string, jid: string, node: string]>("DELETE FROM push WHERE owner = ? AND jid = ? AND node = ?"),
    removeJid: db.prepare<[owner: string, jid: string]>("DELETE FROM push WHERE owner = ? AND jid = ?"),
    removeOwner: db.prepare<[owner: string]>("DELETE FROM push WHERE owner = ?"),
  };
}

function sql(db: Database.Database): ReturnType<typeof prepare> {
  let s = statements.get(db);
  if (!s) statements.set(db, (s = prepare(db)));
  return s;
}

/** Part of deleting an account (inside its transaction). */
export function deletePush(db: Database.Database, owner: string): void {
  sql(db).removeOwner.run(owner);
}

export function sqlitePush(db: Database.Database): PushStore {
  const s = sql(db);
  const put = db.transaction((owner: string, r: PushRegistration, max: number): boolean => {
    if (s.get.get(owner, r.jid, r.node) === undefined && s.count.get(owner)!.n >= max) return false;
    s.upsert.run(owner, r.jid, r.node, r.form ?? null);
    return true;
  });
  return {
    async list(owner) {
      return s.list.all(owner).map((row) => (row.form === null ? { jid: row.jid, node: row.node } : { jid: row.jid, node: row.node, form: row.form }));
    },
    async put(owner, registration, max) {
      return put.immediate(owner, registration, max);
    },
    async remove(owner, jid, node) {
      return (node === undefined ? s.removeJid.run(owner, jid) : s.removeOne.run(owner, jid, node)).changes;
    },
  };
}
