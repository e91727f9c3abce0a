/** NatsStanzaBus against the shared nats-server (SWITCHBOARD_TEST_NATS_URL); fails if it is down. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEnvelope, ControlMessage, StanzaEnvelope, TapEvent } from "@switchboard/core";
import { headers as natsHeaders, connect as natsConnect } from "nats";
import { NatsStanzaBus } from "./bus.js";
import { BusUnavailableError, InvalidBusEnvelopeError, NodeUnreachableError } from "./errors.js";
import { eventually, requireSharedNats } from "./test-servers.js";

const url = process.env.SWITCHBOARD_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `sbtest${Math.random().toString(36).slice(2, 10)}`;
const open: NatsStanzaBus[] = [];

/** `own` gives the bus a cluster of its own (control notices reach only buses of that prefix) */
async function bus(own?: string): Promise<NatsStanzaBus> {
  const b = await NatsStanzaBus.connect({ servers: url, subjectPrefix: own ? `${prefix}${own}` : prefix });
  open.push(b);
  return b;
}

function envelope(n: number, headers?: Record<string, string>): StanzaEnvelope {
  return { kind: "stanza", to: `u${n}@example.com/r`, sessionId: `s${n}`, xml: `<message id='${n}'><body>${n}</body></message>`, headers };
}

const sessionOf = (env: BusEnvelope) => (env as StanzaEnvelope).sessionId;
/** notices of types only these tests use */
const notice = (m: Record<string, unknown>) => m as unknown as ControlMessage;

beforeAll(() => requireSharedNats(url));

afterAll(async () => {
  await Promise.all(open.map((b) => b.close()));
});

