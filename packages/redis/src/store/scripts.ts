/**
 * Lua scripts that make each multi-step store operation atomic per user. Every script receives
 * only keys of one user (one hash slot, see keys.ts) through KEYS, as Redis Cluster requires.
 * They are registered with ioredis `defineCommand`, which sends EVALSHA and falls back to EVAL
 * after a NOSCRIPT (e.g. after a Redis restart or failover flushed the script cache).
 */

import type { Cluster, Redis } from "ioredis";
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from "../token-lock.js";

export type RedisClient = Redis | Cluster;

/**
 * Offline storage (XEP-0160) is a Redis Stream per user: entry ids are assigned by Redis, never
 * reused within a stream, and let the reader acknowledge exactly what it delivered (XDEL), so a
 * connection lost mid-flush leaves the messages stored instead of losing them.
 *
 * Earlier versions kept a LIST under the same key. Any script that would write or read the key
 * first converts such a list into a stream, in order, in the same atomic step.
 */
const MIGRATE_OFFLINE_LIST = `
if redis.call('TYPE', KEYS[1])['ok'] == 'list' then
  local old = redis.call('LRANGE', KEYS[1], 0, -1)
  redis.call('DEL', KEYS[1])
  for _, xml in ipairs(old) do redis.call('XADD', KEYS[1], '*', 'xml', xml) end
end
`;

/** KEYS[1] offline stream; ARGV[1] stanza, ARGV[2] cap. Check and append in one step. */
const OFFLINE_PUSH = `${MIGRATE_OFFLINE_LIST}
if redis.call('XLEN', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('XADD', KEYS[1], '*', 'xml', ARGV[1])
  return 1
end
return 0`;

/** KEYS[1] offline stream; ARGV[1] max entries (0 = all). Oldest first; removes nothing. */
const OFFLINE_PEEK = `${MIGRATE_OFFLINE_LIST}
local limit = tonumber(ARGV[1])
if limit > 0 then return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', limit) end
return redis.call('XRANGE', KEYS[1], '-', '+')`;

/**
 * KEYS[1] offline stream; ARGV entry ids. Unknown ids are ignored by XDEL. The emptied stream is
 * kept rather than deleted: it remembers its last id, so Redis never reissues an id that a late
 * or repeated remove() could then match (account deletion still DELs it).
 */
const OFFLINE_REMOVE = `
if redis.call('TYPE', KEYS[1])['ok'] ~= 'stream' then return 0 end
return redis.call('XDEL', KEYS[1], unpack(ARGV))`;

/** KEYS[1] offline stream (or a not yet migrated list). Read-only. */
const OFFLINE_COUNT = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'list' then return redis.call('LLEN', KEYS[1]) end
if kind == 'stream' then return redis.call('XLEN', KEYS[1]) end
return 0`;

/** offline delivery claim (keys.ts offlineClaim): renewed and released by its holder only */
const CLAIM_RENEW = RENEW_IF_HOLDER;
const CLAIM_RELEASE = RELEASE_IF_HOLDER;

/** KEYS[1] roster hash, KEYS[2] version counter; ARGV[1] contact, ARGV[2] item JSON. */
const ROSTER_PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('INCR', KEYS[2])`;

/** KEYS[1] roster hash, KEYS[2] version counter; ARGV[1] contact. */
const ROSTER_REMOVE = `
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('INCR', KEYS[2])`;

/**
 * KEYS: account, then every user data key (roster, offline, vcard, blocklist, last activity,
 * private XML, ban, push registrations).
 * Returns 1 when the account existed. The user data goes even when the account is already gone,
 * so stray data never outlives it. The roster version counter is deliberately not among the
 * keys: see RedisStore's roster comment.
 */
const DELETE_USER = `
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', unpack(KEYS, 2))
return existed`;

/**
 * KEYS[1] FAST tokens hash; ARGV[1] user-agent id, ARGV[2] the JSON expected ("" for none),
 * ARGV[3] the JSON to write ("" to remove). A compare-and-set: two logins with one token cannot
 * both pass (XEP-0484 replay protection).
 */
const FAST_SWAP = `
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then held = '' end
if held ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1`;

