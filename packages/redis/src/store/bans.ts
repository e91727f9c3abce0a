/**
 * BanStore on Redis. A ban is one string key per user (`{bare}:ban`, JSON), so the login check
 * on any node is one GET in the user's slot; a temporary ban carries a PEXPIREAT at its `until`
 * and Redis forgets it by itself. list() reads the global index `${prefix}:bans`, a sorted set
 * scored by `until` (+inf for a ban until unbanned), which lives in another slot and is therefore
 * written by separate commands, like the account index (accounts.ts):
 *
 * - set() writes the index *before* the ban and delete() cleans it *after*, so a crash between
 *   the two steps can only leave an entry without a ban (list() skips it), never a ban that
 *   list() cannot see.
 * - Entries are pruned by their score alone (ZREMRANGEBYSCORE up to now), never because the ban
 *   key looked absent: a re-ban raises the score before it writes the key, so pruning can never
 *   drop an entry a ban is being written for. An entry left without a key by a crash therefore
 *   stays until its score passes, or until an unban or the account's deletion removes it.
 *
 * Two admins banning the same JID at the same instant with different ends may leave the index
 * scored by the other ban's end; that affects only what list() shows, never get().
 */

import type { Ban, BanStore } from "@switchboard/core";
import { banIndexKey, userKeys } from "./keys.js";
import type { RedisClient, StoreScripts } from "./scripts.js";

/** The fields that are set, so an explicit `until: undefined` is not stored (JSON drops it anyway). */
function normalised({ jid, reason, since, until, by }: Ban): Ban {
  return { jid, since, ...(reason !== undefined && { reason }), ...(until !== undefined && { until }), ...(by !== undefined && { by }) };
}

const inForce = (ban: Ban, now: number) => ban.until === undefined || now < ban.until;

export function redisBans(client: RedisClient, scripts: StoreScripts, prefix: string): BanStore {
  const index = banIndexKey(prefix);
  const banKey = (bare: string) => userKeys(prefix, bare).ban;
  const parse = (json: string | null): Ban | undefined => (json === null ? undefined : (JSON.parse(json) as Ban));

  return {
    async set(ban) {
      await client.zadd(index, ban.until ?? "+inf", ban.jid);
      await scripts.banSet(banKey(ban.jid), JSON.stringify(normalised(ban)), ban.until);
    },
    async get(bare, now = Date.now()) {
      // An ended ban the key still holds (clock skew between this node and Redis, or a `now`
      // ahead of the clock) is left for Redis to expire: deleting it here could delete a re-ban.
      const ban = parse(await client.get(banKey(bare)));
      return ban !== undefined && inForce(ban, now) ? ban : undefined;
    },
    async delete(bare) {
      const ban = parse(await client.getdel(banKey(bare)));
      await client.zrem(index, bare);
      return ban !== undefined && inForce(ban, Date.now());
    },
    async list(now = Date.now()) {
      const jids = await client.zrangebyscore(index, `(${now}`, "+inf");
      // One GET per ban rather than MGET: the keys sit in many slots, which MGET cannot span on
      // a Cluster; the GETs are written back to back, so this is still one round trip per node.
      const bans = await Promise.all(jids.map(async (jid) => parse(await client.get(banKey(jid)))));
      // Pruned by the real clock, never by a later `now` a caller asked about.
      await client.zremrangebyscore(index, "-inf", Math.min(now, Date.now()));
      return bans
        .filter((ban): ban is Ban => ban !== undefined && inForce(ban, now))
        .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
    },
  };
}
