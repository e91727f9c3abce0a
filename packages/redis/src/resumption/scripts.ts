/**
 * Lua scripts of the resumption store. Each touches one session's keys, all under the user's
 * hash tag (one Redis Cluster slot): the meta hash, the queue list and the seen set (bus ids of
 * stanzas the session had in the last SEEN_MS, score = when; core bus-ledger.ts). The expiry
 * index is a global sorted set, written by separate commands after the script (another slot).
 *
 * Meta fields: jid, sessionId, ownerNode, ownerSession ("" while detached), inbound, outbound,
 * state (JSON), detachedUntil ("" while attached), saved ("1" once its owner detached it),
 * written (the outbound count at detach or orphan). Queue entries: JSON {seq, xml, at[, bid]}.
 */
import type { Redis } from "ioredis";
import { SEEN_MS } from "@switchboard/core";

const OWNED = `
local function owned()
  return redis.call('HGET', KEYS[1], 'ownerNode') == ARGV[1] and redis.call('HGET', KEYS[1], 'ownerSession') == ARGV[2]
end
local function raise(field, value)
  local current = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if value > current then redis.call('HSET', KEYS[1], field, value) end
end
local function push(raw, now)
  redis.call('RPUSH', KEYS[2], raw)
  local entry = cjson.decode(raw)
  if type(entry.bid) == 'string' then redis.call('ZADD', KEYS[3], now, entry.bid) end
  return entry.seq
end
local function trim(now)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - ${SEEN_MS})
end
local function drop(upTo)
  while true do
    local head = redis.call('LINDEX', KEYS[2], 0)
    if not head or cjson.decode(head).seq > upTo then break end
    redis.call('LPOP', KEYS[2])
  end
end`;

/**
 * ARGV ownerNode, ownerSession, inbound, now, ackedUpTo (-1: none), outbound, then per entry: bus
 * id ("" for none), entry JSON ("" for a bus id only remembered: the client acknowledged that
 * stanza before it was stored). 1 done, 0 not the owner. The hot one (a call per session per
 * sync): one HMGET, at most one RPUSH and one ZADD for the batch, no JSON decoding.
 */
const APPEND = `${OWNED}
local m = redis.call('HMGET', KEYS[1], 'ownerNode', 'ownerSession', 'outbound', 'inbound')
if m[1] ~= ARGV[1] or m[2] ~= ARGV[2] then return 0 end
local now = tonumber(ARGV[4])
local raws, seen = {}, {}
for i = 7, #ARGV, 2 do
  if ARGV[i] ~= '' then seen[#seen + 1] = now; seen[#seen + 1] = ARGV[i] end
  if ARGV[i + 1] ~= '' then raws[#raws + 1] = ARGV[i + 1] end
end
if #raws > 0 then redis.call('RPUSH', KEYS[2], unpack(raws)) end
if #seen > 0 then
  redis.call('ZADD', KEYS[3], unpack(seen))
  trim(now)
end
local inbound = tonumber(ARGV[3])
local outbound = tonumber(ARGV[6])
if outbound > tonumber(m[3] or '0') then redis.call('HSET', KEYS[1], 'outbound', outbound) end
if inbound > tonumber(m[4] or '0') then redis.call('HSET', KEYS[1], 'inbound', inbound) end
local upTo = tonumber(ARGV[5])
if upTo >= 0 then drop(upTo) end
return 1`;

/** ARGV ownerNode, ownerSession, upTo, inbound, outbound ("" to keep it): drops acknowledged entries. */
const ACK = `${OWNED}
if not owned() then return 0 end
drop(tonumber(ARGV[3]))
raise('inbound', tonumber(ARGV[4]))
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'outbound', ARGV[5]) end
return 1`;

/** ARGV ownerNode, ownerSession, until, inbound, outbound, state, now, acked (-1: none), unsaved entry JSON…. */
const DETACH = `${OWNED}
if not owned() then return 0 end
local now = tonumber(ARGV[7])
for i = 9, #ARGV do raise('outbound', push(ARGV[i], now)) end
local acked = tonumber(ARGV[8])
if acked >= 0 then drop(acked) end
raise('inbound', tonumber(ARGV[4]))
raise('outbound', tonumber(ARGV[5]))
redis.call('HSET', KEYS[1], 'state', ARGV[6], 'ownerNode', '', 'ownerSession', '', 'detachedUntil', ARGV[3], 'saved', '1', 'written', redis.call('HGET', KEYS[1], 'outbound') or '0')
return 1`;

