/**
 * Roster (RFC 6121 §2), offline (XEP-0160), vcard-temp (XEP-0054), blocking (XEP-0191), last
 * activity (XEP-0012) and private XML (XEP-0049) on Redis. Each multi-step operation is one Lua script over keys of a single user (scripts.ts).
 */

import { randomUUID } from "node:crypto";
import type {
  BlockStore,
  FastTokenStore,
  FastTokens,
  LastActivity,
  LastActivityStore,
  OfflineClaim,
  OfflineStore,
  PrivateStore,
  RosterItem,
  RosterStore,
  VCardStore,
} from "@switchboard/core";
import { userKeys } from "./keys.js";
import type { RedisClient, StoreScripts } from "./scripts.js";

/**
 * Roster versions (RFC 6121 §2.6) come from a per-user INCR counter bumped in the same script as
 * the write. The counter key is kept when the account is deleted: a re-created account continues
 * the sequence, so a client caching an old roster under a reused version can never be told "no
 * changes". We chose this over a clock-derived version because clocks jump back (failover to a
 * replica on another host, NTP steps), which would break monotonicity; the cost is one small
 * string key per deleted account.
 */
export function redisRoster(client: RedisClient, scripts: StoreScripts, prefix: string): RosterStore {
  return {
    async list(owner) {
      const items = await client.hvals(userKeys(prefix, owner).roster);
      return items.map((json) => JSON.parse(json) as RosterItem);
    },
    async get(owner, contact) {
      const json = await client.hget(userKeys(prefix, owner).roster, contact);
      return json === null ? undefined : (JSON.parse(json) as RosterItem);
    },
    async put(owner, item) {
      const keys = userKeys(prefix, owner);
      return scripts.rosterPut(keys.roster, keys.rosterVersion, item.jid, JSON.stringify(item));
    },
    async remove(owner, contact) {
      const keys = userKeys(prefix, owner);
      return scripts.rosterRemove(keys.roster, keys.rosterVersion, contact);
    },
    async version(owner) {
      const value = await client.get(userKeys(prefix, owner).rosterVersion);
      return value === null ? 0 : Number(value);
    },
  };
}

/** Stream entry ids as Redis issues them (`<ms>-<seq>`); anything else cannot be stored here. */
const STREAM_ID = /^[0-9]+-[0-9]+$/;

export function redisOffline(client: RedisClient, scripts: StoreScripts, prefix: string): OfflineStore {
  return {
    async claimDelivery(owner, ttlMs): Promise<OfflineClaim | undefined> {
      const key = userKeys(prefix, owner).offlineClaim;
      const token = randomUUID();
      if ((await client.set(key, token, "PX", ttlMs, "NX")) !== "OK") return undefined;
      return {
        renew: async () => (await scripts.claimRenew(key, token, ttlMs)) === 1,
        release: async () => void (await scripts.claimRelease(key, token)),
      };
    },
    async push(owner, stanzaXml, cap) {
      return (await scripts.offlinePush(userKeys(prefix, owner).offline, stanzaXml, cap)) === 1;
    },
    async peek(owner, limit) {
      if (limit !== undefined && limit <= 0) return [];
      const entries = await scripts.offlinePeek(userKeys(prefix, owner).offline, limit ?? 0);
      return entries.map(([id, fields]) => ({ id, xml: streamField(fields, "xml") }));
    },
    async remove(owner, ids) {
      // XDEL rejects a malformed id outright; an id this store never issued is simply unknown.
      const streamIds = ids.filter((id) => STREAM_ID.test(id));
      if (streamIds.length > 0) await scripts.offlineRemove(userKeys(prefix, owner).offline, streamIds);
    },
    async count(owner) {
      return scripts.offlineCount(userKeys(prefix, owner).offline);
    },
  };
}

function streamField(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
  return "";
}

export function redisVCard(client: RedisClient, prefix: string): VCardStore {
  return {
    async get(owner) {
      return (await client.get(userKeys(prefix, owner).vcard)) ?? undefined;
    },
    async set(owner, vcardXml) {
      await client.set(userKeys(prefix, owner).vcard, vcardXml);
    },
  };
}

export function redisBlocklist(client: RedisClient, scripts: StoreScripts, prefix: string): BlockStore {
  return {
    async list(owner) {
      return client.zrange(userKeys(prefix, owner).blocklist, 0, -1);
    },
    async add(owner, jids) {
      if (jids.length === 0) return [];
      return scripts.blockAdd(userKeys(prefix, owner).blocklist, jids);
    },
    async remove(owner, jids) {
      return scripts.blockRemove(userKeys(prefix, owner).blocklist, jids);
    },
  };
}

export function redisLastActivity(client: RedisClient, prefix: string): LastActivityStore {
  return {
    async get(owner) {
      const json = await client.get(userKeys(prefix, owner).lastActivity);
      if (json === null) return undefined;
      const { at, status } = JSON.parse(json) as LastActivity;
      return status === undefined ? { at } : { at, status };
    },
    async set(owner, at, status) {
      await client.set(userKeys(prefix, owner).lastActivity, JSON.stringify({ at, status }));
    },
  };
}

export function redisPrivate(client: RedisClient, scripts: StoreScripts, prefix: string): PrivateStore {
  return {
    async get(owner, namespace) {
      return (await client.hget(userKeys(prefix, owner).privateXml, namespace)) ?? undefined;
    },
    async set(owner, payloads, maxNamespaces) {
      if (payloads.length === 0) return true;
      const pairs = payloads.flatMap(({ namespace, xml }) => [namespace, xml]);
      return (await scripts.privateSet(userKeys(prefix, owner).privateXml, maxNamespaces, pairs)) === 1;
    },
    async count(owner) {
      return client.hlen(userKeys(prefix, owner).privateXml);
    },
  };
}

/** XEP-0484 FAST tokens: one hash per user (its hash tag), a field per user agent. */
export function redisFastTokens(client: RedisClient, scripts: StoreScripts, prefix: string): FastTokenStore {
  return {
    async get(owner, agent) {
      const json = await client.hget(userKeys(prefix, owner).fastTokens, agent);
      return json === null ? undefined : (JSON.parse(json) as FastTokens);
    },
    async swap(owner, agent, expected, next) {
      const key = userKeys(prefix, owner).fastTokens;
      return (await scripts.fastSwap(key, agent, expected === undefined ? "" : JSON.stringify(expected), next === undefined ? "" : JSON.stringify(next))) === 1;
    },
  };
}
