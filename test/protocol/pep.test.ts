/**
 * XEP-0163 personal eventing through real clients, in both modes (in cluster mode consecutive
 * connections alternate between the two edges, so a publisher and its contacts sit on different
 * edges): notifications filtered by verified entity capabilities (XEP-0115), the last item on
 * coming online, a caps hash that does not match, and the refusals of XEP-0060.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import {
  NS_DISCO_INFO,
  NS_PUBSUB,
  NS_PUBSUB_EVENT,
  announceCaps,
  befriend,
  isEvent,
  publishIq,
  pubsubIq,
  refusal,
} from "../support/pep.js";

const NICK = "http://jabber.org/protocol/nick";
const DEVICES = "eu.siacs.conversations.axolotl.devicelist";
let ts: TestServer;
const open: TestClient[] = [];
async function login(user: string, resource: string): Promise<TestClient> {
  const c = await connect(ts, user, { resource });
  open.push(c);
  return c;
}

beforeAll(async () => {
  ts = await startTestServer({ pep: { maxItemBytes: 4096, maxNodesPerUser: 6 } });
  for (const u of ["alice", "bob", "carol", "mallory", "liar", "dave"]) await ts.addUser(u);
});
afterAll(async () => {
  for (const c of open) await c.stop();
  await ts?.stop();
});

const nick = (text: string) => xml("nick", { xmlns: NICK }, text);
const itemsGet = (to: string, node: string, attrs: Record<string, string> = {}, ...items: ReturnType<typeof xml>[]) => {
  const iq = pubsubIq("get", NS_PUBSUB, xml("items", { node, ...attrs }, ...items));
  iq.attrs.to = to;
  return iq;
};

describe("PEP (XEP-0163) with entity capabilities (XEP-0115)", () => {
  it("notifies the owner's resources and contacts whose verified caps want the node, across edges, and nobody else", async () => {
    const phone = await login("alice", "phone");
    const bob = await login("bob", "b");
    const carol = await login("carol", "c");
    const mallory = await login("mallory", "m");
    await befriend(phone, bob);
    await befriend(phone, carol);
    const desk = await login("alice", "desk");
    for (const c of [phone, bob, mallory]) await announceCaps(ts, c, [NS_DISCO_INFO, `${NICK}+notify`, `${DEVICES}+notify`]);
    await announceCaps(ts, carol, [NS_DISCO_INFO, "urn:example:other+notify"]);

    const result = await desk.iq(publishIq(NICK, nick("Alice"), { id: "current" }));
    expect(result.getChild("pubsub", NS_PUBSUB)?.getChild("publish")?.attrs.node).toBe(NICK);
    expect(result.getChild("pubsub", NS_PUBSUB)?.getChild("publish")?.getChild("item")?.attrs.id).toBe("current");
    for (const c of [phone, bob]) {
      const ev = await c.waitFor(isEvent("alice@localhost", NICK));
      expect(ev.attrs.type).toBe("headline");
      const item = ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!;
      expect(item.attrs.id).toBe("current");
      expect(item.getChild("nick", NICK)?.text()).toBe("Alice");
    }
    // carol's caps do not want nicks, mallory shares no presence with alice, desk sent no caps
    await Promise.all([carol, mallory, desk].map((c) => c.expectNone(isEvent("alice@localhost", NICK), 400)));

    // a contact retrieves the item; a stranger is told a presence subscription is required
    const got = await bob.iq(itemsGet("alice@localhost", NICK));
    expect(got.getChild("pubsub", NS_PUBSUB)!.getChild("items")!.getChildren("item").map((i) => i.attrs.id)).toEqual(["current"]);
    expect(await refusal(mallory.iq(itemsGet("alice@localhost", NICK)))).toEqual({ condition: "not-authorized", app: "presence-subscription-required" });
  });

  it("sends the last item to a resource coming online with caps already verified, without asking it for disco#info", async () => {
    const later = await login("bob", "later");
    const { asked } = await announceCaps(ts, later, [NS_DISCO_INFO, `${NICK}+notify`, `${DEVICES}+notify`]);
    const ev = await later.waitFor(isEvent("alice@localhost", NICK));
    expect(ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.getChild("nick", NICK)?.text()).toBe("Alice");
    expect(asked).toBe(false); // the hash was verified once, on whichever edge saw it first
  });

  it("ignores a caps hash that does not match the client's disco#info: never cached, no notifications", async () => {
    const alice = await login("alice", "liarfriend");
    const liar = await login("liar", "l");
    await befriend(alice, liar);
    const { asked, key } = await announceCaps(ts, liar, [NS_DISCO_INFO, `${DEVICES}+notify`], "bm90IHRoZSByZWFsIGhhc2g=");
    expect(asked).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    for (const node of ts.nodes) expect(await node.host.store.pep.capsGet(key)).toBeUndefined();
    const list = xml("list", { xmlns: "eu.siacs.conversations.axolotl" }, xml("device", { id: "12345" }));
    await alice.iq(publishIq(DEVICES, list, { id: "current", options: { "pubsub#access_model": "open" } }));
    const bob = open.find((c) => c.jid.startsWith("bob@localhost/b"))!;
    await bob.waitFor(isEvent("alice@localhost", DEVICES));
    await liar.expectNone(isEvent("alice@localhost", DEVICES), 400);
  });

  it("answers disco#info with the pep identity and pubsub features, and lists the nodes a requester may see", async () => {
    const alice = open.find((c) => c.jid.startsWith("alice@localhost/phone"))!;
    const bob = open.find((c) => c.jid.startsWith("bob@localhost/b"))!;
    await alice.iq(publishIq("urn:example:secret", xml("s", { xmlns: "urn:example:secret" }), { options: { "pubsub#access_model": "whitelist" } }));
    const info = await alice.iq(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: NS_DISCO_INFO })));
    const query = info.getChild("query", NS_DISCO_INFO)!;
    expect(query.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(expect.arrayContaining(["account/registered", "pubsub/pep"]));
    expect(query.getChildren("feature").map((f) => f.attrs.var)).toEqual(expect.arrayContaining([`${NS_PUBSUB}#publish-options`, `${NS_PUBSUB}#auto-create`, `${NS_PUBSUB}#access-whitelist`]));
    const items = async (c: TestClient) =>
      (await c.iq(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })))).getChild("query")!.getChildren("item").map((i) => i.attrs.node);
    expect(await items(alice)).toEqual(expect.arrayContaining([NICK, DEVICES, "urn:example:secret"]));
    const seen = await items(bob);
    expect(seen).toEqual(expect.arrayContaining([NICK, DEVICES]));
    expect(seen).not.toContain("urn:example:secret");
  });

  it("sends the last items to a new contact, on the other edge, once the owner approves its subscription", async () => {
    const alice = await login("alice", "approver");
    const dave = await login("dave", "d");
    await Promise.all([alice.send(xml("presence")), announceCaps(ts, dave, [NS_DISCO_INFO, `${NICK}+notify`, `${DEVICES}+notify`])]);
    await dave.expectNone(isEvent("alice@localhost", NICK), 200); // not a contact yet
    await dave.send(xml("presence", { to: "alice@localhost", type: "subscribe" }));
    await alice.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribe" && el.attrs.from === "dave@localhost");
    await alice.send(xml("presence", { to: "dave@localhost", type: "subscribed" }));
    const ev = await dave.waitFor(isEvent("alice@localhost", NICK));
    expect(ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.getChild("nick", NICK)?.text()).toBe("Alice");
    await dave.waitFor(isEvent("alice@localhost", DEVICES)); // the open device list too
  });

  it("keeps nodes, items and verified caps across a restart (SQLite embedded, Redis in a cluster)", async () => {
    await ts.restart();
    const bob = await login("bob", "after");
    const got = await bob.iq(itemsGet("alice@localhost", NICK));
    expect(got.getChild("pubsub", NS_PUBSUB)!.getChild("items")!.getChild("item")!.getChild("nick", NICK)?.text()).toBe("Alice");
    // the hash verified before the restart is not asked about again; the last item follows
    const { asked } = await announceCaps(ts, bob, [NS_DISCO_INFO, `${NICK}+notify`, `${DEVICES}+notify`]);
    await bob.waitFor(isEvent("alice@localhost", NICK));
    expect(asked).toBe(false);
  });
});
