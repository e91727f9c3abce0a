/**
 * Lua scripts of the session registry and node liveness. Each script touches keys of one hash
 * slot only (one user's hash, or one node's `{nodeId}` keys), as Redis Cluster requires. They are
 * registered with ioredis `defineCommand` (EVALSHA, falling back to EVAL after NOSCRIPT, e.g. when
 * a restarted Redis lost its script cache); names are namespaced so they cannot clash with the
 * store's scripts on a shared client.
 */
import { RELEASE_IF_HOLDER, RENEW_IF_HOLDER } from "../token-lock.js";
import type { ChainableCommander, Redis } from "ioredis";

type Reply = Promise<string | null>;
type Flag = Promise<number>;

/*
 * Every write below also returns the user's entries as it left them (HVALS, last element): the
 * writer's node keeps that list in its cache instead of reading it again (CachedSessionRegistry).
 */

/**
 * KEYS[1] user hash; ARGV jid, entry JSON, most sessions (0: no limit). Returns { the replaced
 * entry (RFC 6120 §7.7.2.2), entries }, or { false, entries, 'limit' } when the user already
 * holds that many sessions and none is this JID (limits.maxSessionsPerUser): nothing written.
 */
const BIND = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
local max = tonumber(ARGV[3] or '0')
if max > 0 and not old and redis.call('HLEN', KEYS[1]) >= max then
  return { false, redis.call('HVALS', KEYS[1]), 'limit' }
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { old, redis.call('HVALS', KEYS[1]) }`;

/**
 * KEYS[1] user hash; ARGV jid, sessionId. Deletes only the caller's own session: a newer bind
 * wins. Returns { the removed entry or false, entries }.
 */
const UNBIND = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local ok, entry = pcall(cjson.decode, raw or '')
if not raw or not ok or entry.sessionId ~= ARGV[2] then return { false, redis.call('HVALS', KEYS[1]) } end
redis.call('HDEL', KEYS[1], ARGV[1])
return { raw, redis.call('HVALS', KEYS[1]) }`;

/**
 * KEYS[1] user hash; ARGV jid, sessionId, patch JSON, then names of fields to clear (a patch
 * value of `undefined`, which JSON cannot carry). Fields are replaced whole, so `ext` is too.
 * Returns { 1 if it applied, else 0; entries }.
 */
const UPDATE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return { 0, redis.call('HVALS', KEYS[1]) } end
local entry = cjson.decode(raw)
if entry.sessionId ~= ARGV[2] then return { 0, redis.call('HVALS', KEYS[1]) } end
for field, value in pairs(cjson.decode(ARGV[3])) do entry[field] = value end
for i = 4, #ARGV do entry[ARGV[i]] = nil end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return { 1, redis.call('HVALS', KEYS[1]) }`;

/**
 * KEYS[1] user hash; ARGV jid, fromSessionId, nodeId, sessionId. Moves an entry to another
 * stream only while it still belongs to fromSessionId; returns { previous node id, moved entry,
 * entries }, or { false, false, entries } when it does not.
 */
const MOVE = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local ok, entry = pcall(cjson.decode, raw or '')
if not raw or not ok or entry.sessionId ~= ARGV[2] then return { false, false, redis.call('HVALS', KEYS[1]) } end
local from = entry.nodeId
entry.nodeId = ARGV[3]
entry.sessionId = ARGV[4]
local moved = cjson.encode(entry)
redis.call('HSET', KEYS[1], ARGV[1], moved)
return { from, moved, redis.call('HVALS', KEYS[1]) }`;

/**
 * KEYS[1] user hash; ARGV jid, nodeId, sessionId, keep-until (epoch ms, 0: keep nothing). Purge
 * of one index member, only if the entry is still that session on that node (it may have been
 * rebound elsewhere meanwhile). A stream-management session (ext.sm) is kept instead, detached
 * until keep-until unless it already was: it can still be resumed on another node, and expires
 * like any detached session. Returns { entry, 'deleted' | 'detached' }, or false.
 */
const PURGE_ENTRY = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local ok, entry = pcall(cjson.decode, raw)
if not ok or entry.nodeId ~= ARGV[2] or entry.sessionId ~= ARGV[3] then return false end
local keepUntil = tonumber(ARGV[4])
if keepUntil > 0 and type(entry.ext) == 'table' and type(entry.ext.sm) == 'string' then
  if entry.detachedUntil == nil then
    entry.detachedUntil = keepUntil
    raw = cjson.encode(entry)
    redis.call('HSET', KEYS[1], ARGV[1], raw)
  end
  return { raw, 'detached' }
end
redis.call('HDEL', KEYS[1], ARGV[1])
return { raw, 'deleted' }`;

/**
 * KEYS alive, purge lock, epoch; ARGV token, ttl. (Re)announces a node, unless another node holds
 * its purge lock: a node must not come alive in the middle of a purge of its own sessions. Drops
 * the lock when the caller held it (it has just purged its own leftovers). The epoch key (no TTL)
 * records which life of the node id is announced; only a purge or a clean stop deletes it.
 */
