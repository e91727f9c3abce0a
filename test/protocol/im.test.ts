/**
 * RFC 6121 end to end with a third-party client library: messaging, rosters, subscriptions and
 * presence, with the two parties on different transports (TCP+STARTTLS and WebSocket).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
const ROSTER = "jabber:iq:roster";

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["romeo", "juliet", "nurse", "tybalt", "mercutio"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

const isChat = (body: string) => (el: { name: string; getChildText(n: string): string | null }) => el.name === "message" && el.getChildText("body") === body;

describe("messaging", () => {
  it("delivers to a full JID and to a bare JID across transports", async () => {
    const romeo = await connect(ts, "romeo", { resource: "tcp" });
    const juliet = await connect(ts, "juliet", { resource: "ws", transport: "websocket" });
    await juliet.send(xml("presence"));
    await romeo.send(xml("presence"));
    await romeo.send(xml("message", { to: "juliet@localhost/ws", type: "chat" }, xml("body", {}, "to full")));
    const m1 = await juliet.waitFor(isChat("to full"));
    expect(m1.attrs.from).toBe("romeo@localhost/tcp");
    await juliet.send(xml("message", { to: "romeo@localhost", type: "chat" }, xml("body", {}, "to bare")));
    const m2 = await romeo.waitFor(isChat("to bare"));
    expect(m2.attrs.from).toBe("juliet@localhost/ws");
    await Promise.all([romeo.stop(), juliet.stop()]);
  });

  it("delivers a bare-JID message to the highest-priority resource only", async () => {
    const high = await connect(ts, "nurse", { resource: "high" });
    const low = await connect(ts, "nurse", { resource: "low" });
    await high.send(xml("presence", {}, xml("priority", {}, "5")));
    await low.send(xml("presence", {}, xml("priority", {}, "1")));
    const romeo = await connect(ts, "romeo", { resource: "p" });
    await romeo.send(xml("message", { to: "nurse@localhost", type: "chat" }, xml("body", {}, "prio")));
    await high.waitFor(isChat("prio"));
    await low.expectNone(isChat("prio"));
    await Promise.all([high.stop(), low.stop(), romeo.stop()]);
  });

  it("answers a message to an unknown account with service-unavailable", async () => {
    const romeo = await connect(ts, "romeo", { resource: "u" });
    await romeo.send(xml("message", { to: "ghost@localhost", type: "chat", id: "g1" }, xml("body", {}, "boo")));
    const err = await romeo.waitFor((el) => el.name === "message" && el.attrs.type === "error" && el.attrs.id === "g1");
    expect(err.getChild("error")?.getChild("service-unavailable")).toBeTruthy();
    await romeo.stop();
  });

  it("answers a message to a remote domain with remote-server-not-found", async () => {
    const romeo = await connect(ts, "romeo", { resource: "r" });
    await romeo.send(xml("message", { to: "someone@elsewhere.example", type: "chat", id: "r1" }, xml("body", {}, "hi")));
    const err = await romeo.waitFor((el) => el.attrs.type === "error" && el.attrs.id === "r1");
    expect(err.getChild("error")?.getChild("remote-server-not-found")).toBeTruthy();
    await romeo.stop();
  });
});

async function rosterItem(c: TestClient, jid: string) {
  const res = await c.iq(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
  return res.getChild("query")?.getChildren("item").find((i) => i.attrs.jid === jid);
}

describe("roster and subscriptions", () => {
  it("runs the full subscription handshake and shares presence afterwards", async () => {
    const romeo = await connect(ts, "tybalt", { resource: "r" });
    const juliet = await connect(ts, "mercutio", { resource: "j", transport: "websocket" });
    await romeo.iq(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    await juliet.iq(xml("iq", { type: "get" }, xml("query", { xmlns: ROSTER })));
    await romeo.send(xml("presence"));
    await juliet.send(xml("presence"));

    await romeo.iq(xml("iq", { type: "set" }, xml("query", { xmlns: ROSTER }, xml("item", { jid: "mercutio@localhost", name: "Merc" }, xml("group", {}, "Friends")))));
    const push = await romeo.waitFor((el) => el.name === "iq" && el.attrs.type === "set" && !!el.getChild("query", ROSTER));
    expect(push.getChild("query")?.getChild("item")?.attrs).toMatchObject({ jid: "mercutio@localhost", subscription: "none", name: "Merc" });

    await romeo.send(xml("presence", { to: "mercutio@localhost", type: "subscribe" }));
    const req = await juliet.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribe");
    expect(req.attrs.from).toBe("tybalt@localhost");
    expect((await rosterItem(romeo, "mercutio@localhost"))?.attrs.ask).toBe("subscribe");

    await juliet.send(xml("presence", { to: "tybalt@localhost", type: "subscribed" }));
    await romeo.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribed");
    // the contact's current presence follows the approval (RFC 6121 §3.1.5)
    await romeo.waitFor((el) => el.name === "presence" && !el.attrs.type && el.attrs.from === "mercutio@localhost/j");
    expect((await rosterItem(romeo, "mercutio@localhost"))?.attrs.subscription).toBe("to");
    expect((await rosterItem(juliet, "tybalt@localhost"))?.attrs.subscription).toBe("from");

    await juliet.send(xml("presence", {}, xml("status", {}, "in Verona")));
    const p = await romeo.waitFor((el) => el.name === "presence" && el.getChildText("status") === "in Verona");
    expect(p.attrs.from).toBe("mercutio@localhost/j");

    await juliet.stop();
    const gone = await romeo.waitFor((el) => el.name === "presence" && el.attrs.type === "unavailable" && el.attrs.from === "mercutio@localhost/j");
    expect(gone).toBeTruthy();

    await romeo.send(xml("presence", { to: "mercutio@localhost", type: "unsubscribe" }));
    await romeo.waitFor((el) => el.name === "iq" && el.attrs.type === "set" && el.getChild("query")?.getChild("item")?.attrs.subscription === "none");
    await romeo.iq(xml("iq", { type: "set" }, xml("query", { xmlns: ROSTER }, xml("item", { jid: "mercutio@localhost", subscription: "remove" }))));
    expect(await rosterItem(romeo, "mercutio@localhost")).toBeUndefined();
    await romeo.stop();
  });

  it("refuses a roster set with two items", async () => {
    const c = await connect(ts, "nurse", { resource: "bad" });
    await expect(
      c.iq(xml("iq", { type: "set" }, xml("query", { xmlns: ROSTER }, xml("item", { jid: "a@localhost" }), xml("item", { jid: "b@localhost" })))),
    ).rejects.toThrow(/bad-request/);
    await c.stop();
  });
});
