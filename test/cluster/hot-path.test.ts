/**
 * ARCHITECTURE.md "Routing a stanza": steady-state chat between two online users on different
 * edges must not cost a Redis round trip per stanza. Counted on Redis itself (INFO stats of a
 * redis-server used by nothing else), so nothing in the test can hide a call. With resumable
 * stream management the unacknowledged queue is kept in Redis: appended once per tick for all
 * that was written in it, after the write, never one call per stanza — and a stanza the client
 * acknowledges soon is never written there at all (its sender's edge keeps it meanwhile).
 */
import { jidOfResumptionId, type AppendBatch, type ResumptionOwner } from "@switchboard/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Redis } from "ioredis";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
let redis: Redis;
let alice: TestClient;
let bob: TestClient;
let carol: TestClient;
let dave: TestClient;

async function commandsProcessed(): Promise<number> {
  const info = await redis.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

beforeAll(async () => {
  // The per-user rate stays on (leased, as always) but above what these senders do: this
  // measures routing, and a throttled sender is the flood case (test/protocol/user-rate.test.ts).
  ts = await startTestServer({ limits: { userStanzasPerSecond: 100_000, userStanzaBurst: 100_000 } }, { mode: "cluster", localBackends: true });
  redis = new Redis(ts.backends!.redisUrl);
  for (const u of ["alice", "bob", "carol", "dave"]) await ts.addUser(u);
  // stream management without resumption: acks only, nothing kept in Redis
  alice = await connect(ts, "alice", { resource: "a", node: ts.nodes[0], resumable: false });
  bob = await connect(ts, "bob", { resource: "b", node: ts.nodes[1], resumable: false });
  carol = await connect(ts, "carol", { resource: "c", node: ts.nodes[0] });
  dave = await connect(ts, "dave", { resource: "d", node: ts.nodes[1] });
  for (const c of [alice, bob, carol, dave]) await c.send(xml("presence"));
}, 60_000);

async function scriptCalls(): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

afterAll(async () => {
  for (const c of [alice, bob, carol, dave]) await c?.stop();
  redis?.disconnect();
  await ts?.stop();
});

it("routes chat between edges without a Redis round trip per stanza", async () => {
  const MESSAGES = 300;
  const exchange = async (tag: string) => {
    for (let i = 0; i < MESSAGES; i++) {
      await alice.send(xml("message", { to: i % 2 ? "bob@localhost" : "bob@localhost/b", type: "chat" }, xml("body", {}, `${tag}${i}`)));
    }
    await bob.waitFor((el) => el.getChildText("body") === `${tag}${MESSAGES - 1}`, 20_000);
  };
  await exchange("warm"); // fills the registry caches
  const before = await commandsProcessed();
  const started = Date.now();
  await exchange("m");
  const elapsed = Date.now() - started;
  const used = (await commandsProcessed()) - before;
  // Heartbeats and liveness sweeps of the two edges run meanwhile (a few commands per second
  // each); anything proportional to the traffic would be ≥ 300.
  const allowance = 20 + Math.ceil(elapsed / 1000) * 20;
  console.log(`hot path: ${MESSAGES} cross-edge messages in ${elapsed} ms used ${used} Redis commands (allowance ${allowance})`);
  // not one Redis command per stanza: fewer commands than messages, and no more than the
  // background heartbeats of the elapsed time explain
  expect(used).toBeLessThan(Math.min(allowance, MESSAGES));
  const delivered = bob.received.filter((el) => (el.getChildText("body") ?? "").startsWith("m")).length;
  expect(delivered).toBe(MESSAGES);
  const metrics = ts.nodes[0]!.host.metrics as unknown as { value(name: string, labels?: Record<string, string>): number };
  expect(metrics.value("switchboard_deliveries_total", { path: "bus" })).toBeGreaterThanOrEqual(2 * MESSAGES);
});

it("with resumable stream management, appends the unacknowledged queue once per tick, not per stanza", async () => {
  const MESSAGES = 300;
  const burst = async (tag: string) => {
    // sent back to back, as a busy sender does: they reach the recipient's edge in batches
    await Promise.all(Array.from({ length: MESSAGES }, (_, i) => carol.send(xml("message", { to: "dave@localhost/d", type: "chat" }, xml("body", {}, `${tag}${i}`)))));
    await dave.waitFor((el) => el.getChildText("body") === `${tag}${MESSAGES - 1}`, 20_000);
  };
  await burst("warm");
  const before = await scriptCalls();
  await burst("s");
  const calls = (await scriptCalls()) - before;
  console.log(`hot path, resumable: ${MESSAGES} cross-edge messages used ${calls} Redis script calls (appends and acks)`);
  const delivered = dave.received.filter((el) => (el.getChildText("body") ?? "").startsWith("s")).length;
  expect(delivered).toBe(MESSAGES);
  expect(calls).toBeLessThan(MESSAGES / 2);
});

it("a stanza its client acknowledges soon never reaches Redis; one left unacknowledged is stored, and only then confirmed to its sender's edge", async () => {
  const [sender, receiver] = [ts.nodes[0]!.host, ts.nodes[1]!.host];
  await ts.addUser("erin");
  // a receiver that acknowledges only what the test says (it never answers the server's <r/>)
  const erin = await RawConnection.open(ts.nodes[1]!.ports.c2s);
  await erin.login("erin", "secret", "e");
  erin.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  await erin.waitFor(/<enabled [^>]*\/>/);
  const store = receiver.resumption;
  const original = store.append.bind(store);
  const written: string[] = [];
  const remembered: string[] = [];
  store.append = (id: string, owner: ResumptionOwner, batch: AppendBatch) => {
    if (jidOfResumptionId(id)?.bare === "erin@localhost") {
      for (const e of batch.entries) written.push(/<body>([^<]*)</.exec(e.xml)?.[1] ?? e.xml);
      remembered.push(...(batch.seen ?? []));
    }
    return original(id, owner, batch);
  };
  try {
    for (let i = 1; i <= 8; i++) await carol.send(xml("message", { to: "erin@localhost/e", type: "chat" }, xml("body", {}, `q${i}`)));
    await erin.waitFor(/<body>q8<\/body>/, 10_000);
    erin.write("<a xmlns='urn:xmpp:sm:3' h='5'/>"); // q1–q5 handled at once, q6–q8 not
    // the sender's edge keeps what the receiver did not confirm — q6–q8 until they are stored
    // (session.ts DEFER_MS), then nothing
    await expect.poll(() => sender.ledger.pending().get(receiver.nodeId) ?? 0, { timeout: 10_000, interval: 50 }).toBe(0);
    expect(written).toEqual(["q6", "q7", "q8"]);
    // q1–q5 are only remembered by bus id, so a copy routed again after a crash is dropped
    expect(remembered).toHaveLength(5);
    expect(receiver.ledger.pinnedCount()).toBe(0);
  } finally {
    store.append = original;
    erin.close();
  }
});
