import { afterEach, describe, expect, it } from "vitest";
import { type Element, x } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { blockingModule } from "./index.js";

const NS = "urn:xmpp:blocking";
let t: TestHost;
afterEach(async () => t?.stop());

let n = 0;
async function iq(session: FakeSession, type: "get" | "set", body: string): Promise<Element> {
  const id = `b${++n}`;
  await session.sendAsClient(`<iq type='${type}' id='${id}'>${body}</iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}
const block = (s: FakeSession, ...jids: string[]) => iq(s, "set", `<block xmlns='${NS}'>${jids.map((j) => `<item jid='${j}'/>`).join("")}</block>`);
const unblock = (s: FakeSession, ...jids: string[]) => iq(s, "set", `<unblock xmlns='${NS}'>${jids.map((j) => `<item jid='${j}'/>`).join("")}</unblock>`);
const condition = (el: Element) => el.getChild("error")?.getChildElements().find((c) => c.name !== "text")?.name;
const isPush = (name: string) => (el: Element) => el.name === "iq" && el.attrs.type === "set" && el.getChild(name, NS) !== undefined;

async function setup() {
  t = await createTestHost([blockingModule]);
  const alice = await t.login("alice@localhost/a");
  const bob = await t.login("bob@localhost/b");
  return { alice, bob };
}

describe("blocklist management", () => {
  it("blocks, lists, and pushes the change to the resources that fetched the blocklist only", async () => {
    const { alice } = await setup();
    const phone = await t.login("alice@localhost/phone");
    const bot = await t.login("alice@localhost/bot");
    await iq(alice, "get", `<blocklist xmlns='${NS}'/>`);
    await iq(phone, "get", `<blocklist xmlns='${NS}'/>`);
    // Fetching the roster does not make a resource interested in the blocklist (XEP-0191 §3.3).
    await t.host.registry.update("alice@localhost/bot", bot.id, { interested: true });

    const result = await block(alice, "bob@localhost", "Spam.Example");
    expect(result.attrs.type).toBe("result");
    const push = await phone.waitFor(isPush("block"));
    expect(push.getChild("block", NS)!.getChildren("item").map((i) => i.attrs.jid)).toEqual(["bob@localhost", "spam.example"]);
    expect(alice.sent.filter(isPush("block"))).toHaveLength(1);
    expect(bot.sent.filter(isPush("block"))).toHaveLength(0);

    const list = await iq(alice, "get", `<blocklist xmlns='${NS}'/>`);
    expect(list.getChild("blocklist", NS)!.getChildren("item").map((i) => i.attrs.jid)).toEqual(["bob@localhost", "spam.example"]);
    expect(t.host.disco.hostFeatures.has(NS)).toBe(true);
  });

  it("refuses a block without items (bad-request) and an invalid JID (jid-malformed)", async () => {
    const { alice } = await setup();
    expect(condition(await block(alice))).toBe("bad-request");
    expect(condition(await block(alice, "bob@"))).toBe("jid-malformed");
    expect(await t.store.blocklist.list("alice@localhost")).toEqual([]);
  });

  it("unblocks one JID, and everything with an empty unblock", async () => {
    const { alice } = await setup();
    await iq(alice, "get", `<blocklist xmlns='${NS}'/>`);
    await block(alice, "bob@localhost", "carol@localhost", "dave@localhost");
    expect((await unblock(alice, "bob@localhost")).attrs.type).toBe("result");
    expect(await t.store.blocklist.list("alice@localhost")).toEqual(["carol@localhost", "dave@localhost"]);
    await unblock(alice);
    expect(await t.store.blocklist.list("alice@localhost")).toEqual([]);
    const pushes = alice.sent.filter(isPush("unblock"));
    expect(pushes).toHaveLength(2);
    expect(pushes[1]!.getChild("unblock", NS)!.getChildren("item")).toHaveLength(0);
  });

  it("keeps the blocklist private to its owner", async () => {
    const { alice, bob } = await setup();
    await block(alice, "carol@localhost");
    const id = "peek";
    await bob.sendAsClient(`<iq type='get' id='${id}' to='alice@localhost'><blocklist xmlns='${NS}'/></iq>`);
    expect(condition(await bob.waitFor((el) => el.attrs.id === id))).toBe("service-unavailable");
  });
});

describe("inbound enforcement", () => {
  it("does not deliver a blocked sender's message or IQ and answers service-unavailable", async () => {
    const { alice, bob } = await setup();
    await block(alice, "bob@localhost");
    alice.take();
    await bob.sendAsClient("<message to='alice@localhost/a' id='m1' type='chat'><body>hi</body></message>");
    await bob.sendAsClient("<iq to='alice@localhost/a' id='q1' type='get'><query xmlns='jabber:iq:version'/></iq>");
    expect(condition(await bob.waitFor((el) => el.attrs.id === "m1"))).toBe("service-unavailable");
    expect(condition(await bob.waitFor((el) => el.attrs.id === "q1"))).toBe("service-unavailable");
    expect(alice.sent).toHaveLength(0);
  });

  it("drops presence from a blocked sender silently", async () => {
    const { alice, bob } = await setup();
    await block(alice, "bob@localhost");
    alice.take();
    bob.take();
    await bob.sendAsClient("<presence to='alice@localhost/a'/>");
    expect(alice.sent).toHaveLength(0);
    expect(bob.sent).toHaveLength(0);
  });

  it("vetoes direct deliveries (presence broadcasts) and matches domain items", async () => {
    const { alice } = await setup();
    await block(alice, "evil.example");
    alice.take();
    const target = (await t.host.registry.get("alice@localhost/a"))!;
    const outcome = await t.host.deliver(target, x("presence", { from: "mallory@evil.example/x", to: "alice@localhost/a" }));
    expect(outcome).toBe("suppressed"); // on purpose: counts as handled (delivered() is true)
    expect(alice.sent).toHaveLength(0);
    expect(await t.host.deliver(target, x("presence", { from: "friend@good.example/x", to: "alice@localhost/a" }))).toBe("written");
  });

  it("delivers again after unblocking", async () => {
    const { alice, bob } = await setup();
    await block(alice, "bob@localhost");
    await unblock(alice, "bob@localhost");
    alice.take();
    await bob.sendAsClient("<message to='alice@localhost/a' id='m2' type='chat'><body>back</body></message>");
    expect((await alice.waitFor((el) => el.name === "message")).getChildText("body")).toBe("back");
  });

  it("checks deliveries from the cache, not the store", async () => {
    const { alice, bob } = await setup();
    await block(alice, "carol@localhost");
    let loads = 0;
    const list = t.store.blocklist.list.bind(t.store.blocklist);
    t.store.blocklist.list = (owner) => (loads++, list(owner));
    for (let i = 0; i < 5; i++) await bob.sendAsClient(`<message to='alice@localhost/a' id='c${i}' type='chat'><body>${i}</body></message>`);
    expect(alice.sent.filter((el) => el.name === "message")).toHaveLength(5);
    expect(loads).toBeLessThanOrEqual(2); // at most one load for each of alice and bob
  });
});

describe("outbound enforcement", () => {
  it("refuses a message to a blocked JID with not-acceptable and <blocked/>, routing nothing", async () => {
    const { alice, bob } = await setup();
    await block(alice, "bob@localhost");
    await alice.sendAsClient("<message to='bob@localhost/b' id='o1' type='chat'><body>psst</body></message>");
    const err = await alice.waitFor((el) => el.attrs.id === "o1");
    expect(condition(err)).toBe("not-acceptable");
    expect(err.getChild("error")!.getChild("blocked", "urn:xmpp:blocking:errors")).toBeDefined();
    expect(bob.sent).toHaveLength(0);
  });

  it("drops presence to a blocked JID without an error", async () => {
    const { alice, bob } = await setup();
    await block(alice, "bob@localhost");
    alice.take();
    await alice.sendAsClient("<presence to='bob@localhost/b'/>");
    expect(bob.sent).toHaveLength(0);
    expect(alice.sent).toHaveLength(0);
  });

  it("sends unavailable presence from each available resource to a blocked contact that saw it online", async () => {
    const { alice } = await setup();
    const phone = await t.login("alice@localhost/phone");
    await t.host.registry.update("alice@localhost/a", alice.id, { available: true });
    await t.host.registry.update("alice@localhost/phone", phone.id, { available: false });
    await t.store.roster.put("alice@localhost", { jid: "bob@localhost", groups: [], subscription: "from", askOut: false, askIn: false, approved: false, inRoster: true });
    await t.store.roster.put("alice@localhost", { jid: "carol@localhost", groups: [], subscription: "to", askOut: false, askIn: false, approved: false, inRoster: true });
    const routed: Element[] = [];
    t.host.hooks.on("presence/bare", (ev) => (routed.push(ev.stanza), true));
    await block(alice, "bob@localhost", "carol@localhost");
    expect(routed.map((p) => p.attrs)).toEqual([{ type: "unavailable", from: "alice@localhost/a", to: "bob@localhost" }]);
  });
});
