import { describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession } from "../testing/harness.js";
import { rosterModule } from "./index.js";

const NS = "jabber:iq:roster";
let idSeq = 0;

async function iq(session: FakeSession, type: "get" | "set", body: string, attrs = ""): Promise<Element> {
  const id = `q${++idSeq}`;
  await session.sendAsClient(`<iq type='${type}' id='${id}' ${attrs}><query xmlns='${NS}'${type === "get" ? " " + body : ">" + body + "</query"}${type === "get" ? "/" : ""}></iq>`);
  return session.waitFor((el) => el.name === "iq" && el.attrs.id === id);
}

const rosterGet = (s: FakeSession, ver?: string) => iq(s, "get", ver === undefined ? "" : `ver='${ver}'`);
const rosterSet = (s: FakeSession, item: string) => iq(s, "set", item);
const isPush = (el: Element) => el.name === "iq" && el.attrs.type === "set" && el.getChild("query", NS) !== undefined;
const errorCondition = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;

async function setup() {
  const t = await createTestHost([rosterModule]);
  const phone = await t.login("alice@localhost/phone");
  const laptop = await t.login("alice@localhost/laptop");
  return { ...t, phone, laptop };
}

describe("roster get", () => {
  it("returns only visible items with subscription, ask and groups", async () => {
    const { store, phone } = await setup();
    await store.roster.put("alice@localhost", { jid: "bob@localhost", name: "Bob", groups: ["Friends", "Work"], subscription: "to", askOut: false, askIn: false, approved: false, inRoster: true });
    await store.roster.put("alice@localhost", { jid: "carol@localhost", groups: [], subscription: "none", askOut: true, askIn: false, approved: false, inRoster: true });
    await store.roster.put("alice@localhost", { jid: "mallory@localhost", groups: [], subscription: "none", askOut: false, askIn: true, approved: false, inRoster: false });
    const result = await rosterGet(phone);
    expect(result.attrs.type).toBe("result");
    const items = result.getChild("query", NS)!.getChildren("item");
    expect(items.map((i) => i.attrs.jid).sort()).toEqual(["bob@localhost", "carol@localhost"]);
    const bob = items.find((i) => i.attrs.jid === "bob@localhost")!;
    expect(bob.attrs).toMatchObject({ name: "Bob", subscription: "to" });
    expect(bob.attrs.ask).toBeUndefined();
    expect(bob.getChildren("group").map((g) => g.getText())).toEqual(["Friends", "Work"]);
    const carol = items.find((i) => i.attrs.jid === "carol@localhost")!;
    expect(carol.attrs).toMatchObject({ subscription: "none", ask: "subscribe" });
  });

  it("refuses another account's roster with forbidden", async () => {
    const { phone, login } = await setup();
    await login("bob@localhost/x");
    const result = await iq(phone, "get", "", "to='bob@localhost'");
    expect(result.attrs.type).toBe("error");
    expect(errorCondition(result)).toBe("forbidden");
  });

  it("advertises roster versioning as a stream feature", async () => {
    const { host } = await setup();
    const features = host.streamFeatures.postAuth.map((f) => f());
    expect(features.some((f) => f.name === "ver" && f.attrs.xmlns === "urn:xmpp:features:rosterver")).toBe(true);
  });
});

describe("roster versioning (RFC 6121 §2.6)", () => {
  it("returns an empty result when the client's version is current, the full roster otherwise", async () => {
    const { phone } = await setup();
    await rosterSet(phone, "<item jid='bob@localhost'/>");
    const full = await rosterGet(phone, "");
    const ver = full.getChild("query", NS)!.attrs.ver!;
    expect(ver).toBeTruthy();
    expect(full.getChild("query", NS)!.getChildren("item")).toHaveLength(1);

    const same = await rosterGet(phone, ver);
    expect(same.attrs.type).toBe("result");
    expect(same.getChildElements()).toHaveLength(0);

    await rosterSet(phone, "<item jid='carol@localhost'/>");
    const changed = await rosterGet(phone, ver);
    const query = changed.getChild("query", NS)!;
    expect(query.attrs.ver).not.toBe(ver);
    expect(query.getChildren("item")).toHaveLength(2);
  });

  it("carries the new version in pushes", async () => {
    const { phone } = await setup();
    await rosterGet(phone);
    phone.take();
    await rosterSet(phone, "<item jid='bob@localhost'/>");
    const push = phone.take(isPush)[0]!;
    const ver = push.getChild("query", NS)!.attrs.ver;
    const current = await rosterGet(phone, ver);
    expect(current.getChildElements()).toHaveLength(0);
  });
});

