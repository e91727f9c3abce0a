/**
 * Per-user rate limits (limits.userStanzasPerSecond, userStanzaBurst, userBytesPerSecond,
 * floodSeconds), cluster-wide: one user flooding from two sessions on two edges is paced to one
 * allowance — nothing they sent lost — while another user is served normally, and after
 * limits.floodSeconds over the rate their streams are closed with <policy-violation/> and a
 * `user-flood` alert is raised. In cluster mode (two edges, real Redis and NATS) the two
 * sessions sit on different edges and the limiter's own counters show leases, not a Redis call
 * per stanza; on the single node both sessions share it.
 */
import { RedisLeasedLimiter } from "@switchboard/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const RATE = 40;
const BURST = 40;

function bodies(c: TestClient, prefix: string): number {
  return c.received.filter((el) => el.name === "message" && el.getChildText("body")?.startsWith(prefix)).length;
}

async function flooder(ts: TestServer, node: number, resource: string): Promise<RawConnection> {
  const c = await RawConnection.open(ts.nodes[node % ts.nodes.length]!.ports.c2s);
  await c.login("flood", "secret", resource);
  return c;
}

/** `n` chat messages to bob in one write (the server reads them as fast as it allows) */
function burst(c: RawConnection, tag: string, n: number): void {
  let out = "";
  for (let i = 0; i < n; i++) out += `<message to='bob@localhost' type='chat' id='${tag}${i}'><body>${tag}-${i}</body></message>`;
  c.write(out);
}

