/**
 * The liveness heartbeat off the event loop (issue 10 item 1): a node whose main thread is busy
 * for longer than the alive key's TTL keeps its key, and the other nodes do not purge it — while
 * a node without the worker is purged (the control: this test can fail), and a node whose main
 * thread is stuck for far longer than a busy spell is let go. Real processes on a real Redis
 * (busy-node.ts); the survivor is a NodeLiveness in this process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import type { SessionInfo } from "@switchboard/core";
import { NodeLiveness } from "@switchboard/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackends, type TestBackends } from "../support/backends.js";
import { signalAndWait, track } from "../support/processes.js";
import { EdgeProcess } from "../support/edge-process.js";

const ROOT = resolve(import.meta.dirname, "../..");
let backends: TestBackends;
let admin: Redis;
const children: ChildProcess[] = [];
const survivors: NodeLiveness[] = [];
const edges: EdgeProcess[] = [];

beforeAll(async () => {
  backends = await startBackends();
  admin = new Redis(backends.redisUrl, { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  for (const child of children) await signalAndWait(child, "SIGKILL");
  for (const edge of edges) await edge.stop().catch(() => {});
  await Promise.allSettled(survivors.map((s) => s.stop()));
  admin?.disconnect();
  await backends?.stop();
});

interface BusyNode {
  nodeId: string;
  aliveKey: string;
  /** resolves with the next line of output matching `pattern` */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  send(command: string): void;
}

async function busyNode(name: string, prefix: string, env: Record<string, string>): Promise<BusyNode> {
  const nodeId = `${name}-${prefix}`;
  const child = track(spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "test/support/busy-node.ts")], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: backends.redisUrl, PREFIX: prefix, NODE_ID: nodeId, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  }));
  children.push(child);
  let output = "";
  const waiters: Array<() => void> = [];
  child.stdout!.on("data", (d) => {
    output += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on("data", (d) => (output += d));
  /** lines already returned: each is matched once, in any order of asking */
  const taken = new Set<number>();
  const node: BusyNode = {
    nodeId,
    aliveKey: `${prefix}:node:{${nodeId}}:alive`,
    async line(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lines = output.split("\n").slice(0, -1);
        const index = lines.findIndex((l, i) => !taken.has(i) && pattern.test(l));
        if (index >= 0) {
          taken.add(index);
          return lines[index]!;
        }
        if (Date.now() > deadline) throw new Error(`no line matching ${pattern} from ${nodeId}; output:\n${output}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    send: (command) => void child.stdin!.write(`${command}\n`),
  };
  await node.line(/^live$/);
  return node;
}

async function survivor(prefix: string, ttl: { ttlMs: number; heartbeatMs: number }): Promise<{ purged: SessionInfo[][]; gone: string[] }> {
  const client = new Redis(backends.redisUrl, { maxRetriesPerRequest: 1 });
  const seen = { purged: [] as SessionInfo[][], gone: [] as string[] };
  const liveness = new NodeLiveness(client, { nodeId: `survivor-${prefix}`, prefix, ...ttl, onPurged: (s) => void seen.purged.push(s), onNodePurged: (n) => void seen.gone.push(n) });
  survivors.push(liveness);
  liveness.start();
  await liveness.waitUntilReady(20_000);
  return seen;
}

/** Blocks the node's main thread for `ms` while watching its alive key: how often it was missing. */
async function blockAndWatch(node: BusyNode, ms: number): Promise<{ samples: number; missing: number }> {
  node.send(`block ${ms}`);
  let samples = 0;
  let missing = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    samples++;
    if ((await admin.exists(node.aliveKey)) === 0) missing++;
    await new Promise((r) => setTimeout(r, 100));
  }
  await node.line(/^unblocked/, 20_000);
  return { samples, missing };
}

describe("heartbeat worker", () => {
  it("keeps a node whose main thread is blocked for 7 s (TTL 5 s) alive: never missing, never purged, not fenced", async () => {
    const prefix = `${backends.prefix}hb1`;
    const node = await busyNode("busy", prefix, { WORKER: "1" });
    const seen = await survivor(prefix, { ttlMs: 5000, heartbeatMs: 1000 });
    const watched = await blockAndWatch(node, 7_000);
    expect(watched.samples).toBeGreaterThan(20);
    expect(watched.missing).toBe(0);
    // two more survivor sweeps after the block: still nobody purged it
    await new Promise((r) => setTimeout(r, 2_500));
    expect(seen.gone).not.toContain(node.nodeId);
    expect(await admin.exists(node.aliveKey)).toBe(1);
    await expect(node.line(/^fenced$/, 1_000)).rejects.toThrow();
  });

  it("without the worker the same block gets the node purged and, once it runs again, fenced (the control)", async () => {
    const prefix = `${backends.prefix}hb2`;
    const fast = { ttlMs: 1000, heartbeatMs: 200 };
    const node = await busyNode("plain", prefix, { WORKER: "0", TTL_MS: "1000", HEARTBEAT_MS: "200" });
    const seen = await survivor(prefix, fast);
    await new Promise((r) => setTimeout(r, 1_200)); // the survivor's own hold on purges after it started
    const watched = await blockAndWatch(node, 3_000);
    expect(watched.missing).toBeGreaterThan(0);
    await node.line(/^fenced$/, 10_000);
    expect(seen.gone).toContain(node.nodeId);
  });

  it("stops beating for a main thread stuck longer than mainStallMs: the cluster lets the node go", async () => {
    const prefix = `${backends.prefix}hb3`;
    const fast = { ttlMs: 1000, heartbeatMs: 200 };
    const node = await busyNode("stuck", prefix, { WORKER: "1", TTL_MS: "1000", HEARTBEAT_MS: "200", STALL_MS: "1000" });
    const seen = await survivor(prefix, fast);
    await new Promise((r) => setTimeout(r, 1_200));
    const watched = await blockAndWatch(node, 4_000);
    expect(watched.missing).toBeGreaterThan(0);
    await node.line(/^fenced$/, 10_000);
    expect(seen.gone).toContain(node.nodeId);
  });

  it("runs in a real edge process with its own Redis connection, and dies with it on kill -9: the alive key then expires", async () => {
    const prefix = `${backends.prefix}hb4`;
    const nodeId = `edge-${prefix}`;
    const edge = await EdgeProcess.start({ nodeId, redisUrl: backends.redisUrl, natsUrl: backends.natsUrl, prefix });
    edges.push(edge);
    const heartbeatClients = async () => ((await admin.call("CLIENT", "LIST")) as string).split("\n").filter((l) => l.includes(`name=${nodeId}:heartbeat `)).length;
    const aliveKey = `${prefix}:node:{${nodeId}}:alive`;
    const until = Date.now() + 15_000;
    while ((await heartbeatClients()) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(await heartbeatClients()).toBe(1);
    expect(await admin.exists(aliveKey)).toBe(1);
    await edge.kill();
    const killedAt = Date.now();
    while ((await admin.exists(aliveKey)) === 1 && Date.now() - killedAt < 15_000) await new Promise((r) => setTimeout(r, 100));
    const expiredAfter = Date.now() - killedAt;
    console.log(`heartbeat worker: alive key expired ${expiredAfter} ms after kill -9`);
    // gone within the wait (the TTL from the last beat, 5 s): nobody kept beating for the dead process
    expect(await admin.exists(aliveKey)).toBe(0);
    expect(await heartbeatClients()).toBe(0);
  });
});
