/**
 * The stream management module on the in-process harness: counters and acks, the copy of a
 * stanza routed again that a session drops, detaching and queueing, and what becomes of
 * unacknowledged stanzas when a session ends (offline storage, never twice). Resumption itself
 * runs over real sockets in test/protocol/stream-management.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { StreamError, parseFrame, type Element } from "@switchboard/xml";
import { tagBusId, type StreamElementContext } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { offlineModule } from "../offline/index.js";
import { messageModule } from "../message/index.js";
import { smModule } from "./index.js";

let t: TestHost | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

/** The stream side of a fake client: what the module writes at stream level, and its close. */
function streamOf(client: FakeSession): StreamElementContext & { nonzas: Element[]; closedWith?: StreamError | "closed" } {
  const ctx = {
    state: "bound" as const,
    ip: "127.0.0.1",
    secure: true,
    account: client.jid.bare,
    session: client.session,
    nonzas: [] as Element[],
    closedWith: undefined as StreamError | "closed" | undefined,
    send(el: Element) {
      ctx.nonzas.push(parseFrame(el.toString()));
    },
    close(error?: StreamError) {
      ctx.closedWith = error ?? "closed";
    },
  };
  return ctx;
}

async function element(host: TestHost["host"], stream: StreamElementContext, xml: string): Promise<void> {
  const el = parseFrame(xml);
  const handler = host.streamHandlers.find(stream.state, el);
  if (!handler) throw new Error(`no handler for ${xml}`);
  await handler(stream, el);
}

async function setup(sm: Record<string, unknown> = {}) {
  t = await createTestHost([messageModule, offlineModule, [smModule, { ackEvery: 5, ackAfterSeconds: 30, resumeTimeoutSeconds: 60, maxQueue: 500, maxUnacked: 5000, ...sm }]]);
  const alice = await t.login("alice@localhost/phone");
  const stream = streamOf(alice);
  return { host: t.host, alice, stream };
}

const chat = (n: number, to = "alice@localhost/phone") => parseFrame(`<message type='chat' from='bob@localhost/desk' to='${to}'><body>n${n}</body></message>`);

describe("stream management module", () => {
  it("enables with a resumption id, answers <r/> and asks for an ack every ackEvery stanzas", async () => {
    const { host, alice, stream } = await setup();
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = stream.nonzas.shift()!;
    expect(enabled.name).toBe("enabled");
    expect(enabled.attrs.resume).toBe("true");
    expect(enabled.attrs.max).toBe("60");
    expect((await host.registry.get(alice.jid.full))?.ext?.sm).toBe(enabled.attrs.id);
    await alice.sendAsClient("<presence type='unavailable' to='bob@localhost'/>");
    await element(host, stream, "<r xmlns='urn:xmpp:sm:3'/>");
    expect(stream.nonzas.shift()!.toString()).toBe('<a xmlns="urn:xmpp:sm:3" h="1"/>');
    for (let i = 1; i <= 4; i++) alice.send(chat(i));
    await Promise.resolve();
    expect(stream.nonzas).toEqual([]);
    alice.send(chat(5));
    await Promise.resolve();
    expect(stream.nonzas.map((e) => e.name)).toEqual(["r"]);
  });

  it("drops a second copy of a stanza it had (the same bus id), so a sender's re-routing is not seen twice", async () => {
    const { host, alice, stream } = await setup();
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const first = chat(1);
    tagBusId(first, "L.edge-b.1");
    const again = chat(1);
    tagBusId(again, "L.edge-b.1");
    expect(alice.send(first)).toBe("written");
    expect(alice.send(again)).toBe("coalesced");
    expect(alice.send(chat(2))).toBe("written");
    expect(alice.take((el) => el.name === "message").map((el) => el.getChildText("body"))).toEqual(["n1", "n2"]);
  });

  it("a dropped stream detaches the session: its resource stays, stanzas for it are queued outside the edge", async () => {
    const { host, alice, stream } = await setup();
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const id = stream.nonzas[0]!.attrs.id!;
    alice.send(chat(1));
    await alice.disconnect("network gone");
    const info = await host.registry.get(alice.jid.full);
    expect(info?.detachedUntil).toBeGreaterThan(Date.now());
    expect(host.sessions.get(alice.id)).toBeUndefined();
    await host.router.route(chat(2));
    const record = await host.resumption.claim(id, { nodeId: host.nodeId, sessionId: "resumer" }, "resume");
    expect(record?.queue.map((q) => parseFrame(q.xml).getChildText("body"))).toEqual(["n1", "n2"]);
    expect(await t!.store.offline.count("alice@localhost")).toBe(0);
  });

  it("a session closed with unacknowledged messages stores them offline once, and answers an unacknowledged IQ", async () => {
    const { host, alice, stream } = await setup();
    const bob = await t!.login("bob@localhost/desk");
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    alice.send(chat(1));
    alice.send(chat(2));
    alice.send(parseFrame("<iq type='get' id='q1' from='bob@localhost/desk' to='alice@localhost/phone'><query xmlns='jabber:iq:version'/></iq>"));
    await element(host, stream, "<a xmlns='urn:xmpp:sm:3' h='1'/>"); // n1 handled
    await host.sessions.connectionLost(alice.session, alice.connection, "stream closed", false);
    expect(await t!.store.offline.count("alice@localhost")).toBe(1);
    const stored = await t!.store.offline.peek("alice@localhost");
    expect(stored.map((m) => parseFrame(m.xml).getChildText("body"))).toEqual(["n2"]);
    const error = await bob.waitFor((el) => el.name === "iq" && el.attrs.id === "q1");
    expect(error.attrs.type).toBe("error");
  });

  it("a client that never acknowledges is closed at maxUnacked, and what it held is not lost", async () => {
    const { host, alice, stream } = await setup({ maxUnacked: 3 });
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3'/>");
    for (let i = 1; i <= 3; i++) expect(alice.send(chat(i))).toBe("written");
    expect(alice.send(chat(4))).toBe("refused");
    expect(alice.session.closed).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    // the three unacknowledged ones are stored; the refused one is the caller's to store
    expect(await t!.store.offline.count("alice@localhost")).toBe(3);
  });

  it("a detached session that is not resumed in time ends: its queue goes offline, its resource is gone", async () => {
    const { host, alice, stream } = await setup({ resumeTimeoutSeconds: 1 });
    await element(host, stream, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    alice.send(chat(1));
    await alice.disconnect();
    await host.router.route(chat(2));
    const deadline = Date.now() + 5000;
    while ((await host.registry.get(alice.jid.full)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await host.registry.get(alice.jid.full)).toBeUndefined();
    expect(await t!.store.offline.count("alice@localhost")).toBe(2);
  });
});
