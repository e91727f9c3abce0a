/**
 * BanStore on SQLite: one row per banned user in `bans` (schema version 5). Ended bans are
 * deleted lazily as reads meet them, by a conditional DELETE (`until <= now`), so a re-ban that
 * another process wrote in between is never the row that goes.
 */

import type { Ban, BanStore } from "@switchboard/core";
import type { BanRow, Statements } from "./statements.js";

function banOf(row: BanRow): Ban {
  const ban: Ban = { jid: row.jid, since: row.since };
  if (row.reason !== null) ban.reason = row.reason;
  if (row.until !== null) ban.until = row.until;
  if (row.banned_by !== null) ban.by = row.banned_by;
  return ban;
}

const inForce = (until: number | null, now: number) => until === null || now < until;

/**
 * Lazy expiry by the real clock, never by a later `now` a caller asked about: that question
 * must not lift a ban still in force today.
 */
const endedBy = (now: number) => Math.min(now, Date.now());

export function sqliteBans(sql: Statements): BanStore {
  return {
    async set(ban) {
      sql.upsertBan.run(ban.jid, ban.since, ban.until ?? null, ban.reason ?? null, ban.by ?? null);
    },
    async get(bare, now = Date.now()) {
      const row = sql.getBan.get(bare);
      if (row === undefined) return undefined;
      if (inForce(row.until, now)) return banOf(row);
      sql.deleteEndedBan.run(bare, endedBy(now));
      return undefined;
    },
    async delete(bare) {
      const row = sql.deleteBan.get(bare);
      return row !== undefined && inForce(row.until, Date.now());
    },
    async list(now = Date.now()) {
      const rows = sql.listBans.all(now);
      sql.deleteEndedBans.run(endedBy(now));
      // Sorted in JS (UTF-16 order) like every other Store; SQLite's BINARY collation is by bytes.
      return rows.map(banOf).sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
    },
  };
}