/** KEYS[1] account, KEYS[2] FAST tokens; ARGV[1] credentials JSON. A new password revokes every FAST token (XEP-0484). */
const SET_CREDENTIALS = `
if redis.call('SET', KEYS[1], ARGV[1], 'XX') then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0`;

/**
 * KEYS[1] blocklist sorted set; ARGV the JIDs. Scores are an insertion sequence continuing from
 * the highest score present, so the list keeps blocking order. Returns the JIDs actually added,
 * in request order (a JID repeated in one request is added once).
 */
const BLOCK_ADD = `
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local seq = 0
if top[2] then seq = tonumber(top[2]) end
local added = {}
for _, jid in ipairs(ARGV) do
  if not redis.call('ZSCORE', KEYS[1], jid) then
    seq = seq + 1
    redis.call('ZADD', KEYS[1], seq, jid)
    added[#added + 1] = jid
  end
end
return added`;

/**
 * KEYS[1] blocklist; ARGV the JIDs. No JIDs means "unblock all" (XEP-0191 §3.4). Returns the
 * JIDs actually removed.
 */
const BLOCK_REMOVE = `
if #ARGV == 0 then
  local all = redis.call('ZRANGE', KEYS[1], 0, -1)
  redis.call('DEL', KEYS[1])
  return all
end
local removed = {}
for _, jid in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], jid) == 1 then removed[#removed + 1] = jid end
end
return removed`;

/**
 * KEYS[1] private XML hash; ARGV[1] the most namespaces the user may hold, then namespace and
 * XML pairs. All or nothing: returns 0 and writes nothing when the namespaces not held yet
 * would pass the cap.
 */
const PRIVATE_SET = `
local added, seen = 0, {}
for i = 2, #ARGV, 2 do
  local ns = ARGV[i]
  if not seen[ns] and redis.call('HEXISTS', KEYS[1], ns) == 0 then added = added + 1 end
  seen[ns] = true
end
if redis.call('HLEN', KEYS[1]) + added > tonumber(ARGV[1]) then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1`;

/**
 * KEYS[1] ban key; ARGV[1] the ban's JSON, ARGV[2] its `until` in epoch ms or "" for none. The
 * SET drops any TTL of the ban it replaces, and the PEXPIREAT in the same step means there is no
 * moment when a temporary ban is stored without its end (a PEXPIREAT in the past deletes the key
 * at once: the ban has ended).
 */
const BAN_SET = `
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1`;

const SCRIPTS = {
  switchboardStoreOfflinePush: { numberOfKeys: 1, lua: OFFLINE_PUSH },
  switchboardStoreOfflinePeek: { numberOfKeys: 1, lua: OFFLINE_PEEK },
  switchboardStoreOfflineRemove: { numberOfKeys: 1, lua: OFFLINE_REMOVE },
  switchboardStoreOfflineCount: { numberOfKeys: 1, lua: OFFLINE_COUNT },
  switchboardStoreRosterPut: { numberOfKeys: 2, lua: ROSTER_PUT },
  switchboardStoreRosterRemove: { numberOfKeys: 2, lua: ROSTER_REMOVE },
  switchboardStoreDeleteUser: { numberOfKeys: 12, lua: DELETE_USER },
  switchboardStorePrivateSet: { numberOfKeys: 1, lua: PRIVATE_SET },
  switchboardStoreClaimRenew: { numberOfKeys: 1, lua: CLAIM_RENEW },
  switchboardStoreClaimRelease: { numberOfKeys: 1, lua: CLAIM_RELEASE },
  switchboardStoreBlockAdd: { numberOfKeys: 1, lua: BLOCK_ADD },
  switchboardStoreBlockRemove: { numberOfKeys: 1, lua: BLOCK_REMOVE },
  switchboardStoreBanSet: { numberOfKeys: 1, lua: BAN_SET },
  switchboardStoreFastSwap: { numberOfKeys: 1, lua: FAST_SWAP },
  switchboardStoreSetCredentials: { numberOfKeys: 2, lua: SET_CREDENTIALS },
} as const;

