import { describe, expect, it, vi } from "vitest";
import { NS_DELAY, parseFrame, type Element } from "@switchboard/xml";
import { loadModule } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { messageModule } from "../message/index.js";
import { offlineModule } from "./index.js";
import { delayStamp } from "./storable.js";
import { isStorable } from "../message/storable.js";

const isMessage = (el: Element) => el.name === "message";
const errorCondition = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;

async function setup(maxPerUser = 100): Promise<{ t: TestHost; alice: FakeSession }> {
  const t = await createTestHost([messageModule, [offlineModule, { maxPerUser }]]);
  const alice = await t.login("alice@localhost/a");
  await t.host.registry.update("alice@localhost/a", alice.id, { available: true });
  const cred = { salt: "", iterations: 1, storedKey: "", serverKey: "" };
  await t.store.accounts.create("bob@localhost", { "SCRAM-SHA-1": cred, "SCRAM-SHA-256": cred });
  return { t, alice };
}

describe("offline storage (XEP-0160)", () => {
  it("stores a chat message for an offline user with a server delay stamp", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='o1'><body>hello</body></message>");
    expect(alice.take(isMessage)).toHaveLength(0);
    const stored = await t.store.offline.peek("bob@localhost");
    expect(stored).toHaveLength(1);
    const el = parseFrame(stored[0]!.xml);
    expect(el.attrs.id).toBe("o1");
    const delay = el.getChild("delay", NS_DELAY);
    expect(delay?.attrs.from).toBe("localhost");
    expect(delay?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("keeps an existing delay and does not add a second one", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient(
      "<message to='bob@localhost' id='o2'><body>old</body><delay xmlns='urn:xmpp:delay' from='remote.example' stamp='2001-01-01T00:00:00Z'/></message>",
    );
    const el = parseFrame((await t.store.offline.peek("bob@localhost"))[0]!.xml);
    expect(el.getChildren("delay", NS_DELAY).map((d) => d.attrs.from)).toEqual(["remote.example"]);
  });

  it("delivers stored messages in order on initial available presence with non-negative priority", async () => {
    const { t, alice } = await setup();
    for (const n of [1, 2, 3]) await alice.sendAsClient(`<message to='bob@localhost' type='chat' id='n${n}'><body>${n}</body></message>`);
    const bob = await t.login("bob@localhost/phone");

    await bob.sendAsClient("<presence><priority>-1</priority></presence>");
    await new Promise((r) => setImmediate(r));
    expect(bob.take(isMessage)).toHaveLength(0);
    expect(await t.store.offline.count("bob@localhost")).toBe(3);

    await bob.sendAsClient("<presence><priority>2</priority></presence>");
    await bob.waitFor((el) => el.attrs.id === "n3");
    expect(bob.take(isMessage).map((m) => m.attrs.id)).toEqual(["n1", "n2", "n3"]);
    // Removal follows delivery of the batch, so it may land a moment after the last stanza.
    await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(0));
  });

  it("delivers each stored message once when two resources send initial presence together", async () => {
    const { t, alice } = await setup(300);
    for (let n = 0; n < 250; n++) await alice.sendAsClient(`<message to='bob@localhost' type='chat' id='d${n}'><body>${n}</body></message>`);
    // a store with a round trip (Redis, in a cluster): both flushes would read the same batch
    const peek = t.store.offline.peek.bind(t.store.offline);
    t.store.offline.peek = async (owner, limit) => {
      await new Promise((r) => setTimeout(r, 5));
      return peek(owner, limit);
    };
    const remove = t.store.offline.remove.bind(t.store.offline);
    t.store.offline.remove = async (owner, ids) => {
      await new Promise((r) => setTimeout(r, 5));
      return remove(owner, ids);
    };
    const phone = await t.login("bob@localhost/phone");
    const desk = await t.login("bob@localhost/desk");
    await Promise.all([phone.sendAsClient("<presence/>"), desk.sendAsClient("<presence/>")]);
    await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(0));
    await new Promise((r) => setTimeout(r, 20));
    const [atPhone, atDesk] = [phone.take(isMessage), desk.take(isMessage)];
    // XEP-0160 §4: the first resource gets them all
    expect([atPhone.length, atDesk.length]).toEqual([250, 0]);
    const ids = atPhone.map((m) => m.attrs.id);
    expect(new Set(ids).size).toBe(250);
  });

  // RFC 6121 §4.7.2.3, read by the presence module's parsePriority: only a negative priority
  // holds the messages back.
  it.each([
    ["absent", true, "<presence/>"],
    ["'5abc' (not an integer: 0)", true, "<presence><priority>5abc</priority></presence>"],
    ["'-5abc' (not an integer: 0)", true, "<presence><priority>-5abc</priority></presence>"],
    ["' 5 '", true, "<presence><priority> 5 </priority></presence>"],
    ["'+5'", true, "<presence><priority>+5</priority></presence>"],
    ["'128' (clamped to 127)", true, "<presence><priority>128</priority></presence>"],
    ["empty (0)", true, "<presence><priority></priority></presence>"],
    ["'-129' (clamped to -128)", false, "<presence><priority>-129</priority></presence>"],
  ])("initial presence with priority %s flushes stored messages: %s", async (_, flushes, initialPresence) => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='pr1'><body>x</body></message>");
    const bob = await t.login("bob@localhost/phone");
    await bob.sendAsClient(initialPresence);
    if (flushes) {
      await bob.waitFor((el) => el.attrs.id === "pr1");
      await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(0));
    } else {
      await new Promise((r) => setTimeout(r, 20));
      expect(bob.take(isMessage)).toHaveLength(0);
      expect(await t.store.offline.count("bob@localhost")).toBe(1);
    }
  });

  it("does not flush again on presence updates once the resource is available", async () => {
    const { t, alice } = await setup();
    const bob = await t.login("bob@localhost/phone");
    await t.host.registry.update("bob@localhost/phone", bob.id, { available: true, priority: -1 });
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='k1'><body>x</body></message>");
    await bob.sendAsClient("<presence><priority>1</priority></presence>");
    await new Promise((r) => setImmediate(r));
    expect(bob.take(isMessage)).toHaveLength(0);
    expect(await t.store.offline.count("bob@localhost")).toBe(1);
  });

  /** Sends `count` messages to bob while offline, then logs bob in; his stream dies on delivery `dieAt`. */
  async function flushUntilDisconnect(count: number, dieAt: number): Promise<{ t: TestHost; received: string[] }> {
    const { t, alice } = await setup(count);
    for (let n = 1; n <= count; n++) {
      await alice.sendAsClient(`<message to='bob@localhost' type='chat' id='p${n}'><body>${n}</body></message>`);
    }
    const bob = await t.login("bob@localhost/phone");
    let writes = 0;
    t.host.hooks.on("stanza/deliver", (ev) => {
      if (ev.target.jid === "bob@localhost/phone" && ++writes === dieAt) void bob.disconnect();
      return undefined;
    });
    await bob.sendAsClient("<presence/>");
    await bob.waitFor((el) => el.attrs.id === `p${dieAt - 1}`);
    await new Promise((r) => setTimeout(r, 20));
    return { t, received: bob.take(isMessage).map((m) => m.attrs.id!) };
  }

  const storedIds = async (t: TestHost) =>
    (await t.store.offline.peek("bob@localhost")).map((stored) => parseFrame(stored.xml).attrs.id);

  it("keeps the undelivered rest stored, in order, when the resource leaves mid-flush", async () => {
    const { t, received } = await flushUntilDisconnect(4, 2);
    expect(received).toEqual(["p1"]);
    expect(await storedIds(t)).toEqual(["p2", "p3", "p4"]);
  });

  it("removes delivered batches and keeps the rest when the resource leaves in a later batch", async () => {
    // 130 messages span two peek batches of 100; the stream dies on the 120th delivery.
    const { t, received } = await flushUntilDisconnect(130, 120);
    const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `p${from + i}`);
    expect(received).toEqual(ids(1, 119));
    expect(await storedIds(t)).toEqual(ids(120, 130));
  });

  it("removes an unparseable stored message instead of blocking the ones after it", async () => {
    const { t } = await setup();
    await t.store.offline.push("bob@localhost", "<message id='broken'", 10);
    await t.store.offline.push("bob@localhost", "<message to='bob@localhost' id='ok'><body>x</body></message>", 10);
    const bob = await t.login("bob@localhost/phone");
    await bob.sendAsClient("<presence/>");
    await bob.waitFor((el) => el.attrs.id === "ok");
    await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(0));
  });

  it("bounces resource-constraint past the cap and keeps the stored count at the cap", async () => {
    const { t, alice } = await setup(2);
    for (const n of [1, 2, 3]) await alice.sendAsClient(`<message to='bob@localhost' type='chat' id='c${n}'><body>${n}</body></message>`);
    expect(await t.store.offline.count("bob@localhost")).toBe(2);
    const bounces = alice.take(isMessage);
    expect(bounces.map((b) => b.attrs.id)).toEqual(["c3"]);
    const error = bounces[0]!.getChild("error");
    expect(error?.attrs.type).toBe("wait");
    expect(errorCondition(bounces[0]!)).toBe("resource-constraint");
    expect(error?.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas")).toBe("offline storage for this user is full");
  });

  it("does not store messages with a no-store hint, and the sender is told", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='h1'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>");
    expect(await t.store.offline.count("bob@localhost")).toBe(0);
    expect(errorCondition(alice.take(isMessage)[0]!)).toBe("service-unavailable");
  });

  it("neither stores nor bounces a standalone chat state, and stores no headline", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='bob@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    await alice.sendAsClient("<message to='bob@localhost/gone' type='chat'><gone xmlns='http://jabber.org/protocol/chatstates'/><thread>t1</thread></message>");
    await alice.sendAsClient("<message to='bob@localhost' type='headline'><body>news</body></message>");
    expect(await t.store.offline.count("bob@localhost")).toBe(0);
    expect(alice.take(isMessage)).toEqual([]);
  });

  it("stores a receipt, a reaction and a correction without a body, and bounces an unknown payload", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='r1'><received xmlns='urn:xmpp:receipts' id='m0'/></message>");
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='r2'><reactions xmlns='urn:xmpp:reactions:0' id='m0'><reaction>👍</reaction></reactions></message>");
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='r3'><composing xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>");
    expect(await t.store.offline.count("bob@localhost")).toBe(3);
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='r4'><x xmlns='urn:example:private'/></message>");
    expect(await t.store.offline.count("bob@localhost")).toBe(3);
    const [bounce] = alice.take(isMessage);
    expect(bounce?.attrs.id).toBe("r4");
    expect(errorCondition(bounce!)).toBe("service-unavailable");
  });

  it("answers service-unavailable for an unknown recipient and stores nothing", async () => {
    const { t, alice } = await setup();
    await alice.sendAsClient("<message to='ghost@localhost' type='chat' id='u1'><body>x</body></message>");
    expect(await t.store.offline.count("ghost@localhost")).toBe(0);
    expect(errorCondition(alice.take(isMessage)[0]!)).toBe("service-unavailable");
  });

  it("advertises msgoffline, and once unloaded stores nothing and the sender is told", async () => {
    const t = await createTestHost([messageModule]);
    const loaded = await loadModule(t.host, offlineModule);
    expect(t.host.disco.hostFeatures.has("msgoffline")).toBe(true);
    loaded.unload();
    expect(t.host.disco.hostFeatures.has("msgoffline")).toBe(false);
    const alice = await t.login("alice@localhost/a");
    await t.login("bob@localhost/b");
    await alice.sendAsClient("<message to='bob@localhost' type='chat' id='z1'><body>x</body></message>");
    expect(await t.store.offline.count("bob@localhost")).toBe(0);
    expect(errorCondition(alice.take(isMessage)[0]!)).toBe("service-unavailable");
  });
});

describe("storable messages and stamps", () => {
  it("keeps messages with a payload other than chat states", () => {
    expect(isStorable(parseFrame("<message><x xmlns='jabber:x:oob'><url>u</url></x></message>"))).toBe(true);
    expect(isStorable(parseFrame("<message><active xmlns='http://jabber.org/protocol/chatstates'/><thread>t</thread></message>"))).toBe(false);
    expect(isStorable(parseFrame("<message type='groupchat'><body>x</body></message>"))).toBe(false);
    expect(isStorable(parseFrame("<message type='error'><body>x</body></message>"))).toBe(false);
  });

  it("stamps UTC with seconds precision", () => {
    expect(delayStamp(new Date(Date.UTC(2002, 8, 10, 23, 8, 25, 123)))).toBe("2002-09-10T23:08:25Z");
  });
});
