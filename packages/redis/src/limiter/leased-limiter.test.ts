/**
 * RedisLeasedLimiter against a real Redis: two limiter instances on two clients stand for two
 * edges sharing one cluster-scoped policy.
 */
import { afterAll, describe, expect, it } from "vitest";
import type { LimitPolicy } from "@switchboard/core";
import { connectTestRedis, eventually } from "../registry/test-support.js";
import { InvalidKeyPrefixError } from "../store/keys.js";
import { RedisLeasedLimiter } from "./leased-limiter.js";

const testRedis = await connectTestRedis();
const admin = await testRedis.client();
afterAll(() => testRedis.cleanup());

/** Lets Redis answers (background lease fetches) land between hits. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function nodes(policy: LimitPolicy, name = "p", count = 2) {
  const prefix = testRedis.prefix();
  const limiters: RedisLeasedLimiter[] = [];
  for (let i = 0; i < count; i++) {
    const limiter = new RedisLeasedLimiter(await testRedis.client(), { prefix });
    limiter.define(name, policy);
    limiters.push(limiter);
  }
  return { prefix, limiters };
}

// An hour-long interval: nothing refills noticeably while a test runs, so counts are exact.
const HOUR = 3_600_000;

describe("RedisLeasedLimiter", () => {
  it("acquire() on two nodes counts against one allowance, exactly", async () => {
    const { limiters } = await nodes({ limit: 20, intervalMs: HOUR, keyedBy: "ip", scope: "cluster" });
    const [a, b] = limiters as [RedisLeasedLimiter, RedisLeasedLimiter];
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).acquire("p", "198.51.100.7")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    const refusal = decisions.find((d) => !d.allowed)!;
    expect(refusal).toMatchObject({ policy: "p", key: "198.51.100.7", remaining: 0 });
    // one token per 180 s comes back
    expect(refusal.retryAfterMs).toBeGreaterThan(170_000);
    expect(refusal.retryAfterMs).toBeLessThanOrEqual(180_000);
    // both nodes now refuse, and another key is untouched
    expect((await a.acquire("p", "198.51.100.7")).allowed).toBe(false);
    expect((await b.acquire("p", "198.51.100.7")).allowed).toBe(false);
    expect(await b.acquire("p", "198.51.100.8")).toMatchObject({ allowed: true, remaining: 19 });
  });

  it("acquire() with cost 0 tells exactly whether another node used the allowance up, taking nothing", async () => {
    const { limiters } = await nodes({ limit: 3, intervalMs: HOUR, keyedBy: "ip", scope: "cluster" });
    const [a, b] = limiters as [RedisLeasedLimiter, RedisLeasedLimiter];
    expect(await b.acquire("p", "ip", 0)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await b.acquire("p", "ip", 0)).toMatchObject({ allowed: true, remaining: 3 });
    for (let i = 0; i < 3; i++) expect((await a.acquire("p", "ip")).allowed).toBe(true);
    const standing = await b.acquire("p", "ip", 0);
    expect(standing).toMatchObject({ allowed: false, remaining: 0 });
    expect(standing.retryAfterMs).toBeGreaterThan(1_000_000);
  });

  it("hit() on two nodes overshoots the shared allowance by at most one lease per node", async () => {
    // burst 100: leases of 10
    const { limiters, prefix } = await nodes({ limit: 100, intervalMs: HOUR, keyedBy: "bare", scope: "cluster" });
    let allowed = 0;
    // long enough for every lease to arrive, however slow the machine
    const startedAt = Date.now();
    while (Date.now() - startedAt < 500) {
      for (const limiter of limiters) if (limiter.hit("p", "flood@x").allowed) allowed++;
      await tick();
    }
    expect(allowed).toBeGreaterThanOrEqual(100);
    expect(allowed).toBeLessThanOrEqual(100 + 2 * 10);
    expect(Number(await admin.hget(`${prefix}:{flood@x}:limit:p`, "tokens"))).toBeLessThan(1);
    for (const limiter of limiters) expect(limiter.hit("p", "flood@x").allowed).toBe(false);
  });

  it("a node meeting a key another node used up admits at most its provisional lease", async () => {
    const { limiters } = await nodes({ limit: 100, intervalMs: HOUR, keyedBy: "bare", scope: "cluster" }, "p", 3);
    const [a, b, c] = limiters as [RedisLeasedLimiter, RedisLeasedLimiter, RedisLeasedLimiter];
    expect((await c.acquire("p", "flood@x", 100)).allowed).toBe(true);
    let allowed = 0;
    for (let i = 0; i < 15; i++) for (const limiter of [a, b]) if (limiter.hit("p", "flood@x").allowed) allowed++;
    // both provisional leases spent before either answer could land: the worst case
    expect(allowed).toBe(2 * 10);
    const startedAt = Date.now();
    while (Date.now() - startedAt < 300) {
      for (const limiter of [a, b]) if (limiter.hit("p", "flood@x").allowed) allowed++;
      await tick();
    }
    expect(allowed).toBe(2 * 10);
    expect(a.peek("p", "flood@x").allowed).toBe(false);
  });

  it("10,000 hits on one node cost about hits / lease size Redis calls, none per hit", async () => {
    // burst 20,000: leases of 2,000
    const { limiters } = await nodes({ limit: 20_000, intervalMs: HOUR, keyedBy: "bare", scope: "cluster" }, "p", 1);
    const limiter = limiters[0]!;
    let allowed = 0;
    let dry = 0;
    const deadline = Date.now() + 20_000;
    while (allowed < 10_000 && Date.now() < deadline) {
      if (limiter.hit("p", "chatty@x").allowed) allowed++;
      else {
        // the next lease is still on its way (a busy machine): wait for it, do not count a call
        dry++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await tick();
    }
    expect(allowed).toBe(10_000);
    expect(limiter.stats.hits).toBe(10_000 + dry);
    expect(limiter.stats.redisCalls).toBeLessThanOrEqual(10_000 / 2_000 + 3);
  });

  it("a flood past the limit is refused locally: Redis calls follow the refill, not the hits", async () => {
    // the per-user stanza default: 50 per second, burst 200, so leases of 20
    const { limiters } = await nodes({ limit: 50, intervalMs: 1_000, burst: 200, keyedBy: "bare", scope: "cluster" }, "p", 1);
    const limiter = limiters[0]!;
    const startedAt = Date.now();
    let allowed = 0;
    while (Date.now() - startedAt < 1_500) {
      if (limiter.hit("p", "flooder@x").allowed) allowed++;
      await tick();
    }
    const refilled = ((Date.now() - startedAt) / 1_000) * 50;
    expect(limiter.stats.hits).toBeGreaterThan(20_000);
    expect(allowed).toBeGreaterThanOrEqual(200 + refilled - 2 * 20);
    expect(allowed).toBeLessThanOrEqual(200 + refilled + 20);
    // per lease spent: the call that brought it, and the one that found the bucket empty
    expect(limiter.stats.redisCalls).toBeLessThanOrEqual((2 * allowed) / 20 + 3);
  });

  it("a flooder that waits as told (retryAfterMs) still costs calls per lease, not per token refilled", async () => {
    // c2s/user-rate.ts holds a throttled stanza and looks again after retryAfterMs (or later, on
    // a busy node): a token or two refilled meanwhile. Were the missing token enough for a
    // grant, every look would be a call.
    const { limiters } = await nodes({ limit: 50, intervalMs: 1_000, burst: 200, keyedBy: "bare", scope: "cluster" }, "p", 1);
    const limiter = limiters[0]!;
    while (limiter.hit("p", "paced@x").allowed) await tick(); // the burst
    const before = limiter.stats.redisCalls;
    const startedAt = Date.now();
    let allowed = 0;
    while (Date.now() - startedAt < 1_500) {
      const d = limiter.hit("p", "paced@x");
      if (d.allowed) allowed++;
      else await new Promise((r) => setTimeout(r, Math.max(30, d.retryAfterMs)));
      await tick();
    }
    expect(allowed).toBeGreaterThanOrEqual(40);
    expect(limiter.stats.redisCalls - before).toBeLessThanOrEqual((2 * allowed) / 20 + 3);
  });

  it("spends a first-seen key's provisional lease before Redis has answered", async () => {
    const { limiters } = await nodes({ limit: 100, intervalMs: HOUR, keyedBy: "ip", scope: "cluster" }, "p", 1);
    const limiter = limiters[0]!;
    // no await between the hits: the first lease is still on its way
    const burst = Array.from({ length: 12 }, () => limiter.hit("p", "203.0.113.1"));
    expect(burst.slice(0, 10).every((d) => d.allowed)).toBe(true);
    expect(burst.slice(10)).toMatchObject([{ allowed: false }, { allowed: false }]);
    expect(limiter.stats).toMatchObject({ provisional: 1, redisCalls: 1 });
    // once the lease arrived the key spends real tokens
    await eventually(() => expect(limiter.hit("p", "203.0.113.1").allowed).toBe(true));
  });

  it("keeps node-scoped and unknown policies off Redis", async () => {
    const { limiters } = await nodes({ limit: 2, intervalMs: HOUR, keyedBy: "full" }, "node-only", 2);
    const [a, b] = limiters as [RedisLeasedLimiter, RedisLeasedLimiter];
    expect(a.hit("node-only", "u@x/r").allowed).toBe(true);
    expect(a.hit("node-only", "u@x/r").allowed).toBe(true);
    const refused = a.hit("node-only", "u@x/r");
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(HOUR / 2 - 1_000); // the real clock moved a little
    expect(b.hit("node-only", "u@x/r").allowed).toBe(true); // each node counts on its own
    expect(await a.acquire("nope", "k")).toEqual({ allowed: true, policy: "nope", key: "k", remaining: Infinity, retryAfterMs: 0 });
    expect(a.stats.redisCalls + b.stats.redisCalls).toBe(0);
  });

  it("keeps a bucket under the key's hash tag, expiring when it would be full again", async () => {
    const { limiters, prefix } = await nodes({ limit: 10, intervalMs: 60_000, keyedBy: "bare", scope: "cluster" });
    await limiters[0]!.acquire("p", "alice@example.org", 3);
    const key = `${prefix}:{alice@example.org}:limit:p`;
    expect(Number(await admin.hget(key, "tokens"))).toBeCloseTo(7, 3);
    // 3 tokens at 10 per minute: full again in 18 s
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(17_000);
    expect(ttl).toBeLessThanOrEqual(18_000);
    expect(() => new RedisLeasedLimiter(admin, { prefix: "bad{prefix}" })).toThrow(InvalidKeyPrefixError);
  });
});
