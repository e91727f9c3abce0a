/**
 * NodeLiveness against a real Redis: dead-edge purge, purge lock, purgeOwn, fencing. A node
 * "dies" by losing its Redis connection (disconnect()): its loop keeps running but cannot
 * heartbeat, exactly like an edge cut off by a partition or killed.
 */
import type { Redis } from "ioredis";
import type { SessionInfo } from "@switchboard/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NodeLiveness, type NodeLivenessOptions } from "./liveness.js";
import { RedisSessionRegistry } from "./redis-registry.js";
import { RegistryKeys } from "./keys.js";
import { sessionInfo } from "./registry-contract.js";
import { connectTestRedis, eventually } from "./test-support.js";

const testRedis = await connectTestRedis();
const admin = await testRedis.client();
afterAll(() => testRedis.cleanup());

const FAST = { ttlMs: 300, heartbeatMs: 100 };
const started: NodeLiveness[] = [];
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((node) => node.stop()));
});

interface TestNode {
  liveness: NodeLiveness;
  registry: RedisSessionRegistry;
  client: Redis;
  purged: SessionInfo[][];
  detached: SessionInfo[][];
  fenced: number;
}

async function node(prefix: string, nodeId: string, opts: Partial<NodeLivenessOptions> = FAST): Promise<TestNode> {
  const client = await testRedis.client();
  const test: TestNode = { client, purged: [], detached: [], fenced: 0 } as unknown as TestNode;
  test.liveness = new NodeLiveness(client, {
    nodeId,
    prefix,
    onPurged: (sessions) => void test.purged.push(sessions),
    onFenced: () => void test.fenced++,
    onDetached: (sessions) => void test.detached.push(sessions),
    ...opts,
  });
  test.registry = new RedisSessionRegistry(client, { prefix, liveness: test.liveness });
  return test;
}

