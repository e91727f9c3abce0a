import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { loadModule } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { privateModule } from "./index.js";

const NS = "jabber:iq:private";
let t: TestHost;
afterEach(async () => t?.stop());

let n = 0;
async function send(session: FakeSession, type: "get" | "set", body: string, to?: string): Promise<Element> {
  const id = `p${++n}`;
  await session.sendAsClient(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ""}><query xmlns='${NS}'>${body}</query></iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

const condition = (iq: Element) => iq.getChild("error")?.getChildElements().find((c) => c.name !== "text")?.name;
const stored = (iq: Element) => iq.getChild("query", NS)!.getChildElements().map((c) => c.toString());

const BOOKMARKS = "<storage xmlns='storage:bookmarks'><conference jid='council@conference.localhost' autojoin='true' name='Council'><nick>alice</nick></conference></storage>";

describe("private XML storage", () => {
  it("returns the requested empty element before anything is stored, then what was stored (with and without 'to')", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    const empty = await send(alice, "get", "<storage xmlns='storage:bookmarks'/>");
    expect(empty.attrs.type).toBe("result");
    expect(stored(empty)).toEqual(['<storage xmlns="storage:bookmarks"/>']);

    expect((await send(alice, "set", BOOKMARKS)).attrs.type).toBe("result");
    const back = await send(alice, "get", "<storage xmlns='storage:bookmarks'/>", "alice@localhost");
    expect(back.attrs.from).toBe("alice@localhost");
    const storage = back.getChild("query", NS)!.getChild("storage", "storage:bookmarks")!;
    expect(storage.getChild("conference")!.attrs).toMatchObject({ jid: "council@conference.localhost", autojoin: "true" });
    expect(storage.getChild("conference")!.getChildText("nick")).toBe("alice");
    expect(t.host.disco.hostFeatures.has(NS)).toBe(true);
    expect(t.host.disco.accountFeatures.has(NS)).toBe(true);
  });

  it("keys by namespace: a set replaces that namespace only, and may carry several namespaces and several elements of one", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    await send(alice, "set", "<prefs xmlns='urn:example:prefs'><a>1</a></prefs><notes xmlns='storage:rosternotes'/>");
    await send(alice, "set", "<prefs xmlns='urn:example:prefs'><a>2</a></prefs><more xmlns='urn:example:prefs'/>");
    expect(stored(await send(alice, "get", "<prefs xmlns='urn:example:prefs'/>"))).toEqual([
      '<prefs xmlns="urn:example:prefs"><a>2</a></prefs>',
      '<more xmlns="urn:example:prefs"/>',
    ]);
    // asked for by another element name in the same namespace: still that namespace's data
    expect(stored(await send(alice, "get", "<anything xmlns='storage:rosternotes'/>"))).toEqual(['<notes xmlns="storage:rosternotes"/>']);
    expect(await t.store.privateXml.count("alice@localhost")).toBe(2);
  });

  it("accepts an element whose prefix is declared on itself, and refuses one that relies on the query's declaration", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    expect((await send(alice, "set", "<b:storage xmlns:b='storage:bookmarks'><b:url/></b:storage>")).attrs.type).toBe("result");
    expect(stored(await send(alice, "get", "<storage xmlns='storage:bookmarks'/>"))).toEqual(['<b:storage xmlns:b="storage:bookmarks"><b:url/></b:storage>']);
    const id = "prefix";
    await alice.sendAsClient(`<iq type='set' id='${id}'><query xmlns='${NS}' xmlns:q='urn:example:q'><q:data/></query></iq>`);
    expect(condition(await alice.waitFor((el) => el.attrs.id === id))).toBe("not-acceptable");
    expect(await t.store.privateXml.get("alice@localhost", "urn:example:q")).toBeUndefined();
  });

  it("refuses an empty query and payloads without a namespace of their own with not-acceptable", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    for (const type of ["get", "set"] as const) {
      expect(condition(await send(alice, type, ""))).toBe("not-acceptable");
      expect(condition(await send(alice, type, "<storage/>"))).toBe("not-acceptable");
      expect(condition(await send(alice, type, "<storage xmlns=''/>"))).toBe("not-acceptable");
      expect(condition(await send(alice, type, `<query xmlns='${NS}'/>`))).toBe("not-acceptable");
      expect(condition(await send(alice, type, "<message xmlns='jabber:client'/>"))).toBe("not-acceptable");
    }
    // all or nothing: a good payload next to a bad one is not stored either
    expect(condition(await send(alice, "set", "<ok xmlns='urn:example:ok'/><bad/>"))).toBe("not-acceptable");
    expect(await t.store.privateXml.count("alice@localhost")).toBe(0);
  });

  it("refuses a get naming more than one namespace with bad-request", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    const iq = await send(alice, "get", "<a xmlns='urn:example:a'/><b xmlns='urn:example:b'/>");
    expect(condition(iq)).toBe("bad-request");
  });

  it("refuses another user's storage with forbidden and leaves it untouched; the server domain does not answer", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    const mallory = await t.login("mallory@localhost/m");
    await send(alice, "set", BOOKMARKS);
    const read = await send(mallory, "get", "<storage xmlns='storage:bookmarks'/>", "alice@localhost");
    expect(condition(read)).toBe("forbidden");
    expect(read.getChild("query", NS)?.getChild("storage")?.getChild("conference")).toBeUndefined();
    expect(condition(await send(mallory, "set", "<storage xmlns='storage:bookmarks'/>", "alice@localhost"))).toBe("forbidden");
    expect(await t.store.privateXml.get("alice@localhost", "storage:bookmarks")).toContain("Council");
    expect(await t.store.privateXml.count("mallory@localhost")).toBe(0);
    expect(condition(await send(alice, "get", "<storage xmlns='storage:bookmarks'/>", "localhost"))).toBe("service-unavailable");
  });

  it("leaves a query to a full JID to that client", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    const other = await t.login("alice@localhost/b");
    await other.sendAsClient(`<iq type='get' id='full' to='alice@localhost/a'><query xmlns='${NS}'><x xmlns='urn:example:x'/></query></iq>`);
    expect((await alice.waitFor((el) => el.attrs.id === "full")).attrs).toMatchObject({ type: "get", from: "alice@localhost/b" });
  });

  it("refuses a payload above maxBytes with not-acceptable and keeps the old one", async () => {
    t = await createTestHost([[privateModule, { maxBytes: 200 }]]);
    const alice = await t.login("alice@localhost/a");
    await send(alice, "set", BOOKMARKS);
    const iq = await send(alice, "set", `<storage xmlns='storage:bookmarks'><url url='${"x".repeat(300)}'/></storage>`);
    expect(condition(iq)).toBe("not-acceptable");
    expect(iq.getChild("error")!.getChildText("text")).toMatch(/200 bytes/);
    expect(await t.store.privateXml.get("alice@localhost", "storage:bookmarks")).toContain("Council");
  });

  it("refuses a new namespace past maxNamespaces with policy-violation, and still replaces held ones", async () => {
    t = await createTestHost([[privateModule, { maxNamespaces: 2 }]]);
    const alice = await t.login("alice@localhost/a");
    await send(alice, "set", "<a xmlns='urn:example:a'/>");
    await send(alice, "set", "<b xmlns='urn:example:b'/>");
    const iq = await send(alice, "set", "<c xmlns='urn:example:c'/>");
    expect(condition(iq)).toBe("policy-violation");
    expect(iq.getChild("error")!.getChildText("text")).toMatch(/2 namespaces/);
    expect(await t.store.privateXml.get("alice@localhost", "urn:example:c")).toBeUndefined();
    expect((await send(alice, "set", "<b xmlns='urn:example:b'>again</b>")).attrs.type).toBe("result");
    expect(await t.store.privateXml.get("alice@localhost", "urn:example:b")).toContain("again");
  });

  it("answers a corrupt stored row as if nothing was stored", async () => {
    t = await createTestHost([privateModule]);
    const alice = await t.login("alice@localhost/a");
    await t.store.privateXml.set("alice@localhost", [{ namespace: "storage:bookmarks", xml: "<storage xmlns='storage:bookmarks'" }], 10);
    expect(stored(await send(alice, "get", "<storage xmlns='storage:bookmarks'/>"))).toEqual(['<storage xmlns="storage:bookmarks"/>']);
  });

  it("rejects limits that are not positive integers", async () => {
    t = await createTestHost([]);
    await expect(loadModule(t.host, privateModule, { maxBytes: 0 })).rejects.toThrow(/private.maxBytes/);
    await expect(loadModule(t.host, privateModule, { maxNamespaces: 1.5 })).rejects.toThrow(/private.maxNamespaces/);
  });
});
