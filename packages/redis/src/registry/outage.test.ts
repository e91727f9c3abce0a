/**
 * Redis outage: a private redis-server is killed and restarted on the same port. Every registry
 * call must reject within a bounded time (never hang, never throw synchronously), nothing may
 * escape as an uncaught error, and the same client must work again once Redis is back.
 */
import { Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import { NodeLiveness } from "./liveness.js";
import { RedisSessionRegistry } from "./redis-registry.js";
import { RegistryKeys } from "./keys.js";
import { sessionInfo } from "./registry-contract.js";
import { eventually, freePort, killPrivateRedis, startPrivateRedis } from "./test-support.js";

const port = await freePort();
let server = await startPrivateRedis(port);
const client = new Redis({ port, retryStrategy: (attempt) => Math.min(attempt * 50, 300) });
client.on("error", () => undefined); // the edge logs these; here they are expected
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

it("rejects within a bounded time while Redis is down and recovers on the same client", async () => {
  const prefix = "outage";
  const fenced: number[] = [];
  const liveness = new NodeLiveness(client, { nodeId: "edge-a", prefix, ttlMs: 300, heartbeatMs: 100, commandTimeoutMs: 500, onPurged: () => undefined, onFenced: () => void fenced.push(Date.now()) });
  const registry = new RedisSessionRegistry(client, { prefix, commandTimeoutMs: 500, liveness });
  liveness.start();
  await liveness.waitUntilReady();
  await registry.bind(sessionInfo("alice@x/1", "s1", "edge-a"));

  await killPrivateRedis(server);
  const attempts = [
    () => registry.bind(sessionInfo("bob@x/1", "s2", "edge-a")),
    () => registry.unbind("alice@x/1", "s1"),
    () => registry.update("alice@x/1", "s1", { available: true }),
    () => registry.get("alice@x/1"),
    () => registry.list("alice@x"),
    () => registry.count("alice@x"),
    () => registry.listNode("edge-a"),
  ];
  for (const attempt of attempts) {
    const startedAt = Date.now();
    let call: Promise<unknown> | undefined;
    expect(() => (call = attempt())).not.toThrow();
    await expect(call).rejects.toMatchObject({ name: "RegistryUnavailableError" });
    expect(Date.now() - startedAt).toBeLessThan(1000);
  }
  await new Promise((resolve) => setTimeout(resolve, 600)); // outage longer than the TTL
  expect(liveness.ready).toBe(false);

  server = await startPrivateRedis(port);
  // The same client reconnects by itself; the restarted Redis lost everything (no persistence),
  // so the node must fence its streams and announce itself again.
  await eventually(() => registry.get("alice@x/1"), 10_000, 50);
  await eventually(() => expect(fenced).toHaveLength(1), 5000);
  await liveness.waitUntilReady(5000);
  expect(await client.exists(new RegistryKeys(prefix).nodeAlive("edge-a"))).toBe(1);
  // The bind that timed out during the outage must not land late.
  expect(await registry.get("bob@x/1")).toBeUndefined();
  expect(await registry.bind(sessionInfo("alice@x/1", "s3", "edge-a"))).toBeUndefined();
  expect(await registry.listNode("edge-a")).toMatchObject([{ sessionId: "s3" }]);
  await liveness.stop();
  expect(escaped).toEqual([]);
}, 30_000);

it("a bind that timed out does not write its entry when Redis answers late", async () => {
  const registry = new RedisSessionRegistry(client, { prefix: "late", commandTimeoutMs: 200 });
  // Redis stalls writes (as under a long fork or failover): the SADD answers after the deadline.
  await client.call("CLIENT", "PAUSE", "700", "WRITE");
  await expect(registry.bind(sessionInfo("carol@x/1", "s1", "edge-a"))).rejects.toMatchObject({ reason: "timeout" });
  await new Promise((resolve) => setTimeout(resolve, 900));
  expect(await client.scard(new RegistryKeys("late").nodeSessions("edge-a"))).toBe(1); // the SADD did run
  expect(await registry.get("carol@x/1")).toBeUndefined();
});
