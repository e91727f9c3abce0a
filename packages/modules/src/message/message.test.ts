import { describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { messageModule } from "./index.js";


const isMessage = (el: Element) => el.name === "message";
const errorCondition = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;

async function online(t: TestHost, full: string, priority = 0): Promise<FakeSession> {
  const s = await t.login(full);
  await t.host.registry.update(full, s.id, { available: true, priority });
  return s;
}

describe("message to a bare JID (RFC 6121 §8.5.2)", () => {
  it("goes to the resource with the highest priority only", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const low = await online(t, "bob@localhost/low", 1);
    const high = await online(t, "bob@localhost/high", 5);
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='m1'><body>hi</body></message>");
    expect(high.take(isMessage).map((m) => m.attrs.id)).toEqual(["m1"]);
    expect(low.take(isMessage)).toHaveLength(0);
    expect(alice.take(isMessage)).toHaveLength(0);
  });

  it("goes to every resource sharing the highest priority", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const one = await online(t, "bob@localhost/one", 3);
    const two = await online(t, "bob@localhost/two", 3);
    await alice.sendAsClient("<message to='bob@localhost'><body>normal</body></message>");
    expect(one.take(isMessage)).toHaveLength(1);
    expect(two.take(isMessage)).toHaveLength(1);
  });

  it("never goes to a resource with negative priority, nor to an unavailable one", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const negative = await online(t, "bob@localhost/neg", -1);
    const unavailable = await t.login("bob@localhost/quiet");
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='m2'><body>hi</body></message>");
    expect(negative.take(isMessage)).toHaveLength(0);
    expect(unavailable.take(isMessage)).toHaveLength(0);
    // no offline storage loaded: the sender is told
    const [bounce] = alice.take(isMessage);
    expect(bounce?.attrs.type).toBe("error");
    expect(errorCondition(bounce!)).toBe("service-unavailable");
  });

  it("hands undeliverable chat to the offline hooks instead of bouncing when they take it", async () => {
    const t = await createTestHost([messageModule]);
    const taken: string[] = [];
    t.host.hooks.on("message/undeliverable", (ev) => {
      taken.push(`${ev.to.full} ${ev.stanza.attrs.id}`);
      return true;
    });
    const alice = await online(t, "alice@localhost/a");
    await t.login("bob@localhost/away");
    await alice.sendAsClient("<message to='bob@localhost/gone' type='chat' id='m3'><body>later</body></message>");
    expect(taken).toEqual(["bob@localhost m3"]);
    expect(alice.take(isMessage)).toHaveLength(0);
  });

  it("bounces service-unavailable for an account that does not exist", async () => {
    const t = await createTestHost([messageModule]);
    const taken: string[] = [];
    t.host.hooks.on("message/undeliverable", (ev) => (taken.push(ev.to.bare), true));
    const alice = await online(t, "alice@localhost/a");
    await alice.sendAsClient("<message to='nobody@localhost' type='chat' id='m4'><body>?</body></message>");
    const [bounce] = alice.take(isMessage);
    expect(bounce?.attrs).toMatchObject({ type: "error", id: "m4", from: "nobody@localhost" });
    expect(errorCondition(bounce!)).toBe("service-unavailable");
    expect(taken).toEqual([]);
  });

  it("delivers headline to every available non-negative resource and never stores it", async () => {
    const t = await createTestHost([messageModule]);
    const offered: string[] = [];
    t.host.hooks.on("message/undeliverable", (ev) => (offered.push(ev.stanza.attrs.id ?? ""), true));
    const alice = await online(t, "alice@localhost/a");
    const low = await online(t, "bob@localhost/low", 0);
    const high = await online(t, "bob@localhost/high", 9);
    const negative = await online(t, "bob@localhost/neg", -5);
    await alice.sendAsClient("<message to='bob@localhost' type='headline' id='h1'><body>news</body></message>");
    expect(low.take(isMessage)).toHaveLength(1);
    expect(high.take(isMessage)).toHaveLength(1);
    expect(negative.take(isMessage)).toHaveLength(0);

    await t.login("carol@localhost/x"); // exists, but not available
    await alice.sendAsClient("<message to='carol@localhost' type='headline' id='h2'><body>news</body></message>");
    expect(offered).toEqual([]);
    expect(alice.take(isMessage)).toHaveLength(0); // silently dropped
  });

  it("answers groupchat to a bare JID with service-unavailable even when the user is online", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const bob = await online(t, "bob@localhost/b");
    await alice.sendAsClient("<message to='bob@localhost' type='groupchat' id='g1'><body>x</body></message>");
    expect(bob.take(isMessage)).toHaveLength(0);
    const [bounce] = alice.take(isMessage);
    expect(errorCondition(bounce!)).toBe("service-unavailable");
  });

  it("delivers error messages when possible and never bounces or stores them", async () => {
    const t = await createTestHost([messageModule]);
    const offered: string[] = [];
    t.host.hooks.on("message/undeliverable", (ev) => (offered.push(ev.stanza.attrs.id ?? ""), true));
    const alice = await online(t, "alice@localhost/a");
    const bob = await online(t, "bob@localhost/b");
    await alice.sendAsClient("<message to='bob@localhost' type='error' id='e1'><error type='cancel'/></message>");
    expect(bob.take(isMessage).map((m) => m.attrs.id)).toEqual(["e1"]);

    await alice.sendAsClient("<message to='carol@localhost' type='error' id='e2'><error type='cancel'/></message>");
    await alice.sendAsClient("<message to='bob@localhost/gone' type='error' id='e3'><error type='cancel'/></message>");
    await bob.disconnect();
    await alice.sendAsClient("<message to='bob@localhost' type='error' id='e4'><error type='cancel'/></message>");
    expect(alice.take(isMessage)).toHaveLength(0);
    expect(offered).toEqual([]);
  });
});

describe("message to a full JID (RFC 6121 §8.5.3)", () => {
  it("goes to that resource even when it is not the highest priority nor available", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const high = await online(t, "bob@localhost/high", 10);
    const bound = await t.login("bob@localhost/bound");
    await alice.sendAsClient("<message to='bob@localhost/bound' type='chat' id='f1'><body>x</body></message>");
    expect(bound.take(isMessage)).toHaveLength(1);
    expect(high.take(isMessage)).toHaveLength(0);
  });

  it("falls back to the bare JID rules when the resource is offline", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const high = await online(t, "bob@localhost/high", 10);
    const low = await online(t, "bob@localhost/low", 1);
    await alice.sendAsClient("<message to='bob@localhost/gone' type='chat' id='f2'><body>x</body></message>");
    const [got] = high.take(isMessage);
    expect(got?.attrs).toMatchObject({ id: "f2", to: "bob@localhost/gone" });
    expect(low.take(isMessage)).toHaveLength(0);
  });

  it("bounces groupchat to an offline resource instead of falling back", async () => {
    const t = await createTestHost([messageModule]);
    const alice = await online(t, "alice@localhost/a");
    const bob = await online(t, "bob@localhost/b");
    await alice.sendAsClient("<message to='bob@localhost/gone' type='groupchat' id='f3'><body>x</body></message>");
    expect(bob.take(isMessage)).toHaveLength(0);
    expect(errorCondition(alice.take(isMessage)[0]!)).toBe("service-unavailable");
  });
});
