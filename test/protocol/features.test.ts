/** Offline storage, disco, ping, version, vCard, blocking and carbons through a real client. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { offlinePerUser: 3 }, contact: { abuse: ["mailto:abuse@localhost", "xmpp:abuse@localhost"] } });
  for (const u of ["sender", "sleeper", "full", "carla", "viv", "blocker", "pest", "quiet"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

const body = (el: { getChildText(n: string): string | null }) => el.getChildText("body");

describe("offline messages (XEP-0160)", () => {
  it("stores chat messages for an offline user and delivers them with a delay stamp, in order", async () => {
    const s = await connect(ts, "sender", { resource: "a" });
    for (const text of ["one", "two"]) await s.send(xml("message", { to: "sleeper@localhost", type: "chat" }, xml("body", {}, text)));
    await s.send(xml("message", { to: "sleeper@localhost", type: "headline" }, xml("body", {}, "headline")));
    await s.iq(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    const z = await connect(ts, "sleeper", { resource: "z" });
    await z.send(xml("presence"));
    const two = await z.waitFor((el) => el.name === "message" && body(el) === "two");
    const msgs = z.received.filter((el) => el.name === "message");
    expect(msgs.map(body)).toEqual(["one", "two"]);
    const delay = two.getChild("delay", "urn:xmpp:delay");
    expect(delay?.attrs.from).toBe("localhost");
    expect(delay?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    await z.expectNone((el) => body(el) === "headline");
    await Promise.all([s.stop(), z.stop()]);
  });

  it("bounces messages past the per-user cap instead of dropping them", async () => {
    const s = await connect(ts, "sender", { resource: "cap" });
    for (let i = 0; i < 4; i++) await s.send(xml("message", { to: "full@localhost", type: "chat", id: `c${i}` }, xml("body", {}, `m${i}`)));
    const err = await s.waitFor((el) => el.name === "message" && el.attrs.type === "error" && el.attrs.id === "c3");
    expect(err.getChild("error")?.getChild("resource-constraint")).toBeTruthy();
    await s.expectNone((el) => el.attrs.type === "error" && el.attrs.id !== "c3");
    await s.stop();
  });
});

describe("service discovery, ping, version", () => {
  it("lists the server's features", async () => {
    const c = await connect(ts, "viv", { resource: "d" });
    const info = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    for (const ns of ["http://jabber.org/protocol/disco#info", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:blocking", "urn:xmpp:carbons:2", "vcard-temp", "msgoffline"]) {
      expect(features).toContain(ns);
    }
    expect(info.getChild("query")!.getChild("identity")?.attrs).toMatchObject({ category: "server", type: "im" });
    // XEP-0157 from the contact.* settings
    const form = info.getChild("query")!.getChild("x", "jabber:x:data");
    const abuse = form?.getChildren("field").find((f) => f.attrs.var === "abuse-addresses");
    expect(abuse?.getChildren("value").map((v) => v.text())).toEqual(["mailto:abuse@localhost", "xmpp:abuse@localhost"]);
    const version = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "jabber:iq:version" })));
    expect(version.getChild("query")?.getChildText("name")).toBe("Switchboard");
    await c.stop();
  });

  it("answers an unknown IQ with service-unavailable", async () => {
    const c = await connect(ts, "viv", { resource: "u" });
    await expect(c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "urn:example:unknown" })))).rejects.toThrow(/service-unavailable/);
    await c.stop();
  });
});

describe("vCard (XEP-0054)", () => {
  it("stores the user's vCard and serves it to others", async () => {
    const c = await connect(ts, "viv", { resource: "v" });
    await c.iq(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("FN", {}, "Viv Test"))));
    const mine = await c.iq(xml("iq", { type: "get" }, xml("vCard", { xmlns: "vcard-temp" })));
    expect(mine.getChild("vCard")?.getChildText("FN")).toBe("Viv Test");
    const other = await connect(ts, "carla", { resource: "v" });
    const theirs = await other.iq(xml("iq", { type: "get", to: "viv@localhost" }, xml("vCard", { xmlns: "vcard-temp" })));
    expect(theirs.getChild("vCard")?.getChildText("FN")).toBe("Viv Test");
    await Promise.all([c.stop(), other.stop()]);
  });
});

describe("blocking (XEP-0191)", () => {
  it("blocks a JID both ways and unblocks it", async () => {
    const b = await connect(ts, "blocker", { resource: "b" });
    const p = await connect(ts, "pest", { resource: "p" });
    await b.send(xml("presence"));
    await b.iq(xml("iq", { type: "set" }, xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "pest@localhost" }))));
    const list = await b.iq(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
    expect(list.getChild("blocklist")?.getChildren("item").map((i) => i.attrs.jid)).toEqual(["pest@localhost"]);
    await p.send(xml("message", { to: "blocker@localhost/b", type: "chat", id: "x1" }, xml("body", {}, "spam")));
    await p.waitFor((el) => el.attrs.type === "error" && el.attrs.id === "x1");
    await b.expectNone((el) => body(el) === "spam");
    await b.send(xml("message", { to: "pest@localhost/p", type: "chat", id: "x2" }, xml("body", {}, "hey")));
    const err = await b.waitFor((el) => el.attrs.type === "error" && el.attrs.id === "x2");
    expect(err.getChild("error")?.getChild("not-acceptable")).toBeTruthy();
    await b.iq(xml("iq", { type: "set" }, xml("unblock", { xmlns: "urn:xmpp:blocking" })));
    await p.send(xml("message", { to: "blocker@localhost/b", type: "chat" }, xml("body", {}, "hello again")));
    await b.waitFor((el) => body(el) === "hello again");
    await Promise.all([b.stop(), p.stop()]);
  });

  it("pushes a block made elsewhere to a resource that fetched only the blocklist (§3.3)", async () => {
    const desk = await connect(ts, "blocker", { resource: "desk" });
    const phone = await connect(ts, "blocker", { resource: "phone" }); // no roster, only the blocklist
    const idle = await connect(ts, "blocker", { resource: "idle" }); // fetched neither
    await phone.iq(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
    await desk.iq(xml("iq", { type: "set" }, xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "spam@example.org" }))));
    const push = await phone.waitFor((el) => el.name === "iq" && el.attrs.type === "set" && el.getChild("block", "urn:xmpp:blocking") !== undefined);
    expect(push.getChild("block")?.getChildren("item").map((i) => i.attrs.jid)).toEqual(["spam@example.org"]);
    await idle.expectNone((el) => el.getChild("block", "urn:xmpp:blocking") !== undefined);
    await desk.iq(xml("iq", { type: "set" }, xml("unblock", { xmlns: "urn:xmpp:blocking" })));
    await phone.waitFor((el) => el.getChild("unblock", "urn:xmpp:blocking") !== undefined);
    await Promise.all([desk.stop(), phone.stop(), idle.stop()]);
  });
});

describe("chat states to an unavailable contact (XEP-0085)", () => {
  it("are neither bounced nor stored, while a message with a body is stored", async () => {
    const s = await connect(ts, "sender", { resource: "cs" });
    await s.send(xml("message", { to: "quiet@localhost", type: "chat", id: "cs1" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await s.send(xml("message", { to: "quiet@localhost/gone", type: "chat", id: "cs2" }, xml("gone", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await s.send(xml("message", { to: "quiet@localhost", type: "chat", id: "cs3" }, xml("body", {}, "see you"), xml("active", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await s.expectNone((el) => el.attrs.type === "error");
    expect(await ts.server.host.store.offline.count("quiet@localhost")).toBe(1);
    const q = await connect(ts, "quiet", { resource: "q" });
    await q.send(xml("presence"));
    await q.waitFor((el) => body(el) === "see you");
    await q.expectNone((el) => el.getChild("composing") !== undefined || el.getChild("gone") !== undefined);
    await Promise.all([s.stop(), q.stop()]);
  });
});

describe("carbons (XEP-0280)", () => {
  it("copies sent and received chats to the user's other resources", async () => {
    const phone = await connect(ts, "carla", { resource: "phone" });
    const desk = await connect(ts, "carla", { resource: "desk", transport: "websocket" });
    const friend = await connect(ts, "viv", { resource: "f" });
    for (const c of [phone, desk]) {
      await c.iq(xml("iq", { type: "set" }, xml("enable", { xmlns: "urn:xmpp:carbons:2" })));
      await c.send(xml("presence"));
    }
    // each resource sees the other come online before the test goes on (the two may sit on
    // different edges, where the other's state arrives a moment later)
    await phone.waitFor((el) => el.name === "presence" && el.attrs.from === "carla@localhost/desk");
    await desk.waitFor((el) => el.name === "presence" && el.attrs.from === "carla@localhost/phone");
    await phone.send(xml("message", { to: "viv@localhost/f", type: "chat" }, xml("body", {}, "sent from phone")));
    const sent = await desk.waitFor((el) => !!el.getChild("sent", "urn:xmpp:carbons:2"));
    expect(sent.getChild("sent")?.getChild("forwarded")?.getChild("message")?.getChildText("body")).toBe("sent from phone");
    await friend.waitFor((el) => body(el) === "sent from phone");
    await friend.send(xml("message", { to: "carla@localhost/phone", type: "chat" }, xml("body", {}, "reply")));
    const received = await desk.waitFor((el) => !!el.getChild("received", "urn:xmpp:carbons:2"));
    expect(received.getChild("received")?.getChild("forwarded")?.getChild("message")?.getChildText("body")).toBe("reply");
    await phone.waitFor((el) => body(el) === "reply");
    await Promise.all([phone.stop(), desk.stop(), friend.stop()]);
  });
});
