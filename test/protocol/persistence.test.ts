/** Accounts, rosters, offline messages, vCards and blocklists survive a restart (SQLite store). */
import { afterAll, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer | undefined;
afterAll(async () => ts?.stop());

it("keeps every user's data across a server restart", async () => {
  ts = await startTestServer();
  await ts.addUser("keeper");
  await ts.addUser("friend");
  const k = await connect(ts, "keeper", { resource: "r" });
  await k.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "friend@localhost", name: "Pal" }))));
  await k.iq(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("NICKNAME", {}, "kp"))));
  await k.iq(xml("iq", { type: "set" }, xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "spam@localhost" }))));
  await k.send(xml("message", { to: "friend@localhost", type: "chat" }, xml("body", {}, "kept across restart")));
  await k.iq(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  await k.stop();

  await ts.restart();

  const k2 = await connect(ts, "keeper", { resource: "r" });
  const roster = await k2.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
  expect(roster.getChild("query")?.getChild("item")?.attrs).toMatchObject({ jid: "friend@localhost", name: "Pal" });
  const vcard = await k2.iq(xml("iq", { type: "get" }, xml("vCard", { xmlns: "vcard-temp" })));
  expect(vcard.getChild("vCard")?.getChildText("NICKNAME")).toBe("kp");
  const blocked = await k2.iq(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
  expect(blocked.getChild("blocklist")?.getChild("item")?.attrs.jid).toBe("spam@localhost");
  const f = await connect(ts, "friend", { resource: "f", transport: "websocket" });
  await f.send(xml("presence"));
  await f.waitFor((el) => el.name === "message" && el.getChildText("body") === "kept across restart");
  await Promise.all([k2.stop(), f.stop()]);
});
