/**
 * Slow receivers on a real server (both modes; in a cluster the sender is on the other edge, so
 * the flood crosses the bus): a client that stops reading while 10,000 messages come for it is
 * congested once its outbound queue passes limits.outboundBufferBytes (64 KiB here), not closed;
 * messages go to offline storage (then bounce with <resource-constraint/> once it is full) and
 * come back in order as it reads at a crawl; other users are served meanwhile. A client that
 * reads nothing at all is closed after limits.congestionTimeoutSeconds without losing what it
 * was sent. The kernel's socket buffers take a few MiB first, so the assertions are on what the
 * server counts and what each side received, never on memory or time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MESSAGES = 10_000;
/** ~1.6 KiB a message: 10,000 of them are far more than loopback sockets buffer */
const PADDING = "x".repeat(1500);
const OFFLINE_CAP = 3000;

let ts: TestServer;
let alice: TestClient | undefined;
let carol: TestClient | undefined;

const LIMITS = { outboundBufferBytes: 65536, offlinePerUser: OFFLINE_CAP, userStanzasPerSecond: 0, userBytesPerSecond: 0 };
const USERS = ["slow", "stuck", "bob", "alice", "carol"];

beforeAll(async () => {
  // The crawler is paused while the whole flood is sent, which a loaded machine once took longer
  // than a 2 s limits.congestionTimeoutSeconds to do: it reads, so it is given 30 s. The second
  // test, about that timeout, gets a server of its own with 2 s.
  ts = await startTestServer({ limits: { ...LIMITS, congestionTimeoutSeconds: 30 } });
  for (const u of USERS) await ts.addUser(u);
  alice = await connect(ts, "alice", { resource: "a", node: ts.nodes.at(-1) });
  carol = await connect(ts, "carol", { resource: "c", node: ts.nodes[0] });
});
afterAll(async () => {
  await alice?.stop();
  await carol?.stop();
  await ts?.stop();
});

const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** one Prometheus counter summed over every node */
async function counter(name: string, action?: string): Promise<number> {
  let sum = 0;
  for (const node of ts.nodes) {
    const text = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (action && !line.includes(`action="${action}"`)) continue;
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await quiet(100);
  }
}

