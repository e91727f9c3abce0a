/**
 * Cluster faults on real processes: two edges (`switchboard start --role edge`, each its own OS
 * process), one redis-server (AOF, fsync always) and one nats-server. Each fault is followed by
 * a check that the cluster serves again without restarting anything, and offline messages
 * accepted before the faults are delivered at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCredentials } from "@switchboard/sasl";
import { RedisStore } from "@switchboard/redis";
import { Redis } from "ioredis";
import { connectTo, xml, type TestClient } from "../support/client.js";
import { startBackends, type TestBackends } from "../support/backends.js";
import { EdgeProcess } from "../support/edge-process.js";

let backends: TestBackends;
let edges: EdgeProcess[] = [];
let redis: Redis;
let store: RedisStore;
const clients: TestClient[] = [];

const svc = (edge: EdgeProcess) => `xmpp://127.0.0.1:${edge.ports.c2s}`;
// Without resumption: these sessions end with their stream, as before stream management (a
// resumable session outlives its edge instead: test/cluster/resumption.test.ts).
const login = async (edge: EdgeProcess, local: string, resource: string) => {
  const c = await connectTo(svc(edge), "localhost", local, { resource, resumable: false });
  clients.push(c);
  return c;
};
const body = (text: string) => (el: { name: string; getChildText(n: string): string | null }) => el.name === "message" && el.getChildText("body") === text;
const subscribed = (contact: string) => ({ jid: contact, groups: [], subscription: "both" as const, askOut: false, askIn: false, approved: false, inRoster: true });

async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

beforeAll(async () => {
  backends = await startBackends({ local: true });
  redis = new Redis(backends.redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {}); // the test stops Redis on purpose
  store = new RedisStore(redis, { prefix: backends.prefix });
  for (const u of ["watcher", "victim", "sleeper", "sender", "r1", "r2"]) {
    await store.accounts.create(`${u}@localhost`, deriveCredentials("secret", { iterations: 256 }));
  }
  await store.roster.put("watcher@localhost", subscribed("victim@localhost"));
  await store.roster.put("victim@localhost", subscribed("watcher@localhost"));
  const common = { redisUrl: backends.redisUrl, natsUrl: backends.natsUrl, prefix: backends.prefix };
  edges = await Promise.all([EdgeProcess.start({ ...common, nodeId: "edge-a" }), EdgeProcess.start({ ...common, nodeId: "edge-b" })]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  for (const e of edges) await e.stop();
  redis?.disconnect();
  await backends?.stop();
});

describe("cluster faults", () => {
  it("accepts an offline message before any fault", async () => {
    const s = await login(edges[0]!, "sender", "s");
    await s.send(xml("message", { to: "sleeper@localhost", type: "chat" }, xml("body", {}, "survives every fault")));
    await s.iq(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(await store.offline.count("sleeper@localhost")).toBe(1);
  });

  it("purges a killed edge: its users' contacts see them unavailable within 10 s, and they log in again at once", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const watcher = await login(a, "watcher", "w");
    await watcher.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    await watcher.send(xml("presence"));
    const victim = await login(b, "victim", "v");
    await victim.send(xml("presence"));
    await watcher.waitFor((el) => el.name === "presence" && el.attrs.from === "victim@localhost/v" && !el.attrs.type, 15_000);

    const killedAt = Date.now();
    await b.kill();
    const gone = await watcher.waitFor((el) => el.name === "presence" && el.attrs.from === "victim@localhost/v" && el.attrs.type === "unavailable", 10_000).catch(async (err) => {
      const keys = await redis.keys(`${backends.prefix}:node*`);
      const nodes = await redis.smembers(`${backends.prefix}:nodes`);
      throw new Error(`${err.message}\nkeys ${keys.join(" ")}\nnodes ${nodes.join(" ")}\nedge a log:\n${a.output.slice(-3000)}`);
    });
    expect(gone).toBeTruthy();
    expect(Date.now() - killedAt).toBeLessThan(10_000);

    const again = await login(a, "victim", "v");
    expect(again.jid).toBe("victim@localhost/v");
    await again.send(xml("presence"));
    await watcher.waitFor((el) => el.name === "presence" && el.attrs.from === "victim@localhost/v" && !el.attrs.type && watcher.received.indexOf(el) > watcher.received.indexOf(gone), 15_000);
    await b.launch(); // back for the next tests
  }, 60_000);

  it("survives Redis going away: new logins get a temporary error, everything works again after", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const one = await login(a, "r1", "x");
    const two = await login(b, "r2", "y");
    await backends.redis!.kill();
    await expect(connectTo(svc(a), "localhost", "sender", { resource: "during" })).rejects.toThrow(/temporary-auth-failure/);
    expect((await a.readyz()).status).toBe(503);
    await backends.redis!.start();
    await a.waitReady();
    await b.waitReady();
    const back = await retry(() => login(b, "sender", "after"), 15_000);
    expect(back.jid).toBe("sender@localhost/after");
    // sessions established before the outage still route across edges
    await retry(async () => {
      const text = `after redis ${Date.now()}`;
      await one.send(xml("message", { to: "r2@localhost/y", type: "chat" }, xml("body", {}, text)));
      await two.waitFor(body(text), 1000);
    }, 15_000);
    expect((await a.readyz()).status).toBe(200);
  }, 60_000);

  it("survives NATS going away: new logins get a temporary error, routing between edges resumes after it returns", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const one = await login(a, "r1", "n1");
    const two = await login(b, "r2", "n2");
    await backends.nats!.kill();
    await retry(async () => {
      if ((await a.readyz()).status !== 503 || (await b.readyz()).status !== 503) throw new Error("still ready");
    }, 5000);
    // While readiness is false new logins are refused with a temporary error (README, docs/architecture.md).
    await expect(connectTo(svc(b), "localhost", "sender", { resource: "during-nats" })).rejects.toThrow(/temporary-auth-failure/);
    await backends.nats!.start();
    await a.waitReady();
    await b.waitReady();
    await retry(async () => {
      const text = `after nats ${Date.now()}`;
      await one.send(xml("message", { to: "r2@localhost/n2", type: "chat" }, xml("body", {}, text)));
      await two.waitFor(body(text), 1000);
    }, 15_000);
  }, 60_000);

  it("still holds the offline message accepted before the faults", async () => {
    const z = await login(edges[1]!, "sleeper", "z");
    await z.send(xml("presence"));
    await z.waitFor(body("survives every fault"), 5000);
  });

  it("stops an edge cleanly on SIGTERM, leaving no session behind in the registry", async () => {
    const b = edges[1]!;
    await login(b, "r2", "bye");
    expect(await redis.hexists(`${backends.prefix}:{r2@localhost}:sessions`, "r2@localhost/bye")).toBe(1);
    expect(await b.terminate()).toBe(0);
    expect(await redis.hexists(`${backends.prefix}:{r2@localhost}:sessions`, "r2@localhost/bye")).toBe(0);
    expect(await redis.sismember(`${backends.prefix}:nodes`, "edge-b")).toBe(0);
  });
});
