import { describe, expect, it } from "vitest";
import { NS_CARBONS, NS_FORWARD, type Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { messageModule } from "../message/index.js";
import { carbonsModule } from "./index.js";

const isMessage = (el: Element) => el.name === "message";
const forwardedOf = (el: Element, dir: "sent" | "received") => el.getChild(dir, NS_CARBONS)?.getChild("forwarded", NS_FORWARD)?.getChild("message");

async function online(t: TestHost, full: string, priority = 0): Promise<FakeSession> {
  const s = await t.login(full);
  await t.host.registry.update(full, s.id, { available: true, priority });
  return s;
}

async function enable(s: FakeSession, id = "en"): Promise<Element> {
  await s.sendAsClient(`<iq type='set' id='${id}'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
  return s.take((el) => el.name === "iq" && el.attrs.id === id)[0]!;
}

async function world() {
  const t = await createTestHost([messageModule, carbonsModule]);
  const desk = await online(t, "alice@localhost/desk", 5);
  const phone = await online(t, "alice@localhost/phone", 1);
  const bob = await online(t, "bob@localhost/b");
  return { t, desk, phone, bob };
}

describe("enabling carbons (XEP-0280 §4)", () => {
  it("stores the flag per resource in the registry and advertises the feature", async () => {
    const { t, desk } = await world();
    expect(t.host.disco.hostFeatures.has(NS_CARBONS)).toBe(true);
    expect((await enable(desk)).attrs.type).toBe("result");
    expect((await t.host.registry.get("alice@localhost/desk"))?.ext?.carbons).toBe(true);
    expect((await t.host.registry.get("alice@localhost/phone"))?.ext?.carbons).toBeUndefined();
    await desk.sendAsClient("<iq type='set' id='dis'><disable xmlns='urn:xmpp:carbons:2'/></iq>");
    expect(desk.take((el) => el.attrs.id === "dis")[0]?.attrs.type).toBe("result");
    expect((await t.host.registry.get("alice@localhost/desk"))?.ext?.carbons).toBe(false);
  });

  it("refuses to toggle carbons for another account", async () => {
    const { t, desk } = await world();
    await desk.sendAsClient("<iq type='set' id='x' to='bob@localhost'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
    const [answer] = desk.take((el) => el.attrs.id === "x");
    expect(answer?.attrs.type).toBe("error");
    expect(answer?.getChild("error")?.getChild("forbidden")).toBeDefined();
    expect((await t.host.registry.get("bob@localhost/b"))?.ext?.carbons).toBeUndefined();
  });
});

describe("sent carbons (XEP-0280 §5.2)", () => {
  it("copies a sent chat message to the sender's other enabled resources only", async () => {
    const { t, desk, phone, bob } = await world();
    const tablet = await online(t, "alice@localhost/tablet", 0); // not enabled
    await enable(phone);
    await enable(desk);
    await desk.sendAsClient("<message to='bob@localhost/b' type='chat' id='s1'><body>hi</body></message>");
    expect(bob.take(isMessage).map((m) => m.attrs.id)).toEqual(["s1"]);
    const [copy] = phone.take(isMessage);
    expect(copy?.attrs).toMatchObject({ from: "alice@localhost", to: "alice@localhost/phone", type: "chat" });
    expect(forwardedOf(copy!, "sent")?.attrs).toMatchObject({ id: "s1", from: "alice@localhost/desk", to: "bob@localhost/b", xmlns: "jabber:client" });
    expect(desk.take(isMessage)).toHaveLength(0);
    expect(tablet.take(isMessage)).toHaveLength(0);
  });

  it("sends no copy when carbons are not enabled, nor for ineligible messages", async () => {
    const { desk, phone } = await world();
    await desk.sendAsClient("<message to='bob@localhost/b' type='chat' id='s2'><body>hi</body></message>");
    expect(phone.take(isMessage)).toHaveLength(0);
    await enable(phone);
    await desk.sendAsClient("<message to='bob@localhost/b' type='headline' id='s3'><body>x</body></message>");
    await desk.sendAsClient("<message to='bob@localhost/b' id='s4'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    expect(phone.take(isMessage)).toHaveLength(0);
    await desk.sendAsClient("<message to='bob@localhost/b' id='s5'><body>normal with body</body></message>");
    expect(phone.take(isMessage)).toHaveLength(1);
  });

  it.each([
    ["<private/> alone", "<private xmlns='urn:xmpp:carbons:2'/>"],
    ["<private/> with <no-copy/>", "<private xmlns='urn:xmpp:carbons:2'/><no-copy xmlns='urn:xmpp:hints'/>"],
  ])("respects %s: no copies either side, and <private/> is stripped for the recipient", async (_label, optOut) => {
    const { t, desk, phone, bob } = await world();
    const bobTablet = await online(t, "bob@localhost/tablet", 0);
    await enable(phone);
    await enable(bobTablet, "bt");
    await desk.sendAsClient(`<message to='bob@localhost/b' type='chat' id='p1'><body>secret</body>${optOut}</message>`);
    const [got] = bob.take(isMessage);
    expect(got?.attrs.id).toBe("p1");
    expect(got?.getChild("private", NS_CARBONS)).toBeUndefined();
    expect(phone.take(isMessage)).toHaveLength(0);
    expect(bobTablet.take(isMessage)).toHaveLength(0);
  });
});

describe("received carbons (XEP-0280 §5.3)", () => {
  it("copies a message to a full JID to the recipient's other enabled resources", async () => {
    const { desk, phone, bob } = await world();
    await enable(phone);
    await enable(desk, "en2");
    await bob.sendAsClient("<message to='alice@localhost/desk' type='chat' id='r1'><body>yo</body></message>");
    expect(desk.take(isMessage).map((m) => m.attrs.id)).toEqual(["r1"]);
    const [copy] = phone.take(isMessage);
    expect(copy?.attrs).toMatchObject({ from: "alice@localhost", to: "alice@localhost/phone" });
    expect(forwardedOf(copy!, "received")?.attrs).toMatchObject({ id: "r1", from: "bob@localhost/b" });
  });

  it("for a bare JID, copies only to enabled resources that did not get the original", async () => {
    const { t, desk, phone, bob } = await world();
    const desk2 = await online(t, "alice@localhost/desk2", 5);
    const hidden = await online(t, "alice@localhost/hidden", -1);
    await enable(desk);
    await enable(desk2, "e2");
    await enable(phone, "e3");
    await enable(hidden, "e4");
    await bob.sendAsClient("<message to='alice@localhost' type='chat' id='r2'><body>yo</body></message>");
    // desk and desk2 share the top priority: originals, no copies
    for (const s of [desk, desk2]) {
      const got = s.take(isMessage);
      expect(got.map((m) => m.attrs.id)).toEqual(["r2"]);
    }
    expect(forwardedOf(phone.take(isMessage)[0]!, "received")?.attrs.id).toBe("r2");
    expect(forwardedOf(hidden.take(isMessage)[0]!, "received")?.attrs.id).toBe("r2");
  });

  it("does not copy to a disabled or unavailable resource", async () => {
    const { t, desk, phone, bob } = await world();
    await enable(phone);
    await phone.sendAsClient("<iq type='set' id='d'><disable xmlns='urn:xmpp:carbons:2'/></iq>");
    const idle = await t.login("alice@localhost/idle");
    await enable(idle, "ei");
    await bob.sendAsClient("<message to='alice@localhost/desk' type='chat' id='r3'><body>yo</body></message>");
    expect(desk.take(isMessage)).toHaveLength(1);
    expect(phone.take(isMessage)).toHaveLength(0);
    expect(idle.take(isMessage)).toHaveLength(0);
  });
});
