/**
 * XEP-0313 message archive management with XEP-0359 stanza-ids, through real clients: both
 * parties' archives, RSM paging both ways, filters, preferences, XEP-0424 retraction, and the
 * errors bad queries get. In cluster mode the parties sit on different edges and the archive is
 * PostgreSQL (a fresh database per run, test/support/backends.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";
const SID = "urn:xmpp:sid:0";
const FORWARD = "urn:xmpp:forward:0";
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

type Field = [string, string | string[]];
function mamQuery(opts: { fields?: Field[]; set?: Element; queryid?: string; to?: string; flip?: boolean } = {}): Element {
  const children: Element[] = [];
  if (opts.fields) {
    children.push(
      xml(
        "x",
        { xmlns: "jabber:x:data", type: "submit" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, MAM)),
        ...opts.fields.map(([name, v]) => xml("field", { var: name }, ...(Array.isArray(v) ? v : [v]).map((value) => xml("value", {}, value)))),
      ),
    );
  }
  if (opts.set) children.push(opts.set);
  if (opts.flip) children.push(xml("flip-page"));
  return xml("iq", { type: "set", to: opts.to }, xml("query", { xmlns: MAM, queryid: opts.queryid }, ...children));
}
const rsm = (...children: Element[]) => xml("set", { xmlns: RSM }, ...children);
const max = (n: number | string) => xml("max", {}, String(n));

let queries = 0;
/** runs a query and collects its result messages (matched by queryid) and the <fin/> */
async function query(client: TestClient, opts: Parameters<typeof mamQuery>[0] = {}): Promise<{ bodies: string[]; ids: string[]; results: Element[]; fin: Element }> {
  const queryid = `q${queries++}`;
  const start = client.received.length;
  const response = await client.iq(mamQuery({ ...opts, queryid }));
  const results = client.received.slice(start).filter((el) => el.name === "message" && el.getChild("result", MAM)?.attrs.queryid === queryid);
  const inner = (el: Element) => el.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!;
  return {
    bodies: results.map((el) => inner(el).getChildText("body") ?? ""),
    ids: results.map((el) => el.getChild("result", MAM)!.attrs.id!),
    results,
    fin: response.getChild("fin", MAM)!,
  };
}

/**
 * Archiving is asynchronous (the delivery path never waits on it), and in a cluster the
 * sender's edge writes both copies: a query on another edge sees them a moment later. Waits
 * until `client`'s archive holds at least `count` messages.
 */
async function archived(client: TestClient, count: number, fields?: Field[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { fin } = await query(client, { fields, set: rsm(max(0)) });
    if (Number(fin.getChild("set", RSM)?.getChildText("count")) >= count) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`${client.jid}'s archive never reached ${count} messages`);
}

async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

const chat = (to: string, body: string, extra: Element[] = [], id?: string) => xml("message", { to, type: "chat", id }, xml("body", {}, body), ...extra);
const isBody = (body: string) => (el: Element) => el.name === "message" && el.getChildText("body") === body;

/** sends `count` messages and waits until the receiver has them all (so they are archived) */
async function converse(from: TestClient, to: TestClient, toJid: string, bodies: string[]): Promise<void> {
  for (const b of bodies) await from.send(chat(toJid, b));
  await to.waitFor(isBody(bodies.at(-1)!));
}

