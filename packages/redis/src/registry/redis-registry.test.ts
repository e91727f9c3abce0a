/** RedisSessionRegistry against a real Redis: the shared contract plus the Redis-only behaviour. */
import { afterAll, describe, expect, it } from "vitest";
import { registryContract, sessionInfo } from "./registry-contract.js";
import { RedisSessionRegistry } from "./redis-registry.js";
import { RegistryKeys, memberOf } from "./keys.js";
import { RegistryUnavailableError } from "./errors.js";
import { connectTestRedis, eventually } from "./test-support.js";

const testRedis = await connectTestRedis();
const shared = await testRedis.client();
afterAll(() => testRedis.cleanup());

registryContract("RedisSessionRegistry", () => new RedisSessionRegistry(shared, { prefix: testRedis.prefix() }));

describe("RedisSessionRegistry", () => {
  it("binds asked for in one tick share one index write, and each returns the user's sessions after it", async () => {
    const prefix = testRedis.prefix();
    const registry = new RedisSessionRegistry(shared, { prefix });
    await registry.bind(sessionInfo("u0@example.com/laptop", "s-old", "edge-a"));
    const monitor = await (await testRedis.client()).monitor();
    const seen: string[] = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      if (source !== "lua" && args.some((a) => a.startsWith(`${prefix}:`))) seen.push(args[0]!.toLowerCase());
    });
    const binds = await Promise.all(Array.from({ length: 20 }, (_, i) => registry.bindListed(sessionInfo(`u${i}@example.com/phone`, `s${i}`, "edge-a"))));
    await eventually(() => expect(seen).toHaveLength(21), 5000, 20);
    monitor.disconnect();
    expect(seen.filter((c) => c === "sadd")).toHaveLength(1);
    expect(seen.filter((c) => c === "evalsha" || c === "eval")).toHaveLength(20);
    expect(await shared.scard(new RegistryKeys(prefix).nodeSessions("edge-a"))).toBe(21);
    expect(binds[0]!.sessions!.map((e) => e.jid).sort()).toEqual(["u0@example.com/laptop", "u0@example.com/phone"]);
    expect(binds[7]!.sessions).toEqual([sessionInfo("u7@example.com/phone", "s7", "edge-a")]);
    const updated = await registry.updateListed("u7@example.com/phone", "s7", { available: true });
    expect(updated.sessions).toEqual([{ ...sessionInfo("u7@example.com/phone", "s7", "edge-a"), available: true }]);
    expect((await registry.unbindListed("u7@example.com/phone", "s7")).sessions).toEqual([]);
  });

  it("stores a user's sessions in one hash tagged by the bare JID and indexes them per node", async () => {
    const prefix = testRedis.prefix();
    const registry = new RedisSessionRegistry(shared, { prefix });
    const info = sessionInfo("alice@example.com/phone", "s1", "edge-a");
    await registry.bind(info);
    expect(JSON.parse((await shared.hget(`${prefix}:{alice@example.com}:sessions`, info.jid))!)).toEqual(info);
    expect(await shared.smembers(`${prefix}:node:{edge-a}:sessions`)).toEqual([memberOf(info.jid, "s1")]);
    await registry.unbind(info.jid, "s1");
    expect(await shared.exists(`${prefix}:{alice@example.com}:sessions`, `${prefix}:node:{edge-a}:sessions`)).toBe(0);
  });

  it("concurrent binds on two nodes cannot together pass maxSessions", async () => {
    const prefix = testRedis.prefix();
    const onA = new RedisSessionRegistry(await testRedis.client(), { prefix });
    const onB = new RedisSessionRegistry(await testRedis.client(), { prefix });
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? onB : onA).bind(sessionInfo(`alice@example.com/r${i}`, `s${i}`, i % 2 ? "edge-b" : "edge-a"), { maxSessions: 3 })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.name)).toEqual(["SessionLimitError", "SessionLimitError", "SessionLimitError"]);
    expect(await onA.count("alice@example.com")).toBe(3);
    // the refused binds left no index member behind
    const keys = new RegistryKeys(prefix);
    expect((await shared.scard(keys.nodeSessions("edge-a"))) + (await shared.scard(keys.nodeSessions("edge-b")))).toBe(3);
  });

  it("a bind conflict across two nodes returns the old entry and moves the node index", async () => {
    const prefix = testRedis.prefix();
    const onA = new RedisSessionRegistry(await testRedis.client(), { prefix });
    const onB = new RedisSessionRegistry(await testRedis.client(), { prefix });
    const old = sessionInfo("alice@example.com/phone", "s1", "edge-a", { available: true });
    await onA.bind(old);
    const replacement = sessionInfo("alice@example.com/phone", "s2", "edge-b");
    expect(await onB.bind(replacement)).toEqual(old);
    const keys = new RegistryKeys(prefix);
    expect(await shared.scard(keys.nodeSessions("edge-a"))).toBe(0);
    expect(await shared.smembers(keys.nodeSessions("edge-b"))).toEqual([memberOf(replacement.jid, "s2")]);
    expect(await onA.listNode("edge-a")).toEqual([]);
    expect(await onA.listNode("edge-b")).toEqual([replacement]);
    // The old stream's late unbind (closing it with <conflict/>) must not touch the new binding.
    await onA.unbind(old.jid, "s1");
    expect(await onB.get(old.jid)).toEqual(replacement);
  });

  it("an unbind racing a rebind on the same node keeps the new session indexed", async () => {
    const registry = new RedisSessionRegistry(shared, { prefix: testRedis.prefix() });
    await registry.bind(sessionInfo("alice@example.com/phone", "s1", "edge-a"));
    // Issued together on one connection: unbind(s1) and the rebind interleave inside Redis.
    await Promise.all([
      registry.unbind("alice@example.com/phone", "s1"),
      registry.bind(sessionInfo("alice@example.com/phone", "s2", "edge-a")),
    ]);
    expect((await registry.listNode("edge-a")).map((e) => e.sessionId)).toEqual(["s2"]);
  });

  it("listNode ignores stale index members whose entry moved on", async () => {
    const prefix = testRedis.prefix();
    const registry = new RedisSessionRegistry(shared, { prefix });
    await registry.bind(sessionInfo("alice@example.com/phone", "s2", "edge-b"));
    await shared.sadd(new RegistryKeys(prefix).nodeSessions("edge-a"), memberOf("alice@example.com/phone", "s1"), "garbage");
    expect(await registry.listNode("edge-a")).toEqual([]);
  });

  it("bind rejects while the node's liveness is not ready", async () => {
    const liveness = { ready: false };
    const registry = new RedisSessionRegistry(shared, { prefix: testRedis.prefix(), liveness });
    const error = await registry.bind(sessionInfo("alice@example.com/phone", "s1")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnavailableError);
    expect((error as RegistryUnavailableError).reason).toBe("not-live");
    expect(await registry.get("alice@example.com/phone")).toBeUndefined();
    liveness.ready = true;
    expect(await registry.bind(sessionInfo("alice@example.com/phone", "s1"))).toBeUndefined();
  });

  it("every method rejects with RegistryUnavailableError on a closed client", async () => {
    const closed = await testRedis.client();
    const registry = new RedisSessionRegistry(closed, { prefix: testRedis.prefix() });
    closed.disconnect();
    await eventually(() => expect(closed.status).toBe("end"));
    const calls = await Promise.allSettled([
      registry.bind(sessionInfo("a@x/r", "s")),
      registry.unbind("a@x/r", "s"),
      registry.update("a@x/r", "s", { available: true }),
      registry.get("a@x/r"),
      registry.list("a@x"),
      registry.count("a@x"),
      registry.listNode("n"),
    ]);
    for (const call of calls) {
      expect(call.status).toBe("rejected");
      expect((call as PromiseRejectedResult).reason).toMatchObject({ name: "RegistryUnavailableError", reason: "disconnected" });
    }
  });
});
