/**
 * The leased limiter through a Redis outage: a private redis-server is killed and started again
 * on the same port. Decisions must go on locally (each node with the policy's full allowance),
 * nothing may throw or reject, the switch is logged once each way, and leases resume.
 */
import { Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import type { Logger } from "@switchboard/core";
import { eventually, freePort, killPrivateRedis, startPrivateRedis } from "../registry/test-support.js";
import { RedisLeasedLimiter } from "./leased-limiter.js";

const port = await freePort();
let server = await startPrivateRedis(port);
// as in cluster mode (FAIL_FAST_CLIENT_OPTIONS): one retry per command, reconnecting for ever
const client = new Redis({ port, maxRetriesPerRequest: 1, retryStrategy: (attempt) => Math.min(attempt * 50, 200) });
client.on("error", () => undefined);
afterAll(async () => {
  client.disconnect();
  await killPrivateRedis(server);
});

const escaped: unknown[] = [];
const onEscape = (error: unknown) => void escaped.push(error);
process.on("uncaughtException", onEscape);
process.on("unhandledRejection", onEscape);
afterAll(() => {
  process.off("uncaughtException", onEscape);
  process.off("unhandledRejection", onEscape);
});

const lines: Array<{ level: string; msg?: string }> = [];
const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, msg: typeof obj === "string" ? obj : msg });
const log: Logger = { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => log };

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

it("decides locally while Redis is down, never throws, and goes back to leases when it answers", async () => {
  const limiter = new RedisLeasedLimiter(client, { prefix: "outage", log, commandTimeoutMs: 300, probeIntervalMs: 100 });
  // 5 per hour: nothing refills during the test; leases of 1
  limiter.define("logins", { limit: 5, intervalMs: 3_600_000, keyedBy: "ip", scope: "cluster" });
  for (let i = 0; i < 2; i++) expect((await limiter.acquire("logins", "198.51.100.7")).allowed).toBe(true);
  expect(limiter.backend).toBe("leases");
  expect(Number(await client.hget("outage:{198.51.100.7}:limit:logins", "tokens"))).toBeCloseTo(3, 3);

  await killPrivateRedis(server);
  // The first calls find Redis gone and switch to this node's own bucket, which starts full.
  await eventually(async () => {
    let decision;
    expect(() => (decision = limiter.hit("logins", "203.0.113.1"))).not.toThrow();
    expect(decision).toBeDefined();
    await tick();
    expect(limiter.backend).toBe("local");
  }, 5_000, 10);
  const startedAt = Date.now();
  const local = [];
  for (let i = 0; i < 7; i++) local.push(await limiter.acquire("logins", "198.51.100.7"));
  expect(Date.now() - startedAt).toBeLessThan(1_000); // no call waits for the dead Redis
  expect(local.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false]);
  const callsWhileDown = limiter.stats.redisCalls;
  for (let i = 0; i < 1_000; i++) limiter.hit("logins", `10.0.0.${i % 250}`);
  expect(limiter.stats.redisCalls - callsWhileDown).toBeLessThanOrEqual(1); // at most a probe, never a call per hit
  expect(lines.filter((l) => l.level === "warn")).toHaveLength(1);
  expect(lines[0]!.msg).toMatch(/Redis does not answer/);

  server = await startPrivateRedis(port);
  // A hit now and then lets the limiter probe; the first answer brings the leases back.
  await eventually(async () => {
    limiter.hit("logins", "192.0.2.1");
    await tick();
    expect(limiter.backend).toBe("leases");
  }, 10_000, 20);
  expect(lines.filter((l) => l.level === "info").map((l) => l.msg)).toEqual(["limiter: Redis answers again; cluster-scoped limits are shared through leases again"]);
  // The restarted Redis has no buckets (no persistence here): the key starts full again, in Redis.
  expect((await limiter.acquire("logins", "198.51.100.7")).allowed).toBe(true);
  expect(Number(await client.hget("outage:{198.51.100.7}:limit:logins", "tokens"))).toBeCloseTo(4, 3);
  expect(lines.filter((l) => l.level === "warn")).toHaveLength(1);
  limiter.close();
  expect(escaped).toEqual([]);
}, 30_000);