describe("message archive (XEP-0313)", () => {
  it("advertises the archive and stanza-ids on the account, and answers the form", async () => {
    const alice = await connect(ts, "alice", { resource: "disco" });
    const info = await alice.iq(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining([MAM, `${MAM}#extended`, SID]));
    const form = await alice.iq(xml("iq", { type: "get" }, xml("query", { xmlns: MAM })));
    const vars = form.getChild("query", MAM)!.getChild("x", "jabber:x:data")!.getChildren("field").map((f) => f.attrs.var);
    expect(vars).toEqual(["FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"]);
    await alice.stop();
  });

  it("keeps both parties' copies, stamps the receiver's with a stanza-id its archive answers with", async () => {
    const alice = await connect(ts, "alice", { resource: "a" });
    const bob = await connect(ts, "bob", { resource: "b" });
    await alice.send(chat("bob@localhost/b", "hello bob", [], "m-1"));
    const got = await bob.waitFor(isBody("hello bob"));
    const sid = got.getChild("stanza-id", SID);
    expect(sid?.attrs.by).toBe("bob@localhost");
    await bob.send(chat("alice@localhost/a", "hi alice"));
    await alice.waitFor(isBody("hi alice"));

    await archived(bob, 2);
    await archived(alice, 2);
    const bobs = await query(bob);
    expect(bobs.bodies).toEqual(["hello bob", "hi alice"]);
    expect(bobs.ids[0]).toBe(sid!.attrs.id);
    const first = bobs.results[0]!.getChild("result", MAM)!.getChild("forwarded", FORWARD)!;
    expect(first.getChild("delay", "urn:xmpp:delay")?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(first.getChild("message")?.attrs).toMatchObject({ from: "alice@localhost/a", id: "m-1" });
    expect(bobs.fin.attrs.complete).toBe("true");
    expect(bobs.fin.getChild("set", RSM)?.getChildText("count")).toBe("2");
    expect(bobs.fin.getChild("set", RSM)?.getChildText("first")).toBe(bobs.ids[0]);
    expect(bobs.fin.getChild("set", RSM)?.getChildText("last")).toBe(bobs.ids[1]);
    expect((await query(alice)).bodies).toEqual(["hello bob", "hi alice"]);
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it("archives a message to an offline contact, and not chat states, headlines or errors", async () => {
    const carol = await connect(ts, "carol", { resource: "c" });
    await carol.send(chat("dave@localhost", "while you were out"));
    await carol.send(xml("message", { to: "dave@localhost", type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await carol.send(xml("message", { to: "dave@localhost", type: "headline" }, xml("body", {}, "news")));
    await carol.send(chat("dave@localhost", "last"));
    const dave = await connect(ts, "dave", { resource: "d" });
    await dave.send(xml("presence"));
    await dave.waitFor(isBody("last"));
    await archived(dave, 2);
    await archived(carol, 2, [["with", "dave@localhost"]]);
    expect((await query(dave)).bodies).toEqual(["while you were out", "last"]);
    expect((await query(carol, { fields: [["with", "dave@localhost"]] })).bodies).toEqual(["while you were out", "last"]);
    await Promise.all([carol.stop(), dave.stop()]);
  });

  it("pages forward with <after>, backward with <before/> and <before>id</before>, and flips a page", async () => {
    const erin = await connect(ts, "erin", { resource: "e" });
    const frank = await connect(ts, "frank", { resource: "f" });
    const bodies = Array.from({ length: 12 }, (_, i) => `n${i}`);
    await converse(erin, frank, "frank@localhost/f", bodies);

    await archived(frank, 12);
    const page1 = await query(frank, { set: rsm(max(5)) });
    expect(page1.bodies).toEqual(bodies.slice(0, 5));
    expect(page1.fin.attrs.complete).toBeUndefined();
    expect(page1.fin.getChild("set", RSM)?.getChildText("count")).toBe("12");
    const page2 = await query(frank, { set: rsm(max(5), xml("after", {}, page1.ids.at(-1)!)) });
    expect(page2.bodies).toEqual(bodies.slice(5, 10));
    const page3 = await query(frank, { set: rsm(max(5), xml("after", {}, page2.ids.at(-1)!)) });
    expect(page3.bodies).toEqual(bodies.slice(10));
    expect(page3.fin.attrs.complete).toBe("true");

    const last = await query(frank, { set: rsm(max(4), xml("before")) });
    expect(last.bodies).toEqual(bodies.slice(8));
    expect(last.fin.attrs.complete).toBeUndefined();
    const before = await query(frank, { set: rsm(max(4), xml("before", {}, last.ids[0]!)) });
    expect(before.bodies).toEqual(bodies.slice(4, 8));
    const oldest = await query(frank, { set: rsm(max(4), xml("before", {}, before.ids[0]!)) });
    expect(oldest.bodies).toEqual(bodies.slice(0, 4));
    expect(oldest.fin.attrs.complete).toBe("true");
    const flipped = await query(frank, { set: rsm(max(3), xml("before")), flip: true });
    expect(flipped.bodies).toEqual(["n11", "n10", "n9"]);

    // count only: <max>0</max>
    const counted = await query(frank, { set: rsm(max(0)) });
    expect(counted.bodies).toEqual([]);
    expect(counted.fin.getChild("set", RSM)?.getChildText("count")).toBe("12");
    await Promise.all([erin.stop(), frank.stop()]);
  });

  it("filters by with (bare and full), start/end, after-id/before-id and ids", async () => {
    const gina = await connect(ts, "gina", { resource: "g" });
    const alice = await connect(ts, "alice", { resource: "w1" });
    const bob = await connect(ts, "bob", { resource: "w2" });
    await converse(alice, gina, "gina@localhost/g", ["from alice 1"]);
    await converse(bob, gina, "gina@localhost/g", ["from bob 1"]);
    await converse(alice, gina, "gina@localhost/g", ["from alice 2"]);
    await archived(gina, 3);
    expect((await query(gina, { fields: [["with", "alice@localhost"]] })).bodies).toEqual(["from alice 1", "from alice 2"]);
    expect((await query(gina, { fields: [["with", "bob@localhost/w2"]] })).bodies).toEqual(["from bob 1"]);
    expect((await query(gina, { fields: [["with", "bob@localhost/other"]] })).bodies).toEqual([]);

    const all = await query(gina);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await query(gina, { fields: [["start", future]] })).bodies).toEqual([]);
    expect((await query(gina, { fields: [["end", future], ["start", "2020-01-01T00:00:00Z"]] })).bodies).toHaveLength(3);
    expect((await query(gina, { fields: [["end", "2020-01-01T00:00:00+01:00"]] })).bodies).toEqual([]);
    expect((await query(gina, { fields: [["after-id", all.ids[0]!]] })).bodies).toEqual(["from bob 1", "from alice 2"]);
    expect((await query(gina, { fields: [["after-id", all.ids[0]!], ["before-id", all.ids[2]!]] })).bodies).toEqual(["from bob 1"]);
    expect((await query(gina, { fields: [["ids", [all.ids[2]!, all.ids[0]!]]] })).bodies).toEqual(["from alice 1", "from alice 2"]);
    await Promise.all([gina.stop(), alice.stop(), bob.stop()]);
  });

  it("answers bad queries with the XEP's errors", async () => {
    const alice = await connect(ts, "alice", { resource: "bad" });
    await converse(alice, alice, "alice@localhost/bad", ["note to self"]);
    await archived(alice, 1, [["with", "alice@localhost"]]);
    const own = await query(alice);
    expect(own.bodies).toContain("note to self");
    // malformed dates (XEP-0082) and JIDs
    expect(await refusal(alice.iq(mamQuery({ fields: [["start", "yesterday"]] })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ fields: [["end", "2026-13-01T00:00:00Z"]] })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ fields: [["start", "2026-01-01"]] })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ fields: [["with", "@@bad"]] })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ fields: [["start", "2026-02-01T00:00:00Z"], ["end", "2026-01-01T00:00:00Z"]] })))).toBe("bad-request");
    // §4.1.5: a field the server does not know
    expect(await refusal(alice.iq(mamQuery({ fields: [["{urn:example}full-text", "x"]] })))).toBe("feature-not-implemented");
    // RSM: <max> not a number, <index>, unknown ids
    expect(await refusal(alice.iq(mamQuery({ set: rsm(max("lots")) })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ set: rsm(max(-1)) })))).toBe("bad-request");
    expect(await refusal(alice.iq(mamQuery({ set: rsm(max(5), xml("index", {}, "3")) })))).toBe("feature-not-implemented");
    expect(await refusal(alice.iq(mamQuery({ set: rsm(xml("after", {}, "no-such-id")) })))).toBe("item-not-found");
    expect(await refusal(alice.iq(mamQuery({ set: rsm(xml("before", {}, "no-such-id")) })))).toBe("item-not-found");
    expect(await refusal(alice.iq(mamQuery({ fields: [["after-id", "no-such-id"]] })))).toBe("item-not-found");
    expect(await refusal(alice.iq(mamQuery({ fields: [["ids", ["no-such-id"]]] })))).toBe("item-not-found");
    // another account's archive
    expect(await refusal(alice.iq(mamQuery({ to: "bob@localhost" })))).toBe("forbidden");
    expect(await refusal(alice.iq(xml("iq", { type: "get", to: "bob@localhost" }, xml("prefs", { xmlns: MAM }))))).toBe("forbidden");
    // a huge <max> is clamped to the documented page (250), not refused
    const huge = await query(alice, { set: rsm(max(1_000_000_000)) });
    expect(huge.fin.getChild("set", RSM)).toBeTruthy();
    await alice.stop();
  });

  it("strips a stanza-id a client forged with our domain as 'by', keeps a foreign one", async () => {
    const carol = await connect(ts, "carol", { resource: "forge" });
    const dave = await connect(ts, "dave", { resource: "forge" });
    await carol.send(
      chat("dave@localhost/forge", "forged", [xml("stanza-id", { xmlns: SID, id: "fake", by: "dave@localhost" }), xml("stanza-id", { xmlns: SID, id: "theirs", by: "elsewhere.example" })]),
    );
    const got = await dave.waitFor(isBody("forged"));
    const sids = got.getChildren("stanza-id", SID);
    expect(sids.map((s) => s.attrs.id)).not.toContain("fake");
    expect(sids.map((s) => s.attrs.by).sort()).toEqual(["dave@localhost", "elsewhere.example"]);
    await Promise.all([carol.stop(), dave.stop()]);
  });

  it("follows the preferences: never lists, default never, and always lists", async () => {
    const erin = await connect(ts, "erin", { resource: "p" });
    const gina = await connect(ts, "gina", { resource: "p" });
    const prefs = (dflt: string, always: string[], never: string[]) =>
      xml("iq", { type: "set" }, xml("prefs", { xmlns: MAM, default: dflt }, xml("always", {}, ...always.map((j) => xml("jid", {}, j))), xml("never", {}, ...never.map((j) => xml("jid", {}, j)))));
    const set = await erin.iq(prefs("always", [], ["gina@localhost"]));
    expect(set.getChild("prefs", MAM)?.attrs.default).toBe("always");
    const read = await erin.iq(xml("iq", { type: "get" }, xml("prefs", { xmlns: MAM })));
    expect(read.getChild("prefs", MAM)?.getChild("never")?.getChildText("jid")).toBe("gina@localhost");
    await converse(gina, erin, "erin@localhost/p", ["not kept by erin"]);
    const got = erin.received.find(isBody("not kept by erin"))!;
    expect(got.getChild("stanza-id", SID)).toBeUndefined();
    // both copies are written by gina's edge, in order: once hers is there, erin's would be too
    await archived(gina, 1, [["with", "erin@localhost"]]);
    expect((await query(gina, { fields: [["with", "erin@localhost"]] })).bodies).toEqual(["not kept by erin"]);
    expect((await query(erin, { fields: [["with", "gina@localhost"]] })).bodies).toEqual([]);

    await erin.iq(prefs("never", ["gina@localhost"], []));
    await converse(gina, erin, "erin@localhost/p", ["kept: always list"]);
    await archived(erin, 1, [["with", "gina@localhost"]]);
    expect((await query(erin, { fields: [["with", "gina@localhost"]] })).bodies).toEqual(["kept: always list"]);
    expect(await refusal(erin.iq(xml("iq", { type: "set" }, xml("prefs", { xmlns: MAM, default: "sometimes" }))))).toBe("bad-request");
    await erin.iq(prefs("always", [], []));
    await Promise.all([erin.stop(), gina.stop()]);
  });

  it("replaces a message retracted by its sender (XEP-0424) with a tombstone in both archives", async () => {
    const carol = await connect(ts, "carol", { resource: "r" });
    const frank = await connect(ts, "frank", { resource: "r" });
    await carol.send(chat("frank@localhost/r", "oops, wrong chat", [xml("origin-id", { xmlns: SID, id: "orig-1" })], "wire-1"));
    await frank.waitFor(isBody("oops, wrong chat"));
    const retract = xml("message", { to: "frank@localhost/r", type: "chat" }, xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: "orig-1" }), xml("body", {}, "retracted a message"));
    await carol.send(retract);
    await frank.waitFor(isBody("retracted a message"));
    // the tombstone is written beside delivery: give it a moment
    const tombstoned = async (client: TestClient) => {
      for (let i = 0; i < 50; i++) {
        const page = await query(client, { fields: [["with", client === carol ? "frank@localhost" : "carol@localhost"]] });
        const original = page.results.find((r) => r.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!.attrs.id === "wire-1");
        if (original?.getChild("result", MAM)!.getChild("forwarded", FORWARD)!.getChild("message")!.getChild("retracted", "urn:xmpp:message-retract:1")) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    expect(await tombstoned(frank)).toBe(true);
    expect(await tombstoned(carol)).toBe(true);
    // a retraction by someone else leaves the archive alone
    await frank.send(chat("carol@localhost/r", "mine", [xml("origin-id", { xmlns: SID, id: "frank-1" })]));
    await carol.waitFor(isBody("mine"));
    await carol.send(xml("message", { to: "frank@localhost/r", type: "chat" }, xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: "frank-1" }), xml("body", {}, "not yours")));
    await frank.waitFor(isBody("not yours"));
    await new Promise((r) => setTimeout(r, 200));
    await archived(frank, 4, [["with", "carol@localhost"]]);
    const still = await query(frank, { fields: [["with", "carol@localhost"]] });
    expect(still.bodies).toContain("mine");
    await Promise.all([carol.stop(), frank.stop()]);
  });
});

describe("without an archive (mam.enabled false; a cluster without postgresUrl is the same)", () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ mam: { enabled: false } });
    for (const u of ["alice", "bob"]) await off.addUser(u);
  });
  afterAll(async () => off?.stop());

  it("offers no archive in disco, answers queries with service-unavailable, stamps no stanza-ids", async () => {
    const alice = await connect(off, "alice", { resource: "a" });
    const bob = await connect(off, "bob", { resource: "b" });
    const info = await alice.iq(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).not.toContain(MAM);
    expect(features).not.toContain(SID);
    expect(await refusal(alice.iq(mamQuery()))).toBe("service-unavailable");
    await alice.send(chat("bob@localhost/b", "unarchived", [xml("stanza-id", { xmlns: SID, id: "fake", by: "bob@localhost" })]));
    const got = await bob.waitFor(isBody("unarchived"));
    // forged ids are still removed: the stanza-id module runs without an archive
    expect(got.getChildren("stanza-id", SID)).toEqual([]);
    await Promise.all([alice.stop(), bob.stop()]);
  });
});