describe("per-user rate across edges", () => {
  let ts: TestServer;
  let bob: TestClient;
  let carol: TestClient;

  beforeAll(async () => {
    ts = await startTestServer(
      { limits: { userStanzasPerSecond: RATE, userStanzaBurst: BURST, userBytesPerSecond: 0, floodSeconds: 5 } },
      { localBackends: true },
    );
    for (const u of ["flood", "bob", "carol"]) await ts.addUser(u);
    bob = await connect(ts, "bob", { resource: "b", node: ts.nodes[0] });
    carol = await connect(ts, "carol", { resource: "c", node: ts.nodes[1 % ts.nodes.length] });
    for (const c of [bob, carol]) await c.send(xml("presence"));
  }, 60_000);
  afterAll(async () => {
    await bob?.stop();
    await carol?.stop();
    await ts?.stop();
  });

  it("paces one user's two sessions to one allowance, loses nothing, serves others, then disconnects the flood", async () => {
    const one = await flooder(ts, 0, "one");
    const two = await flooder(ts, 1, "two");
    const limiters = ts.nodes.map((n) => n.host.limiter).filter((l) => l instanceof RedisLeasedLimiter);
    expect(limiters.length).toBe(ts.mode === "cluster" ? 2 : 0);
    const before = limiters.map((l) => l.stats);

    // slow enough to stay under the rate: everything arrives, nothing is held back
    for (let i = 0; i < 10; i++) {
      one.write(`<message to='bob@localhost' type='chat'><body>calm-${i}</body></message>`);
      await new Promise((r) => setTimeout(r, 30));
    }
    await bob.waitFor((el) => el.getChildText("body") === "calm-9");

    const PER_SESSION = 50;
    const started = Date.now();
    burst(one, "a", PER_SESSION);
    burst(two, "b", PER_SESSION);
    // while the flood is paced, another user's message goes through at once
    await new Promise((r) => setTimeout(r, 400));
    const sent = Date.now();
    await carol.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "carol-1")));
    await bob.waitFor((el) => el.getChildText("body") === "carol-1", 2_000);
    expect(Date.now() - sent).toBeLessThan(1_500);

    // 1 s in: what got through is one allowance (burst + a second's refill), not two — with
    // the leases' documented slack (at most one lease per node over, a lease is a tenth of the bucket)
    await new Promise((r) => setTimeout(r, Math.max(0, started + 1_000 - Date.now())));
    const inFirstSecond = bodies(bob, "a-") + bodies(bob, "b-");
    expect(inFirstSecond).toBeLessThanOrEqual(BURST + RATE + 2 * Math.ceil(BURST / 10) + 4);
    expect(inFirstSecond).toBeGreaterThan(BURST / 2);

    // 100 messages at 40/s after a burst of 40 take ~1.5 s, under floodSeconds (5): all delivered, in order
    await bob.waitFor((el) => el.getChildText("body") === `a-${PER_SESSION - 1}`, 10_000);
    await bob.waitFor((el) => el.getChildText("body") === `b-${PER_SESSION - 1}`, 10_000);
    const order = (p: string) => bob.received.map((el) => el.getChildText("body") ?? "").filter((b) => b.startsWith(p)).map((b) => Number(b.slice(2)));
    expect(order("a-")).toEqual([...Array(PER_SESSION).keys()]);
    expect(order("b-")).toEqual([...Array(PER_SESSION).keys()]);

    // no Redis round trip per stanza: the limiters answered every hit from leases
    const after = limiters.map((l) => l.stats);
    const hits = after.reduce((n, s, i) => n + s.hits - before[i]!.hits, 0);
    const calls = after.reduce((n, s, i) => n + s.redisCalls - before[i]!.redisCalls, 0);
    if (ts.mode === "cluster") {
      expect(hits).toBeGreaterThanOrEqual(2 * PER_SESSION + 10);
      expect(calls).toBeLessThan(hits / 2);
    }
    const throttled = ts.nodes.reduce(
      (n, node) => n + (node.host.metrics as unknown as { value(n: string, l: Record<string, string>): number }).value("switchboard_limit_refusals_total", { policy: "c2s.user-stanzas" }),
      0,
    );
    expect(throttled).toBeGreaterThan(0);

    // staying over the rate past limits.floodSeconds: both streams closed with policy-violation
    burst(one, "x", 400);
    burst(two, "y", 400);
    const closedOne = one.waitFor(/<policy-violation /, 12_000);
    const closedTwo = two.waitFor(/<policy-violation /, 12_000);
    expect(await closedOne).toContain("per-user rate");
    await closedTwo;
    await one.waitClosed();
    await two.waitClosed();
    // the stanza each stream held was answered, not dropped in silence
    expect(one.buffer + two.buffer).toMatch(/type="error"/);
    const alerts = ts.nodes.flatMap((n) => n.host.alerts.recent()).filter((a) => a.rule === "user-flood");
    expect(alerts.map((a) => a.subject)).toContain("flood@localhost");
    // bob is still served
    await carol.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, "carol-2")));
    await bob.waitFor((el) => el.getChildText("body") === "carol-2", 2_000);
  }, 40_000);
});

describe("per-user byte rate", () => {
  let ts: TestServer;

  beforeAll(async () => {
    ts = await startTestServer({ limits: { userStanzasPerSecond: 0, userBytesPerSecond: 20_000, maxStanzaBytes: 10_000, floodSeconds: 30 } }, { localBackends: true });
    for (const u of ["flood", "bob"]) await ts.addUser(u);
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it("paces bytes, not stanzas: big stanzas wait, all arrive", async () => {
    const bob = await connect(ts, "bob", { resource: "b" });
    await bob.send(xml("presence"));
    const c = await RawConnection.open(ts.server.ports.c2s);
    await c.login("flood", "secret", "one");
    const pad = "z".repeat(5_000);
    let out = "";
    for (let i = 0; i < 12; i++) out += `<message to='bob@localhost' type='chat'><body>big-${i} ${pad}</body></message>`;
    const started = Date.now();
    c.write(out); // ~60 KB: 20 KB at once, then 20 KB/s
    await bob.waitFor((el) => el.getChildText("body")?.startsWith("big-11 ") === true, 10_000);
    expect(Date.now() - started).toBeGreaterThan(1_200);
    expect(bob.received.filter((el) => el.getChildText("body")?.startsWith("big-")).length).toBe(12);
    c.close();
    await bob.stop();
  }, 20_000);
});
