import { describe, expect, it } from "vitest";
import { LimitPolicyError } from "../limits.js";
import { MemoryLimiter } from "./limiter.js";

function clocked() {
  let t = 1_000_000;
  const limiter = new MemoryLimiter(() => t);
  return { limiter, advance: (ms: number) => void (t += ms), setTo: (ms: number) => void (t = ms), at: () => t };
}

describe("MemoryLimiter", () => {
  it("lets a full bucket spend its burst at once, then refuses with the exact wait for one token", () => {
    const { limiter } = clocked();
    // 10 per second sustained (one token per 100 ms), 30 at once
    limiter.define("stanzas", { limit: 10, intervalMs: 1_000, burst: 30, keyedBy: "bare" });
    for (let i = 0; i < 30; i++) expect(limiter.hit("stanzas", "u@x").allowed).toBe(true);
    expect(limiter.hit("stanzas", "u@x")).toEqual({ allowed: false, policy: "stanzas", key: "u@x", remaining: 0, retryAfterMs: 100 });
    // another key has its own bucket
    expect(limiter.hit("stanzas", "v@x")).toMatchObject({ allowed: true, remaining: 29 });
  });

  it("refills continuously with time, never past the burst", () => {
    const { limiter, advance } = clocked();
    limiter.define("p", { limit: 10, intervalMs: 1_000, keyedBy: "ip" });
    for (let i = 0; i < 10; i++) limiter.hit("p", "ip");
    advance(250); // 2.5 tokens
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: true, remaining: 0 });
    // half a token left: the next whole one is 50 ms away
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: false, retryAfterMs: 50 });
    advance(60_000);
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: true, remaining: 9 });
  });

  it("takes a cost of several tokens at once, and says when that many are back", () => {
    const { limiter, advance } = clocked();
    limiter.define("bytes", { limit: 1_000, intervalMs: 1_000, keyedBy: "bare" });
    expect(limiter.hit("bytes", "u@x", 700)).toMatchObject({ allowed: true, remaining: 300 });
    expect(limiter.hit("bytes", "u@x", 500)).toEqual({ allowed: false, policy: "bytes", key: "u@x", remaining: 300, retryAfterMs: 200 });
    advance(199);
    expect(limiter.hit("bytes", "u@x", 500).allowed).toBe(false);
    advance(1);
    expect(limiter.hit("bytes", "u@x", 500)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("refuses a cost larger than the burst for good (Infinity, not a wait that would lie)", () => {
    const { limiter } = clocked();
    limiter.define("bytes", { limit: 100, intervalMs: 1_000, burst: 200, keyedBy: "bare" });
    expect(limiter.hit("bytes", "u@x", 201)).toMatchObject({ allowed: false, retryAfterMs: Infinity, remaining: 200 });
    expect(limiter.hit("bytes", "u@x", 200)).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("allows anything for an unknown policy", async () => {
    const limiter = new MemoryLimiter();
    const unknown = { allowed: true, policy: "nope", key: "k", remaining: Infinity, retryAfterMs: 0 };
    expect(limiter.hit("nope", "k", 1e9)).toEqual(unknown);
    expect(await limiter.acquire("nope", "k")).toEqual(unknown);
    expect(limiter.peek("nope", "k")).toEqual(unknown);
    expect(limiter.policy("nope")).toBeUndefined();
  });

  it("peeks (and hits of cost 0) without taking anything", () => {
    const { limiter, advance } = clocked();
    limiter.define("p", { limit: 2, intervalMs: 1_000, keyedBy: "ip" });
    expect(limiter.peek("p", "a")).toEqual({ allowed: true, policy: "p", key: "a", remaining: 2, retryAfterMs: 0 });
    expect(limiter.hit("p", "a", 0)).toMatchObject({ allowed: true, remaining: 2 });
    limiter.hit("p", "a");
    limiter.hit("p", "a");
    advance(100);
    expect(limiter.peek("p", "a")).toEqual({ allowed: false, policy: "p", key: "a", remaining: 0, retryAfterMs: 400 });
    expect(limiter.peek("p", "a")).toMatchObject({ retryAfterMs: 400 });
    advance(400);
    expect(limiter.peek("p", "a")).toMatchObject({ allowed: true, remaining: 1 });
    expect(limiter.hit("p", "a")).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("acquire is the same decision as hit", async () => {
    const { limiter } = clocked();
    limiter.define("p", { limit: 1, intervalMs: 60_000, keyedBy: "ip", scope: "cluster" });
    expect(await limiter.acquire("p", "ip")).toMatchObject({ allowed: true });
    expect(await limiter.acquire("p", "ip")).toMatchObject({ allowed: false, retryAfterMs: 60_000 });
    expect(limiter.hit("p", "ip").allowed).toBe(false);
  });

  it("gives nothing back when the clock steps back, and takes nothing either", () => {
    const { limiter, setTo, at } = clocked();
    limiter.define("p", { limit: 10, intervalMs: 1_000, keyedBy: "ip" });
    const start = at();
    for (let i = 0; i < 10; i++) limiter.hit("p", "ip");
    setTo(start - 5_000);
    expect(limiter.hit("p", "ip").allowed).toBe(false);
    setTo(start + 100);
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: true, remaining: 0 });
  });

  it("refuses invalid policies with a typed error, and starts a redefined policy's buckets full", () => {
    const { limiter } = clocked();
    expect(() => limiter.define("p", { limit: 0, intervalMs: 1_000, keyedBy: "ip" })).toThrow(LimitPolicyError);
    expect(() => limiter.define("p", { limit: 1, intervalMs: -1, keyedBy: "ip" })).toThrow(/intervalMs/);
    expect(() => limiter.define("p", { limit: 5, intervalMs: 1_000, burst: 0.5, keyedBy: "ip" })).toThrow(/burst/);
    limiter.define("p", { limit: 1, intervalMs: 60_000, keyedBy: "ip" });
    limiter.hit("p", "ip");
    expect(limiter.hit("p", "ip").allowed).toBe(false);
    limiter.define("p", { limit: 3, intervalMs: 60_000, keyedBy: "ip" });
    expect(limiter.hit("p", "ip")).toMatchObject({ allowed: true, remaining: 2 });
  });
});
