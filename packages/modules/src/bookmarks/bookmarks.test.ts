import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { presenceModule } from "../presence/index.js";
import { rosterModule } from "../roster/index.js";
import { discoModule } from "../disco/index.js";
import { privateModule } from "../private/index.js";
import { capsModule } from "../caps/index.js";
import { DISCO, announce } from "../caps/test-helpers.js";
import { pepModule } from "../pep/index.js";
import { bookmarksCompatModule } from "./index.js";

const NS = "urn:xmpp:bookmarks:1";
const EVENT = "http://jabber.org/protocol/pubsub#event";
let t: TestHost;
afterEach(async () => t?.stop());

let n = 0;
async function iq(s: FakeSession, body: string, type = "set"): Promise<Element> {
  const id = `b${++n}`;
  await s.sendAsClient(`<iq type='${type}' id='${id}'>${body}</iq>`);
  const answer = await s.waitFor((el) => el.name === "iq" && el.attrs.id === id);
  expect(answer.attrs.type, answer.toString()).toBe("result");
  return answer;
}
const legacy = (inner: string) => `<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>${inner}</storage></query>`;
const pepItems = async (s: FakeSession) =>
  (await iq(s, `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='${NS}'/></pubsub>`, "get")).getChild("pubsub")!.getChild("items")!.getChildren("item");

describe("bookmarks conversion (XEP-0411)", () => {
  it("mirrors legacy private-XML bookmarks to the PEP node and notifies, keeping the node private", async () => {
    t = await createTestHost([rosterModule, presenceModule, discoModule, privateModule, capsModule, pepModule, bookmarksCompatModule]);
    const old = await t.login("alice@localhost/old");
    const modern = await t.login("alice@localhost/modern");
    await announce(modern, [DISCO, `${NS}+notify`]);
    await iq(old, legacy("<conference jid='a@conf.localhost' name='A' autojoin='true'><nick>al</nick></conference><conference jid='b@conf.localhost'/><url name='x' url='https://x.example/'/>"));
    const items = await pepItems(modern);
    expect(items.map((i) => i.attrs.id)).toEqual(["a@conf.localhost", "b@conf.localhost"]);
    const a = items[0]!.getChild("conference", NS)!;
    expect([a.attrs.name, a.attrs.autojoin, a.getChildText("nick")]).toEqual(["A", "true", "al"]);
    expect(modern.take((el) => el.name === "message" && el.getChild("event", EVENT) !== undefined)).toHaveLength(2);
    expect(await t.store.pep.node("alice@localhost", NS)).toMatchObject({ accessModel: "whitelist", sendLastPublishedItem: "never" });

    // a room dropped from the legacy list is retracted, with a notification
    await iq(old, legacy("<conference jid='a@conf.localhost' name='A' autojoin='true'><nick>al</nick></conference>"));
    expect((await pepItems(modern)).map((i) => i.attrs.id)).toEqual(["a@conf.localhost"]);
    const retract = await modern.waitFor((el) => el.getChild("event", EVENT)?.getChild("items")?.getChild("retract") !== undefined);
    expect(retract.getChild("event", EVENT)!.getChild("items")!.getChild("retract")!.attrs.id).toBe("b@conf.localhost");
    const info = await iq(old, "<query xmlns='http://jabber.org/protocol/disco#info'/>", "get");
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(`${NS}#compat`);
  });

  it("rewrites the legacy bookmarks from the PEP node, keeping their urls", async () => {
    t = await createTestHost([rosterModule, presenceModule, discoModule, privateModule, capsModule, pepModule, bookmarksCompatModule]);
    const old = await t.login("alice@localhost/old");
    await iq(old, legacy("<url name='x' url='https://x.example/'/>"));
    const publish = (id: string, inner: string) =>
      `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${NS}'><item id='${id}'><conference xmlns='${NS}' name='C' autojoin='1'>${inner}</conference></item></publish></pubsub>`;
    await iq(old, publish("c@conf.localhost", "<nick>cc</nick><extensions><x xmlns='urn:example:ext'/></extensions>"));
    await iq(old, publish("d@conf.localhost", ""));
    const read = async () => (await iq(old, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>", "get")).getChild("query")!.getChild("storage", "storage:bookmarks")!;
    let storage = await read();
    expect(storage.getChildren("conference").map((c) => [c.attrs.jid, c.attrs.autojoin, c.getChildText("nick")])).toEqual([
      ["c@conf.localhost", "true", "cc"],
      ["d@conf.localhost", "true", null],
    ]);
    expect(storage.getChild("url")!.attrs.url).toBe("https://x.example/");
    await iq(old, `<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='${NS}'><item id='d@conf.localhost'/></retract></pubsub>`);
    storage = await read();
    expect(storage.getChildren("conference").map((c) => c.attrs.jid)).toEqual(["c@conf.localhost"]);
    // the legacy side rewriting a room keeps the extensions the modern side put there
    await iq(old, legacy("<conference jid='c@conf.localhost' name='C2' autojoin='false'/>"));
    const [c] = await pepItems(old);
    expect(c!.getChild("conference", NS)!.attrs.name).toBe("C2");
    expect(c!.getChild("conference", NS)!.getChild("extensions")!.getChild("x", "urn:example:ext")).toBeDefined();
  });
});
