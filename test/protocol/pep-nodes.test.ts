/**
 * PEP nodes as their owner manages them (XEP-0060 §7, §8 on XEP-0163), in both modes:
 * persistent private storage with publish-options and its precondition (XEP-0223), bookmarks
 * (XEP-0402: many items by id, whitelist), retraction with notification, the configure form,
 * deletion with its <delete/> notification, and every refusal XEP-0060 names for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { NS_DISCO_INFO, NS_PUBSUB, NS_PUBSUB_EVENT, NS_PUBSUB_OWNER, announceCaps, befriend, form, isEvent, publishIq, pubsubIq, refusal } from "../support/pep.js";

const BOOKMARKS = "urn:xmpp:bookmarks:1";
const NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
const PRIVATE = { "pubsub#persist_items": "true", "pubsub#access_model": "whitelist", "pubsub#max_items": "max", "pubsub#send_last_published_item": "never" };
let ts: TestServer;
let owner: TestClient;
let other: TestClient;
let friend: TestClient;
let stranger: TestClient;

beforeAll(async () => {
  ts = await startTestServer({ pep: { maxItemBytes: 2048, maxNodesPerUser: 8, maxItemsPerNode: 20 } });
  for (const u of ["keeper", "pal", "nosy"]) await ts.addUser(u);
  owner = await connect(ts, "keeper", { resource: "laptop" });
  friend = await connect(ts, "pal", { resource: "p" });
  await befriend(owner, friend);
  other = await connect(ts, "keeper", { resource: "phone" });
  stranger = await connect(ts, "nosy", { resource: "n" });
  const wants = [NS_DISCO_INFO, `${BOOKMARKS}+notify`, "urn:example:conf+notify"];
  for (const c of [other, friend]) await announceCaps(ts, c, wants);
});
afterAll(async () => {
  for (const c of [owner, other, friend, stranger]) await c?.stop();
  await ts?.stop();
});

const conference = (name: string) => xml("conference", { xmlns: BOOKMARKS, name, autojoin: "true" }, xml("nick", {}, "keeper"));
const items = (iq: Element) => iq.getChild("pubsub", NS_PUBSUB)!.getChild("items")!.getChildren("item");
const getItems = (node: string, attrs: Record<string, string> = {}, ...children: Element[]) => pubsubIq("get", NS_PUBSUB, xml("items", { node, ...attrs }, ...children));
const fieldValue = (x: Element, v: string) => x.getChildren("field").find((f) => f.attrs.var === v)?.getChildText("value");

describe("PEP nodes (XEP-0060 owner use cases, XEP-0223, XEP-0402)", () => {
  it("keeps bookmarks as private storage: publish-options create a whitelist node only the owner reads and hears of", async () => {
    for (const [room, name] of [["council@conference.localhost", "Council"], ["tea@conference.localhost", "Tea"]]) {
      await owner.iq(publishIq(BOOKMARKS, conference(name), { id: room, options: PRIVATE }));
      const ev = await other.waitFor((el) => isEvent("keeper@localhost", BOOKMARKS)(el) && el.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.attrs.id === room);
      expect(ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.getChild("conference", BOOKMARKS)!.attrs.name).toBe(name);
    }
    expect(items(await other.iq(getItems(BOOKMARKS))).map((i) => i.attrs.id)).toEqual(["council@conference.localhost", "tea@conference.localhost"]);
    expect(items(await other.iq(getItems(BOOKMARKS, { max_items: "1" }))).map((i) => i.attrs.id)).toEqual(["tea@conference.localhost"]);
    expect(items(await other.iq(getItems(BOOKMARKS, {}, xml("item", { id: "council@conference.localhost" })))).map((i) => i.getChild("conference")!.attrs.name)).toEqual(["Council"]);
    // the friend wants bookmarks notifications too, but the node is the owner's alone
    await friend.expectNone(isEvent("keeper@localhost", BOOKMARKS), 300);
    const asFriend = getItems(BOOKMARKS);
    asFriend.attrs.to = "keeper@localhost";
    expect(await refusal(friend.iq(asFriend))).toEqual({ condition: "not-allowed", app: "closed-node" });
    // options the node does not meet: conflict with precondition-not-met, nothing stored
    const open = await refusal(owner.iq(publishIq(BOOKMARKS, conference("Leak"), { id: "leak@conference.localhost", options: { "pubsub#access_model": "open" } })));
    expect(open).toEqual({ condition: "conflict", app: "precondition-not-met" });
    expect(items(await owner.iq(getItems(BOOKMARKS))).map((i) => i.attrs.id)).not.toContain("leak@conference.localhost");
  });

  it("retracts a bookmark and tells the owner's other resources", async () => {
    const retract = pubsubIq("set", NS_PUBSUB, xml("retract", { node: BOOKMARKS, notify: "true" }, xml("item", { id: "tea@conference.localhost" })));
    await owner.iq(retract);
    const ev = await other.waitFor((el) => isEvent("keeper@localhost", BOOKMARKS)(el) && el.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("retract") !== undefined);
    expect(ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("retract")!.attrs.id).toBe("tea@conference.localhost");
    expect(items(await owner.iq(getItems(BOOKMARKS))).map((i) => i.attrs.id)).toEqual(["council@conference.localhost"]);
    expect(await refusal(owner.iq(retract))).toMatchObject({ condition: "item-not-found" });
  });

  it("gets and submits the configure form, trims to the new max_items, and deletes with a <delete/> to subscribers", async () => {
    const node = "urn:example:conf";
    for (const id of ["1", "2", "3"]) await owner.iq(publishIq(node, xml("v", { xmlns: "urn:example:conf" }, id), { id, options: { "pubsub#max_items": "10" } }));
    const got = await owner.iq(pubsubIq("get", NS_PUBSUB_OWNER, xml("configure", { node })));
    const x = got.getChild("pubsub", NS_PUBSUB_OWNER)!.getChild("configure")!.getChild("x", "jabber:x:data")!;
    expect(x.attrs.type).toBe("form");
    expect(fieldValue(x, "FORM_TYPE")).toBe(NODE_CONFIG);
    expect(fieldValue(x, "pubsub#access_model")).toBe("presence");
    expect(fieldValue(x, "pubsub#max_items")).toBe("10");

    await owner.iq(pubsubIq("set", NS_PUBSUB_OWNER, xml("configure", { node }, form(NODE_CONFIG, { "pubsub#max_items": "2", "pubsub#title": "Conf" }))));
    expect(items(await owner.iq(getItems(node))).map((i) => i.attrs.id)).toEqual(["2", "3"]);
    const again = (await owner.iq(pubsubIq("get", NS_PUBSUB_OWNER, xml("configure", { node })))).getChild("pubsub", NS_PUBSUB_OWNER)!.getChild("configure")!.getChild("x")!;
    expect([fieldValue(again, "pubsub#max_items"), fieldValue(again, "pubsub#title")]).toEqual(["2", "Conf"]);

    // refused forms leave the node as it was
    const submit = (fields: Record<string, string>, formType = NODE_CONFIG) => owner.iq(pubsubIq("set", NS_PUBSUB_OWNER, xml("configure", { node }, form(formType, fields))));
    expect((await refusal(submit({ "pubsub#max_items": "2" }, "urn:example:wrong"))).condition).toBe("bad-request");
    expect((await refusal(submit({ "pubsub#max_items": "lots" }))).condition).toBe("bad-request");
    expect((await refusal(submit({ "pubsub#access_model": "authorize" }))).condition).toBe("not-acceptable");
    expect((await refusal(submit({ "pubsub#max_items": "21" }))).condition).toBe("not-acceptable");
    expect((await refusal(submit({ "pubsub#persist_items": "perhaps" }))).condition).toBe("bad-request");
    expect((await refusal(owner.iq(pubsubIq("set", NS_PUBSUB_OWNER, xml("configure", { node }, xml("x", { type: "submit" })))))).condition).toBe("bad-request");
    const foreign = pubsubIq("get", NS_PUBSUB_OWNER, xml("configure", { node }));
    foreign.attrs.to = "keeper@localhost";
    expect(await refusal(stranger.iq(foreign))).toMatchObject({ condition: "forbidden" });

    await owner.iq(pubsubIq("set", NS_PUBSUB_OWNER, xml("delete", { node })));
    for (const c of [other, friend]) {
      const ev = await c.waitFor((el) => el.name === "message" && el.getChild("event", NS_PUBSUB_EVENT)?.getChild("delete")?.attrs.node === node);
      expect(ev.attrs.from).toBe("keeper@localhost");
    }
    expect((await refusal(owner.iq(getItems(node)))).condition).toBe("item-not-found");
    expect((await refusal(owner.iq(pubsubIq("set", NS_PUBSUB_OWNER, xml("delete", { node }))))).condition).toBe("item-not-found");
  });

  it("refuses bad input with the conditions XEP-0060 names", async () => {
    const big = xml("data", { xmlns: "urn:example:big" }, "x".repeat(2100));
    expect(await refusal(owner.iq(publishIq("urn:example:big", big)))).toEqual({ condition: "not-acceptable", app: "payload-too-big" });
    expect((await refusal(owner.iq(publishIq("n".repeat(257), xml("a", { xmlns: "urn:a" }))))).condition).toBe("policy-violation");
    expect(await refusal(stranger.iq(publishIq("urn:example:x", xml("a", { xmlns: "urn:a" }), { to: "keeper@localhost" })))).toMatchObject({ condition: "forbidden" });
    expect(await refusal(owner.iq(pubsubIq("set", NS_PUBSUB, xml("publish", { node: "urn:x" }))))).toEqual({ condition: "bad-request", app: "item-required" });
    expect(await refusal(owner.iq(pubsubIq("set", NS_PUBSUB, xml("publish", { node: "urn:x" }, xml("item", { id: "1" })))))).toEqual({ condition: "bad-request", app: "payload-required" });
    const two = xml("publish", { node: "urn:x" }, xml("item", {}, xml("a", { xmlns: "urn:a" }), xml("b", { xmlns: "urn:b" })));
    expect(await refusal(owner.iq(pubsubIq("set", NS_PUBSUB, two)))).toEqual({ condition: "bad-request", app: "invalid-payload" });
    expect(await refusal(owner.iq(pubsubIq("set", NS_PUBSUB, xml("publish", {}, xml("item", {}, xml("a", { xmlns: "urn:a" }))))))).toEqual({ condition: "bad-request", app: "nodeid-required" });
    // publish-options: a form of the wrong type or without FORM_TYPE is malformed, an unknown option cannot be met
    const withForm = (x: Element) => pubsubIq("set", NS_PUBSUB, xml("publish", { node: "urn:y" }, xml("item", {}, xml("a", { xmlns: "urn:a" }))), xml("publish-options", {}, x));
    expect((await refusal(owner.iq(withForm(xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "pubsub#access_model" }, xml("value", {}, "open"))))))).condition).toBe("bad-request");
    expect((await refusal(owner.iq(withForm(form("http://jabber.org/protocol/pubsub#publish-options", { "pubsub#access_model": "open" }, "form"))))).condition).toBe("bad-request");
    expect(await refusal(owner.iq(withForm(form("http://jabber.org/protocol/pubsub#publish-options", { "urn:example#unknown": "1" }))))).toEqual({ condition: "conflict", app: "precondition-not-met" });
    expect((await refusal(owner.iq(getItems(BOOKMARKS, { max_items: "none" })))).condition).toBe("bad-request");
    // explicit subscriptions are not how PEP works (XEP-0163 §4.3): not implemented, saying which feature
    const sub = await refusal(owner.iq(pubsubIq("set", NS_PUBSUB, xml("subscribe", { node: BOOKMARKS, jid: "keeper@localhost" }))));
    expect(sub).toEqual({ condition: "feature-not-implemented", app: "unsupported" });
    // nothing of the refused publications was created
    const nodes = (await owner.iq(xml("iq", { type: "get", to: "keeper@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })))).getChild("query")!.getChildren("item").map((i) => i.attrs.node);
    expect(nodes.sort()).toEqual([BOOKMARKS]);
  });

  it("refuses a node past pep.maxNodesPerUser with policy-violation and still publishes to held ones", async () => {
    for (let i = 1; i < 8; i++) await owner.iq(publishIq(`urn:example:n${i}`, xml("a", { xmlns: "urn:a" })));
    expect((await refusal(owner.iq(publishIq("urn:example:n8", xml("a", { xmlns: "urn:a" }))))).condition).toBe("policy-violation");
    expect((await owner.iq(publishIq("urn:example:n1", xml("a", { xmlns: "urn:a" })))).attrs.type).toBe("result");
  });

  it("keeps legacy private-XML bookmarks and PEP bookmarks as one list (XEP-0411)", async () => {
    const legacy = (...children: Element[]) => xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:private" }, xml("storage", { xmlns: "storage:bookmarks" }, ...children)));
    await owner.iq(legacy(xml("conference", { jid: "legacy@conference.localhost", name: "Legacy", autojoin: "true" }, xml("nick", {}, "k"))));
    const ev = await other.waitFor((el) => isEvent("keeper@localhost", BOOKMARKS)(el) && el.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")?.attrs.id === "legacy@conference.localhost");
    expect(ev.getChild("event", NS_PUBSUB_EVENT)!.getChild("items")!.getChild("item")!.getChild("conference", BOOKMARKS)!.attrs.name).toBe("Legacy");
    // the rooms the PEP side held before are gone from it: the legacy list is the whole list
    expect(items(await other.iq(getItems(BOOKMARKS))).map((i) => i.attrs.id)).toEqual(["legacy@conference.localhost"]);
    await other.iq(publishIq(BOOKMARKS, conference("Modern"), { id: "modern@conference.localhost", options: PRIVATE }));
    const read = await owner.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:private" }, xml("storage", { xmlns: "storage:bookmarks" }))));
    const rooms = read.getChild("query")!.getChild("storage", "storage:bookmarks")!.getChildren("conference").map((c) => c.attrs.jid);
    expect(rooms).toEqual(["legacy@conference.localhost", "modern@conference.localhost"]);
  });
});
