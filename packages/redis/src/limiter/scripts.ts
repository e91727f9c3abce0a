/**
 * The one script of the leased limiter: a token bucket per (policy, key) in a Redis hash, which
 * hands out tokens in leases. Redis' own clock (TIME) drives the refill, so edges whose clocks
 * disagree still share one bucket. Redis ≥ 5 (scripts replicated by effects, so TIME before a
 * write is allowed).
 */
import type { Redis } from "ioredis";

/**
 * KEYS[1] bucket hash {tokens, at}; ARGV capacity, limit, intervalMs, want, need.
 * Refills by the time elapsed since `at`, then grants min(want, whole tokens) when at least
 * `need` tokens are there. Returns {ok, granted, retryMs, left}:
 * - ok 1: granted tokens were taken (want 0 takes nothing: "would one token be there?");
 * - ok 0: nothing taken; retryMs is how long until max(want, need) tokens are there again;
 * - left: whole tokens left in the bucket.
 * A refusal writes nothing. After a grant the key expires when the bucket would be full again,
 * since a missing bucket reads as a full one: idle buckets vanish without changing any answer.
 */
const GRANT = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local need = tonumber(ARGV[5])
local eps = 1e-9
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
elseif now > at then
  tokens = math.min(capacity, tokens + (now - at) * rate)
  at = now
end
-- at > now: the clock stepped back (a failover to a replica); nothing is given back meanwhile
if tokens + eps < need then
  local target = math.max(want, need)
  return {0, 0, math.max(1, math.ceil((target - tokens) / rate - eps)), math.floor(tokens + eps)}
end
local granted = math.min(want, math.floor(tokens + eps))
if granted > 0 then
  tokens = math.max(0, tokens - granted)
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((capacity - tokens) / rate)))
end
return {1, granted, 0, math.floor(tokens + eps)}`;

export interface GrantReply {
  ok: boolean;
  granted: number;
  retryMs: number;
  left: number;
}

interface LimiterCommands {
  switchboardLimiterGrant(bucket: string, capacity: number, limit: number, intervalMs: number, want: number, need: number): Promise<[number, number, number, number]>;
}

const registered = new WeakSet<Redis>();

/** Registers the script once per client (EVALSHA, EVAL again after NOSCRIPT, e.g. a restarted Redis). */
export function withLimiterScripts(redis: Redis): Redis & LimiterCommands {
  if (!registered.has(redis)) {
    redis.defineCommand("switchboardLimiterGrant", { numberOfKeys: 1, lua: GRANT });
    registered.add(redis);
  }
  return redis as Redis & LimiterCommands;
}

export function parseGrant(reply: [number, number, number, number]): GrantReply {
  const [ok, granted, retryMs, left] = reply;
  return { ok: ok === 1, granted, retryMs, left };
}