const ESTABLISH = `
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[1])
if holder then redis.call('DEL', KEYS[2]) end
return 1`;

/**
 * KEYS alive, purge lock, epoch; ARGV token, ttl. The heartbeat of a live node.
 *  1: refreshed.
 *  2: the key had expired (Redis unreachable for longer than the TTL) but nobody purged or is
 *     purging the node (its epoch is intact): it is re-announced and keeps its sessions.
 * -1: fenced: a survivor is purging or has purged it (lock held, epoch deleted), Redis lost its
 *     data (epoch gone), or another process took over its node id. Its streams are no longer in
 *     the registry, or soon will not be.
 */
const REFRESH = `
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return -1 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return -1 end
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2`;

/**
 * KEYS alive, purge lock, epoch; ARGV token, lock ttl. Locks a node for purging only while it is
 * dead, and deletes its epoch so that, should it come back, it learns it was fenced even if the
 * purge finished long ago.
 */
const ACQUIRE_DEAD = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[3])
return 1`;

/** KEYS purge lock; ARGV token, lock ttl. Takes or extends the lock unless someone else holds it. */
const ACQUIRE_OWN = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** KEYS purge lock; ARGV token, lock ttl. Extends a lock only while the caller still holds it. */
const EXTEND_LOCK = RENEW_IF_HOLDER;

/** KEYS purge lock; ARGV token. */
const RELEASE_LOCK = RELEASE_IF_HOLDER;

/** KEYS alive, epoch, node index; ARGV token. Clean shutdown: returns how many index members remain. */
const RETIRE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return redis.call('SCARD', KEYS[3])`;

const SCRIPTS = {
  switchboardRegistryBind: [1, BIND],
  switchboardRegistryUnbind: [1, UNBIND],
  switchboardRegistryUpdate: [1, UPDATE],
  switchboardRegistryMove: [1, MOVE],
  switchboardRegistryPurgeEntry: [1, PURGE_ENTRY],
  switchboardLivenessEstablish: [3, ESTABLISH],
  switchboardLivenessRefresh: [3, REFRESH],
  switchboardLivenessAcquireDead: [3, ACQUIRE_DEAD],
  switchboardLivenessAcquireOwn: [1, ACQUIRE_OWN],
  switchboardLivenessExtendLock: [1, EXTEND_LOCK],
  switchboardLivenessReleaseLock: [1, RELEASE_LOCK],
  switchboardLivenessRetire: [3, RETIRE],
} as const;

export interface RegistryCommands {
  switchboardRegistryBind(userKey: string, jid: string, entryJson: string, maxSessions: number): Promise<[string | null, string[], "limit"?]>;
  switchboardRegistryUnbind(userKey: string, jid: string, sessionId: string): Promise<[string | null, string[]]>;
  switchboardRegistryUpdate(userKey: string, jid: string, sessionId: string, patchJson: string, ...clear: string[]): Promise<[number, string[]]>;
  switchboardRegistryMove(userKey: string, jid: string, fromSessionId: string, nodeId: string, sessionId: string): Promise<[string | null, string | null, string[]]>;
  switchboardLivenessEstablish(alive: string, lock: string, epoch: string, token: string, ttlMs: number): Flag;
  switchboardLivenessRefresh(alive: string, lock: string, epoch: string, token: string, ttlMs: number): Flag;
  switchboardLivenessAcquireDead(alive: string, lock: string, epoch: string, token: string, lockMs: number): Flag;
  switchboardLivenessAcquireOwn(lock: string, token: string, lockMs: number): Flag;
  switchboardLivenessExtendLock(lock: string, token: string, lockMs: number): Flag;
  switchboardLivenessReleaseLock(lock: string, token: string): Flag;
  switchboardLivenessRetire(alive: string, epoch: string, index: string, token: string): Flag;
}

/** The same scripts, queued in a pipeline (their replies arrive in exec()). */
export interface PipelineCommands {
  switchboardRegistryBind(userKey: string, jid: string, entryJson: string, maxSessions: number): ChainableCommander;
  switchboardRegistryUnbind(userKey: string, jid: string, sessionId: string): ChainableCommander;
  switchboardRegistryPurgeEntry(userKey: string, jid: string, nodeId: string, sessionId: string, keepUntil: number): ChainableCommander;
}

const registered = new WeakSet<Redis>();

/** Registers the scripts once per client and returns it typed with them. */
export function withScripts(redis: Redis): Redis & RegistryCommands {
  if (!registered.has(redis)) {
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua });
    registered.add(redis);
  }
  return redis as Redis & RegistryCommands;
}

export function scriptedPipeline(redis: Redis): ChainableCommander & PipelineCommands {
  return withScripts(redis).pipeline() as ChainableCommander & PipelineCommands;
}