describe("NatsStanzaBus on the shared server", () => {
  it("carries the envelope and its headers to the destination node", async () => {
    const [a, b] = [await bus(), await bus()];
    const got: BusEnvelope[] = [];
    b.subscribe("edge-b", (env) => got.push(env));
    await b.flush();
    const sent: BusEnvelope[] = [
      {
        kind: "stanza",
        to: "juliet@example.com/balcony",
        sessionId: "sess-1",
        xml: "<message to='juliet@example.com/balcony'><body>wherefore ☃</body></message>",
        headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      },
      { kind: "session-control", to: "juliet@example.com/balcony", sessionId: "sess-1", action: "conflict" },
      { kind: "component", component: "muc", shard: "room@conference.example.com", xml: "<presence/>", headers: { traceparent: "00-1-2-01" } },
      { kind: "component", component: "muc", shard: "room@conference.example.com", xml: "<message/>", stamp: { origin: "edge-a", life: "L1", seq: 7, id: "L1.edge-b.7" } },
      {
        kind: "multicast",
        targets: [{ to: "juliet@example.com/balcony", sessionId: "s1" }, { to: "romeo@example.com/orchard", sessionId: "s2" }],
        xml: "<message type='groupchat' from='room@conference.example.com/nurse'><body>line one\nline two</body></message>",
        stamp: { origin: "edge-a", life: "L1", seq: 8, id: "L1.edge-b.8" },
      },
    ];
    for (const env of sent) await a.publish("edge-b", env);
    await eventually(() => got.length === 5, "envelopes delivered");
    expect(got).toEqual(sent);
    expect(a.status()).toEqual({ connected: true, reconnecting: false, pendingBytes: 0, closed: false });
  });

  it("delivers 10,000 stanzas from one publisher in order", async () => {
    const [a, b] = [await bus(), await bus()];
    const seen: number[] = [];
    b.subscribe("edge-order", (env) => seen.push(Number(sessionOf(env).slice(1))));
    await b.flush();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 10_000; i++) sends.push(a.publish("edge-order", envelope(i)));
    await Promise.all(sends);
    await eventually(() => seen.length >= 10_000, "all 10,000 delivered");
    expect(seen).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it("routes by node: each node gets only its own stanzas", async () => {
    const [pub, n1, n2] = [await bus(), await bus(), await bus()];
    const got1: string[] = [];
    const got2: string[] = [];
    n1.subscribe("node-1", (env) => got1.push(sessionOf(env)));
    n2.subscribe("node-2", (env) => got2.push(sessionOf(env)));
    await Promise.all([n1.flush(), n2.flush()]);
    await pub.publish("node-1", envelope(1));
    await pub.publish("node-2", envelope(2));
    await pub.publish("node-1", envelope(3));
    await eventually(() => got1.length === 2 && got2.length === 1, "both nodes served");
    expect(got1).toEqual(["s1", "s3"]);
    expect(got2).toEqual(["s2"]);
  });

  it("stops delivering to a handler after unsubscribe", async () => {
    const [pub, sub] = [await bus(), await bus()];
    const removed: string[] = [];
    const kept: string[] = [];
    const unsubscribe = sub.subscribe("edge-unsub", (env) => removed.push(sessionOf(env)));
    sub.subscribe("edge-unsub", (env) => kept.push(sessionOf(env)));
    await sub.flush();
    await pub.publish("edge-unsub", envelope(1));
    await eventually(() => removed.length === 1 && kept.length === 1, "first stanza to both");
    unsubscribe();
    await sub.flush();
    await pub.publish("edge-unsub", envelope(2));
    await eventually(() => kept.length === 2, "second stanza to the remaining handler");
    await new Promise((r) => setTimeout(r, 100));
    expect(removed).toEqual(["s1"]);
  });

  it("close is idempotent and later publishes reject with BusUnavailableError", async () => {
    const b = await bus();
    const statuses: string[] = [];
    b.onStatus((_s, event) => statuses.push(event));
    await Promise.all([b.close(), b.close()]);
    await b.close();
    expect(statuses).toEqual(["closed"]);
    expect(b.status()).toMatchObject({ connected: false, closed: true });
    const err = await b.publish("edge-x", envelope(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusUnavailableError);
    expect(err).toMatchObject({ name: "BusUnavailableError", reason: "closed" });
    expect(() => b.subscribe("edge-x", () => {})).toThrow(BusUnavailableError);
  });

  it("rejects node ids that would add subject tokens or wildcards, and reserved headers", async () => {
    const b = await bus();
    for (const bad of ["a.b", "*", ">", "", "edge 1"]) {
      await expect(b.publish(bad, envelope(1))).rejects.toBeInstanceOf(InvalidBusEnvelopeError);
    }
    await expect(b.publish("ok", envelope(1, { "sb-to": "x" }))).rejects.toBeInstanceOf(InvalidBusEnvelopeError);
    await expect(b.publish("ok", envelope(1, { note: "a\r\nb" }))).rejects.toBeInstanceOf(InvalidBusEnvelopeError);
    expect(() => b.subscribe("a.>", () => {})).toThrow(InvalidBusEnvelopeError);
  });

  it("publishChecked resolves once the node handled it and reports a node nobody serves", async () => {
    const [pub, sub] = [await bus(), await bus()];
    const got: string[] = [];
    sub.subscribe("edge-checked", (env) => got.push(env.headers?.control ?? ""));
    await sub.flush();
    await pub.publishChecked("edge-checked", envelope(1, { control: "conflict" }));
    expect(got).toEqual(["conflict"]);
    const err = await pub.publishChecked("edge-nobody", envelope(2), 1_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeUnreachableError);
    expect(err).toMatchObject({ nodeId: "edge-nobody", reason: "no-subscriber" });
  });

  it("broadcasts control notices to every node, the sender included, and ignores malformed ones", async () => {
    const [a, b] = [await bus(), await bus()];
    const atA: unknown[] = [];
    const atB: unknown[] = [];
    a.subscribeControl((m) => atA.push(m));
    b.subscribeControl((m) => atB.push(m));
    await Promise.all([a.flush(), b.flush()]);
    const invalidate = notice({ type: "registry.invalidate", origin: "edge-a", bares: ["u@example.com"] });
    await a.publishControl(invalidate);
    // two connections publishing: NATS orders per connection only, so the second goes once the first arrived
    await eventually(() => atA.length === 1 && atB.length === 1, "the first notice reaches both nodes");
    await b.publishControl(notice({ type: "ping", origin: "edge-b" }));
    await eventually(() => atA.length === 2 && atB.length === 2, "notices reach both nodes");
    expect(atA).toEqual([invalidate, { type: "ping", origin: "edge-b" }]);
    expect(atB).toEqual(atA);
    // A subscriber survives garbage on the control subject (another client, another version).
    const raw = await NatsStanzaBus.connect({ servers: url, subjectPrefix: prefix });
    open.push(raw);
    await raw.publishControl({ type: 42 } as never);
    await a.publishControl(notice({ type: "after", origin: "edge-a" }));
    await eventually(() => atB.length === 3, "next valid notice still arrives");
    expect(atB[2]).toEqual({ type: "after", origin: "edge-a" });
  });

  it("a confirmed notice resolves once every node ran all its control handlers, one acknowledgement per node", async () => {
    const buses = [await bus("c3"), await bus("c3"), await bus("c3")];
    const seen = buses.map(() => [] as string[]);
    buses.forEach((b, i) => {
      // two handlers per node (registry cache and blocklist cache, say): still one acknowledgement
      b.subscribeControl((m) => seen[i]!.push(`first:${m.type}`));
      b.subscribeControl((m) => seen[i]!.push(`second:${m.type}`));
    });
    await Promise.all(buses.map((b) => b.flush()));
    const confirmed = await buses[0]!.publishControlConfirmed(notice({ type: "blocklist", origin: "edge-a" }), 3, 2_000);
    expect(confirmed).toBe(3);
    // no waiting: every node has applied it by the time the call resolves
    for (const s of seen) expect(s).toEqual(["first:blocklist", "second:blocklist"]);
    // counting a node that just died (5 asked, 3 alive): resolves with what answered once the
    // acknowledgements stall (200 ms), long before the 5 s timeout
    const started = Date.now();
    expect(await buses[1]!.publishControlConfirmed(notice({ type: "again", origin: "edge-b" }), 5, 5_000)).toBe(3);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2_000);
  });

  it("a confirmed notice nobody subscribes to resolves 0 instead of failing", async () => {
    const lonely = await bus("c1");
    expect(await lonely.publishControlConfirmed(notice({ type: "x", origin: "edge-a" }), 2, 500)).toBe(0);
  });

  it("drops an envelope of an unknown kind, and reads one without a kind (an older node) as a stanza", async () => {
    const b = await bus();
    const got: BusEnvelope[] = [];
    b.subscribe("edge-kinds", (env) => got.push(env));
    await b.flush();
    const nc = await natsConnect({ servers: url });
    try {
      const unknown = natsHeaders();
      unknown.set("sb-kind", "hologram");
      nc.publish(`${prefix}.node.edge-kinds`, new TextEncoder().encode("<x/>"), { headers: unknown });
      // COMPAT: what the previous version sent during a rolling upgrade
      const old = natsHeaders();
      old.set("sb-to", "a@example.com/r");
      old.set("sb-session", "s-old");
      nc.publish(`${prefix}.node.edge-kinds`, new TextEncoder().encode("<message/>"), { headers: old });
      const oldConflict = natsHeaders();
      oldConflict.set("sb-to", "a@example.com/r");
      oldConflict.set("sb-session", "s-old");
      oldConflict.set("control", "conflict");
      nc.publish(`${prefix}.node.edge-kinds`, new Uint8Array(), { headers: oldConflict });
      await nc.flush();
    } finally {
      await nc.close();
    }
    await eventually(() => got.length === 2, "the two readable envelopes arrive");
    expect(got).toEqual([
      { kind: "stanza", to: "a@example.com/r", sessionId: "s-old", xml: "<message/>" },
      { kind: "session-control", to: "a@example.com/r", sessionId: "s-old", action: "conflict", headers: { control: "conflict" } },
    ]);
  });

  it("taps one user's traffic for whoever watches that user (or everyone), and nothing for others", async () => {
    const [a, b] = [await bus("tap"), await bus("tap")];
    const alice: TapEvent[] = [];
    const all: TapEvent[] = [];
    b.subscribeTap("alice@example.com", (e) => alice.push(e));
    b.subscribeTap("*", (e) => all.push(e));
    await b.flush();
    const event = (user: string): TapEvent => ({ user, node: "edge-a", direction: "in", jid: `${user}/r`, xml: "<message/>", at: 1 });
    await a.publishTap(event("alice@example.com"));
    await a.publishTap(event("bob@example.com"));
    await eventually(() => all.length === 2, "both events reach the catch-all watcher");
    expect(alice).toEqual([event("alice@example.com")]);
  });
});

describe("requests every node answers (the admin commands)", () => {
  it("collects one answer per serving node, stops early when told, and a failing handler answers { error }", async () => {
    const own = "req";
    const [a, b, asker] = [await bus(own), await bus(own), await bus(own)];
    a.serveRequests("admin", async (body) => ({ node: "a", echo: body }));
    b.serveRequests("admin", async (body) => {
      if ((body as { fail?: boolean }).fail) throw new Error("no such account");
      return { node: "b", echo: body };
    });
    await a.flush();
    await b.flush();
    const started = Date.now();
    const answers = (await asker.requestAll("admin", { q: 1 }, { timeoutMs: 3_000, enough: (got) => got.length >= 2 })) as Array<{ node: string; echo: unknown }>;
    expect(answers.map((x) => x.node).sort()).toEqual(["a", "b"]);
    expect(answers[0]!.echo).toEqual({ q: 1 });
    expect(Date.now() - started).toBeLessThan(2_000); // enough() ended it, not the timeout
    const failing = await asker.requestAll("admin", { fail: true }, { timeoutMs: 500 });
    expect(failing).toContainEqual({ error: "no such account" });
    expect(await asker.requestAll("nobody-serves-this", {}, { timeoutMs: 500 })).toEqual([]);
    expect(() => asker.serveRequests("bad topic", async () => 1)).toThrow(/invalid request topic/);
  });
});