/** Typed calls to the scripts above. */
export interface StoreScripts {
  offlinePush(offline: string, stanzaXml: string, cap: number): Promise<number>;
  /** Raw XRANGE reply: [entry id, [field, value, ...]] per entry. */
  offlinePeek(offline: string, limit: number): Promise<Array<[string, string[]]>>;
  offlineRemove(offline: string, ids: string[]): Promise<number>;
  offlineCount(offline: string): Promise<number>;
  rosterPut(roster: string, version: string, contact: string, itemJson: string): Promise<number>;
  rosterRemove(roster: string, version: string, contact: string): Promise<number>;
  deleteUser(
    account: string,
    roster: string,
    offline: string,
    vcard: string,
    blocklist: string,
    lastActivity: string,
    privateXml: string,
    ban: string,
    push: string,
    fastTokens: string,
    pepNodes: string,
    pepItems: string,
  ): Promise<number>;
  /** expected/next: JSON, "" for none; 1 when swapped, 0 when the field changed meanwhile */
  fastSwap(fastTokens: string, agent: string, expected: string, next: string): Promise<number>;
  /** 1 when replaced (and the FAST tokens gone), 0 when the account does not exist */
  setCredentials(account: string, fastTokens: string, credentialsJson: string): Promise<number>;
  /** pairs: namespace, xml, namespace, xml, ... */
  privateSet(privateXml: string, maxNamespaces: number, pairs: string[]): Promise<number>;
  blockAdd(blocklist: string, jids: string[]): Promise<string[]>;
  blockRemove(blocklist: string, jids: string[]): Promise<string[]>;
  claimRenew(claim: string, token: string, ttlMs: number): Promise<number>;
  claimRelease(claim: string, token: string): Promise<number>;
  /** until: epoch ms, or undefined for a ban until unbanned */
  banSet(ban: string, banJson: string, until: number | undefined): Promise<number>;
}

type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/**
 * Registers the scripts on the client (names are namespaced, so defining them on a client shared
 * with other adapters is harmless, and defining them twice just replaces them).
 */
export function defineStoreScripts(client: RedisClient): StoreScripts {
  for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition);
  const call = (name: ScriptName, ...keysThenArgs: Array<string | number>): Promise<unknown> =>
    (client as unknown as Record<ScriptName, ScriptCall>)[name](...keysThenArgs);
  return {
    offlinePush: (offline, xml, cap) => call("switchboardStoreOfflinePush", offline, xml, cap) as Promise<number>,
    offlinePeek: (offline, limit) =>
      call("switchboardStoreOfflinePeek", offline, limit) as Promise<Array<[string, string[]]>>,
    offlineRemove: (offline, ids) => call("switchboardStoreOfflineRemove", offline, ...ids) as Promise<number>,
    offlineCount: (offline) => call("switchboardStoreOfflineCount", offline) as Promise<number>,
    rosterPut: (roster, version, contact, json) =>
      call("switchboardStoreRosterPut", roster, version, contact, json) as Promise<number>,
    rosterRemove: (roster, version, contact) =>
      call("switchboardStoreRosterRemove", roster, version, contact) as Promise<number>,
    deleteUser: (...keys) => call("switchboardStoreDeleteUser", ...keys) as Promise<number>,
    privateSet: (key, max, pairs) => call("switchboardStorePrivateSet", key, max, ...pairs) as Promise<number>,
    blockAdd: (blocklist, jids) => call("switchboardStoreBlockAdd", blocklist, ...jids) as Promise<string[]>,
    blockRemove: (blocklist, jids) => call("switchboardStoreBlockRemove", blocklist, ...jids) as Promise<string[]>,
    claimRenew: (claim, token, ttlMs) => call("switchboardStoreClaimRenew", claim, token, ttlMs) as Promise<number>,
    claimRelease: (claim, token) => call("switchboardStoreClaimRelease", claim, token) as Promise<number>,
    banSet: (ban, json, until) => call("switchboardStoreBanSet", ban, json, until ?? "") as Promise<number>,
    fastSwap: (key, agent, expected, next) => call("switchboardStoreFastSwap", key, agent, expected, next) as Promise<number>,
    setCredentials: (account, fast, json) => call("switchboardStoreSetCredentials", account, fast, json) as Promise<number>,
  };
}