/** ARGV deadNode, until: a dead node's session waits for a resumption like a detached one. */
const ORPHAN = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'ownerNode') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ownerNode', '', 'ownerSession', '', 'detachedUntil', ARGV[2], 'saved', '', 'written', redis.call('HGET', KEYS[1], 'outbound') or '0')
return 1`;

/**
 * ARGV xml, at, max, bid ("" for none): "queued", "duplicate" (the session had it), "full" or
 * "gone" (no record, or attached: the caller delivers).
 */
const ENQUEUE = `${OWNED}
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'ownerNode') ~= '' then return 'gone' end
local at = tonumber(ARGV[2])
if ARGV[4] ~= '' and redis.call('ZSCORE', KEYS[3], ARGV[4]) then return 'duplicate' end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 'full' end
local seq = redis.call('HINCRBY', KEYS[1], 'outbound', 1)
local entry = { seq = seq, xml = ARGV[1], at = at }
if ARGV[4] ~= '' then entry.bid = ARGV[4] end
push(cjson.encode(entry), at)
trim(at)
return 'queued'`;

/**
 * ARGV ownerNode, ownerSession, mode, now. Returns { meta field/value list, queue entries, seen
 * bus ids } as they were, then takes the record over; false when it is gone or the mode does not
 * apply.
 */
const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local owner = redis.call('HGET', KEYS[1], 'ownerSession') or ''
local untilAt = redis.call('HGET', KEYS[1], 'detachedUntil') or ''
if ARGV[3] == 'resume' and string.sub(owner, 1, 7) == 'expiry:' then return false end
if ARGV[3] == 'expire' and (owner ~= '' or untilAt == '' or tonumber(untilAt) > tonumber(ARGV[4])) then return false end
local meta = redis.call('HGETALL', KEYS[1])
local queue = redis.call('LRANGE', KEYS[2], 0, -1)
local seen = redis.call('ZRANGEBYSCORE', KEYS[3], tonumber(ARGV[4]) - ${SEEN_MS}, '+inf')
redis.call('HSET', KEYS[1], 'ownerNode', ARGV[1], 'ownerSession', ARGV[2], 'sessionId', ARGV[2], 'detachedUntil', '', 'saved', '')
return { meta, queue, seen }`;

const SCRIPTS = {
  switchboardSmAppend: [3, APPEND],
  switchboardSmAck: [2, ACK],
  switchboardSmDetach: [3, DETACH],
  switchboardSmOrphan: [1, ORPHAN],
  switchboardSmEnqueue: [3, ENQUEUE],
  switchboardSmClaim: [3, CLAIM],
} as const;

export interface ResumptionCommands {
  switchboardSmAppend(meta: string, queue: string, seen: string, node: string, session: string, inbound: number, now: number, ackedUpTo: number, outbound: number, ...entries: string[]): Promise<number>;
  switchboardSmAck(meta: string, queue: string, node: string, session: string, upTo: number, inbound: number, outbound: number | string): Promise<number>;
  switchboardSmDetach(meta: string, queue: string, seen: string, node: string, session: string, until: number, inbound: number, outbound: number, state: string, now: number, acked: number, ...entries: string[]): Promise<number>;
  switchboardSmOrphan(meta: string, deadNode: string, until: number): Promise<number>;
  switchboardSmEnqueue(meta: string, queue: string, seen: string, xml: string, at: number, max: number, bid: string): Promise<string>;
  switchboardSmClaim(meta: string, queue: string, seen: string, node: string, session: string, mode: string, now: number): Promise<[string[], string[], string[]] | null>;
}

const registered = new WeakSet<Redis>();

export function withResumptionScripts(redis: Redis): Redis & ResumptionCommands {
  if (!registered.has(redis)) {
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys, lua });
    registered.add(redis);
  }
  return redis as Redis & ResumptionCommands;
}