/** a bound raw stream with initial presence sent and an empty buffer */
async function rawUser(local: string, resource: string, node = ts.nodes[0]!, smEnable = false): Promise<RawConnection> {
  const c = await RawConnection.open(node.ports.c2s);
  await c.login(local, "secret", resource);
  if (smEnable) {
    c.write("<enable xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<enabled/);
  }
  c.write("<presence/>");
  await quiet(300);
  c.buffer = "";
  return c;
}

function* messages(to: string, prefix: string, count: number): Generator<string> {
  const batch: string[] = [];
  for (let n = 0; n < count; n++) {
    batch.push(`<message to='${to}' type='chat' id='${prefix}${n}'><body>${n} ${PADDING}</body></message>`);
    if (batch.length === 200) yield batch.splice(0).join("");
  }
  if (batch.length > 0) yield batch.join("");
}

/** message ids in what a client read, each with whether it carried a delay stamp */
function received(buffer: string, prefix: string): Array<{ id: string; delayed: boolean }> {
  const out: Array<{ id: string; delayed: boolean }> = [];
  for (const part of buffer.split("</message>")) {
    const m = new RegExp(`<message[^>]*\\sid="(${prefix}\\d+)"`).exec(part);
    if (m && !/type="error"/.test(part.slice(m.index, m.index + 300))) out.push({ id: m[1]!, delayed: part.includes("urn:xmpp:delay") });
  }
  return out;
}

/** ids the sender got back as <resource-constraint/> errors */
function bounced(buffer: string, prefix: string): string[] {
  const out: string[] = [];
  for (const part of buffer.split("</message>")) {
    const m = new RegExp(`<message[^>]*type="error"[^>]*\\sid="(${prefix}\\d+)"|<message[^>]*\\sid="(${prefix}\\d+)"[^>]*type="error"`).exec(part);
    if (m && part.includes("resource-constraint")) out.push((m[1] ?? m[2])!);
  }
  return out;
}

/** every id sent exactly once across what was read and what bounced */
function expectEachOnce(prefix: string, count: number, ...lists: string[][]): void {
  const seen = new Map<string, number>();
  for (const list of lists) for (const id of list) seen.set(id, (seen.get(id) ?? 0) + 1);
  const missing = [];
  const twice = [];
  for (let n = 0; n < count; n++) {
    const times = seen.get(`${prefix}${n}`) ?? 0;
    if (times === 0) missing.push(n);
    if (times > 1) twice.push(n);
  }
  expect({ missing: missing.slice(0, 10), missingCount: missing.length, twice: twice.slice(0, 10) }).toEqual({ missing: [], missingCount: 0, twice: [] });
}

describe("slow receivers", () => {
  it("a client reading at a crawl gets every one of 10,000 messages once, live or from offline storage with delay stamps, or the sender a resource-constraint bounce; others are served meanwhile", async () => {
    const slow = await rawUser("slow", "crawl");
    const bob = await rawUser("bob", "flood", ts.nodes.at(-1)!);
    slow.pause();
    const before = { diverted: await counter("switchboard_congestion_total", "diverted"), flushed: await counter("switchboard_congestion_total", "flushed") };

    const flood = bob.writeAll(messages("slow@localhost/crawl", "m", MESSAGES));
    await until(async () => (await counter("switchboard_congested_connections")) >= 1, 60_000, "the slow client counted as congested");
    // Another pair is served while the flood goes on.
    for (let n = 0; n < 5; n++) await alice!.send(xml("message", { to: "carol@localhost/c", type: "chat", id: `other${n}` }, xml("body", {}, `hi ${n}`)));
    for (let n = 0; n < 5; n++) await carol!.waitFor((el) => el.is("message") && el.attrs.id === `other${n}`, 30_000);
    await flood;
    // Every message taken: read into the socket, diverted to storage or bounced.
    await until(async () => (await counter("switchboard_congestion_total", "diverted")) - before.diverted > 0 && bounced(bob.buffer, "m").length + (await counter("switchboard_congestion_total", "diverted")) - before.diverted > 0, 60_000, "diversion");
    await quiet(500);
    expect(slow.closed).toBe(false); // congested, not closed

    // Read at a crawl: a little now and then, never a stall as long as the timeout. How long the
    // crawl takes depends on the machine's load (it once ran past a fixed 120 s on a loaded
    // machine with ~1,100 messages still waiting in storage), so it goes on while messages keep
    // coming and gives up only after 30 s without one.
    const taken = () => received(slow.buffer, "m").length + bounced(bob.buffer, "m").length;
    let progress = { count: taken(), at: Date.now() };
    while (taken() < MESSAGES && Date.now() - progress.at < 30_000) {
      slow.resume();
      await quiet(30);
      slow.pause();
      await quiet(60);
      if (taken() > progress.count) progress = { count: taken(), at: Date.now() };
    }
    slow.resume();
    await quiet(1000); // anything late (a duplicate) would show now
    const got = received(slow.buffer, "m");
    const refused = bounced(bob.buffer, "m");
    expectEachOnce("m", MESSAGES, got.map((g) => g.id), refused);
    // What was diverted came back with delay stamps, after what was written live, in order.
    const delayed = got.filter((g) => g.delayed);
    expect(delayed.length).toBeGreaterThan(0);
    const firstDelayed = got.findIndex((g) => g.delayed);
    expect(got.slice(firstDelayed).every((g) => g.delayed)).toBe(true);
    const order = got.map((g) => Number(g.id.slice(1)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect((await counter("switchboard_congestion_total", "diverted")) - before.diverted).toBe(delayed.length + refused.length);
    expect((await counter("switchboard_congestion_total", "flushed")) - before.flushed).toBe(delayed.length);
    expect(await counter("switchboard_congested_connections")).toBe(0);
    slow.close();
    bob.close();
  }, 600_000);

  it("a client that reads nothing is closed after limits.congestionTimeoutSeconds; what it was sent is stored for its next login", async () => {
    // Stream management without resumption: the unacknowledged stanzas of the closed stream go
    // to offline storage with those diverted while it was congested.
    await alice?.stop();
    await carol?.stop();
    alice = carol = undefined;
    await ts.stop();
    ts = await startTestServer({ limits: { ...LIMITS, congestionTimeoutSeconds: 2 } });
    for (const u of USERS) await ts.addUser(u);
    const stuck = await rawUser("stuck", "s", ts.nodes[0], true);
    const bob = await rawUser("bob", "flood2", ts.nodes.at(-1)!);
    stuck.pause();
    const closedBefore = await counter("switchboard_congestion_total", "closed");
    const count = 3000;
    await bob.writeAll(messages("stuck@localhost/s", "s", count));
    await until(async () => (await counter("switchboard_congestion_total", "closed")) > closedBefore, 60_000, "the stuck connection closed");
    await until(() => ![...ts.nodes[0]!.host.sessions.values()].some((s) => s.jid.full === "stuck@localhost/s"), 30_000, "its session ended");
    // What the closed stream held (diverted, and its unacknowledged stanzas rerouted) is written
    // to storage one message after another; the next login waits until that is done. Logging in
    // while it is still being written is a known race (the new session's delivery can stall at
    // its first congestion: docs/architecture.md "Streams", slow receivers), not what this tests.
    let stored = { count: -1, at: Date.now() };
    const settleBy = Date.now() + 60_000;
    while (Date.now() - stored.at < 1_500 && Date.now() < settleBy) {
      const now = await ts.nodes[0]!.host.store.offline.count("stuck@localhost");
      if (now !== stored.count) stored = { count: now, at: Date.now() };
      await quiet(100);
    }

    const again = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await again.login("stuck", "secret", "again");
    again.write("<presence/>");
    const expected = count - bounced(bob.buffer, "s").length;
    // Stored messages come while the count grows (a loaded machine took over 60 s once); a
    // stall of 20 s with some still missing is a failure.
    let progress = { count: 0, at: Date.now() };
    while (received(again.buffer, "s").length < expected) {
      const now = received(again.buffer, "s").length;
      if (now > progress.count) progress = { count: now, at: Date.now() };
      if (Date.now() - progress.at > 20_000) throw new Error(`stored messages stalled: ${now} of ${expected} received`);
      await quiet(100);
    }
    await quiet(500);
    expectEachOnce("s", count, received(again.buffer, "s").map((g) => g.id), bounced(bob.buffer, "s"));
    again.close();
    stuck.close();
    bob.close();
  }, 180_000);
});