async function startNode(prefix: string, nodeId: string, opts?: Partial<NodeLivenessOptions>): Promise<TestNode> {
  const test = await node(prefix, nodeId, opts);
  started.push(test.liveness);
  test.liveness.start();
  await test.liveness.waitUntilReady();
  return test;
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const byJid = (a: SessionInfo, b: SessionInfo) => (a.jid < b.jid ? -1 : 1);

describe("NodeLiveness", () => {
  it("a survivor purges a dead node's sessions and reports exactly them", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    const onA = [sessionInfo("alice@x/1", "a1", "edge-a", { available: true }), sessionInfo("bob@x/1", "a2", "edge-a")];
    for (const info of onA) await a.registry.bind(info);
    const onB = sessionInfo("carol@x/1", "b1", "edge-b");
    await b.registry.bind(onB);
    expect(b.liveness.isAlive("edge-a")).toBe(true);

    a.client.disconnect(); // edge-a dies
    await eventually(() => expect(b.purged).toHaveLength(1), 3000);
    expect(b.purged[0]!.sort(byJid)).toEqual(onA);
    expect(await b.registry.listNode("edge-a")).toEqual([]);
    expect(await b.registry.get("alice@x/1")).toBeUndefined();
    expect(await b.registry.get(onB.jid)).toEqual(onB);
    expect(await admin.smembers(new RegistryKeys(prefix).nodes())).toEqual(["edge-b"]);
    expect(b.liveness.isAlive("edge-a")).toBe(false);
    expect(b.liveness.isAlive("edge-b")).toBe(true);
    expect(b.liveness.isAlive("never-seen")).toBe(true);
  });

  it("with keepResumableMs, stream-management sessions are kept detached instead of deleted", async () => {
    const prefix = testRedis.prefix();
    const keep = { ...FAST, keepResumableMs: 60_000 };
    const a = await startNode(prefix, "edge-a", keep);
    const b = await startNode(prefix, "edge-b", keep);
    const plain = sessionInfo("alice@x/1", "a1", "edge-a");
    const attached = sessionInfo("bob@x/1", "a2", "edge-a", { ext: { sm: "id-bob" } });
    const alreadyDetached = sessionInfo("carol@x/1", "a3", "edge-a", { ext: { sm: "id-carol" }, detachedUntil: 1_900_000_000_000 });
    for (const info of [plain, attached, alreadyDetached]) await a.registry.bind(info);
    const diedAt = Date.now();
    a.client.disconnect();
    await eventually(() => expect(b.purged.length + b.detached.length).toBe(2), 3000);
    expect(b.purged).toEqual([[plain]]);
    const kept = b.detached[0]!.sort(byJid);
    expect(kept.map((s) => s.jid)).toEqual(["bob@x/1", "carol@x/1"]);
    // the one attached at the death gets a deadline now + keepResumableMs; the other keeps its own
    expect(kept[0]!.detachedUntil).toBeGreaterThanOrEqual(diedAt + 60_000);
    expect(kept[0]!.detachedUntil).toBeLessThan(Date.now() + 60_000 + 1000);
    expect(kept[1]!.detachedUntil).toBe(1_900_000_000_000);
    expect(await b.registry.get(plain.jid)).toBeUndefined();
    expect(await b.registry.get(attached.jid)).toEqual(kept[0]);
    expect(await admin.smembers(new RegistryKeys(prefix).nodeSessions("edge-a"))).toEqual([]);
  });

  it("purges within 10 s of a node's death with the default TTL and heartbeat", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a", {});
    const b = await startNode(prefix, "edge-b", {});
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    const diedAt = Date.now();
    a.client.disconnect();
    await eventually(() => expect(b.purged).toHaveLength(1), 10_000, 50);
    expect(Date.now() - diedAt).toBeLessThan(10_000);
  }, 15_000);

  it("the purge lock lets only one of two survivors purge and report", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    const c = await startNode(prefix, "edge-c");
    const onA = Array.from({ length: 30 }, (_, i) => sessionInfo(`user${i}@x/r`, `a${i}`, "edge-a"));
    for (const info of onA) await a.registry.bind(info);
    a.client.disconnect();
    await eventually(() => expect(b.purged.length + c.purged.length).toBeGreaterThan(0), 3000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // several more sweeps of both
    const reports = [...b.purged, ...c.purged];
    expect(reports).toHaveLength(1);
    expect(reports[0]!.sort(byJid)).toEqual(onA.sort(byJid));
  });

  it("a dead node is not purged while another holder has its purge lock", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    // A purger elsewhere that took the lock (and then died): nobody else may purge until it expires.
    await admin.set(new RegistryKeys(prefix).nodePurgeLock("edge-a"), "other-purger", "PX", 1200);
    const diedAt = Date.now();
    a.client.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(b.purged).toEqual([]);
    await eventually(() => expect(b.purged).toHaveLength(1), 3000);
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(1100);
  });

  it("purging a dead node spares a session that was rebound on another node", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    const stays = sessionInfo("bob@x/1", "a2", "edge-a");
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    await a.registry.bind(stays);
    const moved = sessionInfo("alice@x/1", "b1", "edge-b");
    await b.registry.bind(moved);
    // A stale index member as a failed SREM would leave it: the purge must check the entry itself.
    await admin.sadd(new RegistryKeys(prefix).nodeSessions("edge-a"), JSON.stringify(["alice@x/1", "b1"]));
    a.client.disconnect();
    await eventually(() => expect(b.purged).toHaveLength(1), 3000);
    expect(b.purged[0]).toEqual([stays]);
    expect(await b.registry.get("alice@x/1")).toEqual(moved);
  });

  it("purgeOwn removes the sessions of a node id's previous life and returns them", async () => {
    const prefix = testRedis.prefix();
    const first = await startNode(prefix, "edge-a", { ttlMs: 60_000, heartbeatMs: 100 });
    const previous = [sessionInfo("alice@x/1", "a1", "edge-a"), sessionInfo("bob@x/1", "a2", "edge-a")];
    for (const info of previous) await first.registry.bind(info);
    const bystander = sessionInfo("carol@x/1", "b1", "edge-b");
    await first.registry.bind(bystander);
    first.client.disconnect(); // crash: its alive key (TTL 60 s) is still there

    const restarted = await node(prefix, "edge-a");
    expect((await restarted.liveness.purgeOwn()).sort(byJid)).toEqual(previous);
    expect(await restarted.registry.listNode("edge-a")).toEqual([]);
    expect(await restarted.registry.get(bystander.jid)).toEqual(bystander);
    started.push(restarted.liveness);
    restarted.liveness.start();
    await restarted.liveness.waitUntilReady();
    expect(await restarted.registry.bind(sessionInfo("alice@x/1", "a3", "edge-a"))).toBeUndefined();
    await expect(restarted.liveness.purgeOwn()).rejects.toThrow(/before start/);
  });

  it("a node purged while cut off is fenced on recovery, purges its leftovers and comes back", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    a.client.disconnect();
    await eventually(() => expect(b.purged).toHaveLength(1), 3000);
    expect(a.liveness.ready).toBe(false);
    await expect(a.registry.bind(sessionInfo("dave@x/1", "a9", "edge-a"))).rejects.toMatchObject({ name: "RegistryUnavailableError" });

    await a.client.connect();
    await eventually(() => expect(a.fenced).toBe(1), 3000);
    await a.liveness.waitUntilReady();
    expect(a.purged).toEqual([]); // b already removed everything and reported it
    expect(await admin.smembers(new RegistryKeys(prefix).nodes())).toEqual(expect.arrayContaining(["edge-a", "edge-b"]));
    await a.registry.bind(sessionInfo("alice@x/1", "a2", "edge-a"));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await b.registry.get("alice@x/1")).toMatchObject({ sessionId: "a2" }); // not purged again
    expect(b.liveness.isAlive("edge-a")).toBe(true);
  });

  it("a node whose alive key merely expired, with nobody purging it, resumes without fencing", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a"); // alone: no survivor could purge it
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    await admin.del(new RegistryKeys(prefix).nodeAlive("edge-a")); // as after an outage > TTL
    await eventually(async () => expect(await admin.exists(new RegistryKeys(prefix).nodeAlive("edge-a"))).toBe(1), 3000);
    expect(a.fenced).toBe(0);
    expect(await a.registry.get("alice@x/1")).toMatchObject({ sessionId: "a1" });
  });

  it("after every alive key expired at once (outage for all), nodes resume without purging each other", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    await b.registry.bind(sessionInfo("bob@x/1", "b1", "edge-b"));
    const keys = new RegistryKeys(prefix);
    await admin.del(keys.nodeAlive("edge-a"), keys.nodeAlive("edge-b"));
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect([a.purged, b.purged, a.fenced, b.fenced]).toEqual([[], [], 0, 0]);
    expect(await admin.exists(keys.nodeAlive("edge-a"), keys.nodeAlive("edge-b"))).toBe(2);
    expect((await a.registry.listNode("edge-b")).map((e) => e.sessionId)).toEqual(["b1"]);
  });

  it("stop() leaves the cluster cleanly: no alive key, not in the nodes set, nothing to purge", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const b = await startNode(prefix, "edge-b");
    await a.registry.bind(sessionInfo("alice@x/1", "a1", "edge-a"));
    await a.registry.unbind("alice@x/1", "a1");
    await a.liveness.stop();
    const keys = new RegistryKeys(prefix);
    expect(await admin.exists(keys.nodeAlive("edge-a"), keys.nodeEpoch("edge-a"), keys.nodePurgeLock("edge-a"))).toBe(0);
    expect(await admin.smembers(keys.nodes())).toEqual(["edge-b"]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(b.purged).toEqual([]);
    expect(a.purged).toEqual([]);
  });

  it("a node that said it stops counts as gone at once, and as alive again once a sweep sees it or it says it is back", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    await startNode(prefix, "edge-b");
    await waitFor(() => a.liveness.liveCount() === 2);
    a.liveness.left("edge-b");
    expect(a.liveness.liveCount()).toBe(1);
    expect(a.liveness.isAlive("edge-b")).toBe(false);
    a.liveness.left("edge-a"); // never itself
    expect(a.liveness.isAlive("edge-a")).toBe(true);
    // edge-b did not stop after all (or came back under its id): the next sweep counts it again
    await waitFor(() => a.liveness.liveCount() === 2);
    expect(a.liveness.isAlive("edge-b")).toBe(true);
    // and a node that says it is back counts at once
    a.liveness.left("edge-b");
    a.liveness.back("edge-b");
    expect(a.liveness.isAlive("edge-b")).toBe(true);
  });

  it("stop() purges and reports sessions the edge left behind", async () => {
    const prefix = testRedis.prefix();
    const a = await startNode(prefix, "edge-a");
    const leftover = sessionInfo("alice@x/1", "a1", "edge-a");
    await a.registry.bind(leftover);
    await a.liveness.stop();
    expect(a.purged).toEqual([[leftover]]);
    expect(await a.registry.get(leftover.jid)).toBeUndefined();
    expect(await admin.smembers(new RegistryKeys(prefix).nodes())).toEqual([]);
  });
});