describe("roster set", () => {
  it("adds an item, answers the requester and pushes to interested resources only", async () => {
    const { phone, laptop, login } = await setup();
    const tablet = await login("alice@localhost/tablet");
    await rosterGet(phone);
    await rosterGet(laptop);
    phone.take();
    laptop.take();
    const result = await rosterSet(phone, "<item jid='Bob@LocalHost' name='Bob'><group>Friends</group></item>");
    expect(result.attrs.type).toBe("result");
    for (const s of [phone, laptop]) {
      const pushes = s.take(isPush);
      expect(pushes).toHaveLength(1);
      expect(pushes[0]!.attrs.from).toBeUndefined();
      expect(pushes[0]!.attrs.to).toBe(s.jid.full);
      const item = pushes[0]!.getChild("query", NS)!.getChild("item")!;
      expect(item.attrs).toMatchObject({ jid: "bob@localhost", name: "Bob", subscription: "none" });
      expect(item.getChildText("group")).toBe("Friends");
    }
    expect(tablet.take(isPush)).toHaveLength(0);
  });

  it("uses a unique id for every push", async () => {
    const { phone } = await setup();
    await rosterGet(phone);
    await rosterSet(phone, "<item jid='bob@localhost'/>");
    await rosterSet(phone, "<item jid='carol@localhost'/>");
    const ids = phone.take(isPush).map((p) => p.attrs.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it("updates name and groups but keeps the subscription state, ignoring client-set subscription and ask", async () => {
    const { store, phone } = await setup();
    await store.roster.put("alice@localhost", { jid: "bob@localhost", groups: ["Old"], subscription: "both", askOut: false, askIn: false, approved: false, inRoster: true });
    await rosterSet(phone, "<item jid='bob@localhost' name='Bobby' subscription='none' ask='subscribe'><group>New</group></item>");
    const item = await store.roster.get("alice@localhost", "bob@localhost");
    expect(item).toMatchObject({ name: "Bobby", groups: ["New"], subscription: "both", askOut: false });
  });

  it("makes a hidden state entry visible and keeps its pending request", async () => {
    const { store, phone } = await setup();
    await store.roster.put("alice@localhost", { jid: "bob@localhost", groups: [], subscription: "none", askOut: false, askIn: true, approved: false, inRoster: false });
    await rosterSet(phone, "<item jid='bob@localhost'/>");
    expect(await store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ inRoster: true, askIn: true });
  });

  it("allows adding yourself", async () => {
    const { phone } = await setup();
    const result = await rosterSet(phone, "<item jid='alice@localhost'/>");
    expect(result.attrs.type).toBe("result");
  });

  it.each([
    ["two items", "<item jid='a@localhost'/><item jid='b@localhost'/>", "bad-request"],
    ["no item", "", "bad-request"],
    ["no jid", "<item name='x'/>", "bad-request"],
    ["a malformed jid", "<item jid='a@@b'/>", "jid-malformed"],
    ["a full jid", "<item jid='bob@localhost/phone'/>", "jid-malformed"],
    ["a duplicate group", "<item jid='bob@localhost'><group>A</group><group>A</group></item>", "bad-request"],
    ["an empty group", "<item jid='bob@localhost'><group></group></item>", "not-acceptable"],
    ["an overlong name", `<item jid='bob@localhost' name='${"n".repeat(1025)}'/>`, "not-acceptable"],
    ["an overlong group", `<item jid='bob@localhost'><group>${"g".repeat(1025)}</group></item>`, "not-acceptable"],
  ])("rejects %s", async (_what, body, condition) => {
    const { phone, store } = await setup();
    const result = await rosterSet(phone, body);
    expect(result.attrs.type).toBe("error");
    expect(errorCondition(result)).toBe(condition);
    expect((await store.roster.list("alice@localhost")).length).toBe(0);
  });

  it("enforces the roster size limit with not-allowed", async () => {
    const t = await createTestHost([[rosterModule, { maxItems: 1 }]]);
    const s = await t.login("alice@localhost/x");
    expect((await rosterSet(s, "<item jid='bob@localhost'/>")).attrs.type).toBe("result");
    const refused = await rosterSet(s, "<item jid='carol@localhost'/>");
    expect(errorCondition(refused)).toBe("not-allowed");
    // updating an existing item is still possible
    expect((await rosterSet(s, "<item jid='bob@localhost' name='B'/>")).attrs.type).toBe("result");
  });
});

describe("roster remove (RFC 6121 §2.5)", () => {
  it("removes the item and pushes subscription='remove'", async () => {
    const { phone, store } = await setup();
    await rosterGet(phone);
    await rosterSet(phone, "<item jid='bob@localhost'/>");
    phone.take();
    const result = await rosterSet(phone, "<item jid='bob@localhost' subscription='remove'/>");
    expect(result.attrs.type).toBe("result");
    const push = phone.take(isPush)[0]!;
    expect(push.getChild("query", NS)!.getChild("item")!.attrs).toMatchObject({ jid: "bob@localhost", subscription: "remove" });
    expect(await store.roster.get("alice@localhost", "bob@localhost")).toBeUndefined();
  });

  it("answers item-not-found for an unknown item", async () => {
    const { phone } = await setup();
    const result = await rosterSet(phone, "<item jid='nobody@localhost' subscription='remove'/>");
    expect(errorCondition(result)).toBe("item-not-found");
  });

  it.each([
    ["both", ["unsubscribe", "unsubscribed"]],
    ["to", ["unsubscribe"]],
    ["from", ["unsubscribed"]],
    ["none", []],
  ] as const)("with subscription %s cancels it towards the contact", async (subscription, expected) => {
    const { host, store, phone, login } = await setup();
    const bob = await login("bob@localhost/pc");
    await store.roster.put("alice@localhost", { jid: "bob@localhost", groups: [], subscription, askOut: false, askIn: false, approved: false, inRoster: true });
    const seen: string[] = [];
    host.hooks.on("presence/bare", (ev) => {
      if (ev.to.bare === "bob@localhost") seen.push(`${ev.stanza.attrs.type} ${ev.stanza.attrs.from}`);
      return true;
    });
    await rosterSet(phone, "<item jid='bob@localhost' subscription='remove'/>");
    expect(seen.sort()).toEqual(expected.map((t) => `${t} alice@localhost`).sort());
    expect(bob.sent).toHaveLength(0);
  });
});
