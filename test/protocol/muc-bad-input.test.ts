/**
 * Bad input to the MUC service gets the stanza error XEP-0045 (or RFC 6120) names, and changes
 * nothing: a join without a nick, a malformed configuration form, unknown roles and
 * affiliations, requests without a payload, invitations to nobody, chat messages to a room,
 * unknown disco nodes, malformed result set requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { DATA, MUC_ADMIN as ADMIN, MUC_OWNER as OWNER, MUC_USER as USER, conditionOf, createInstant, refusal } from "../support/muc.js";
import { startTestServer, type TestServer } from "../support/server.js";

const ROOM = "strict@conference.localhost";

let ts: TestServer;
let owner: TestClient;

const field = (v: string, value: string) => xml("field", { var: v }, xml("value", {}, value));
const submit = (...fields: Element[]) => xml("iq", { type: "set", to: ROOM }, xml("query", { xmlns: OWNER }, xml("x", { xmlns: DATA, type: "submit" }, ...fields)));

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("strict");
  owner = await connect(ts, "strict", { resource: "o" });
  await createInstant(owner, ROOM, "owner");
});
afterAll(async () => {
  await owner?.stop();
  await ts?.stop();
});

describe("MUC bad input", () => {
  it("answers a join without a nickname with jid-malformed", async () => {
    await owner.send(xml("presence", { to: "other@conference.localhost", id: "nonick" }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
    expect(conditionOf(await owner.waitFor((el) => el.attrs.id === "nonick" && el.attrs.type === "error"))).toBe("jid-malformed");
  });

  it("refuses malformed configuration values with not-acceptable and keeps the configuration", async () => {
    expect(await refusal(owner.iq(submit(field("muc#roomconfig_moderatedroom", "maybe"))))).toBe("not-acceptable");
    expect(await refusal(owner.iq(submit(field("muc#roomconfig_whois", "everybody"))))).toBe("not-acceptable");
    expect(await refusal(owner.iq(submit(field("muc#roomconfig_maxusers", "-3"))))).toBe("not-acceptable");
    expect(await refusal(owner.iq(submit(field("muc#roomconfig_passwordprotectedroom", "1"))))).toBe("not-acceptable");
    expect(await refusal(owner.iq(submit(field("muc#roomconfig_roomowners", "not a jid@@"))))).toBe("not-acceptable");
    expect(await refusal(owner.iq(xml("iq", { type: "set", to: ROOM }, xml("query", { xmlns: OWNER }, xml("x", { xmlns: DATA, type: "form" })))))).toBe("bad-request");
    const info = await owner.iq(xml("iq", { type: "get", to: ROOM }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    const features = info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(["muc_unmoderated", "muc_semianonymous", "muc_unsecured"]));
  });

  it("refuses unknown roles, affiliations and empty admin requests with bad-request, an unknown nick with item-not-found", async () => {
    const admin = (...items: Element[]) => owner.iq(xml("iq", { type: "set", to: ROOM }, xml("query", { xmlns: ADMIN }, ...items)));
    expect(await refusal(admin(xml("item", { nick: "owner", role: "king" })))).toBe("bad-request");
    expect(await refusal(admin(xml("item", { jid: "x@localhost", affiliation: "emperor" })))).toBe("bad-request");
    expect(await refusal(admin())).toBe("bad-request");
    expect(await refusal(admin(xml("item", { nick: "ghost", role: "visitor" })))).toBe("item-not-found");
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: ROOM }, xml("query", { xmlns: ADMIN }, xml("item", { role: "none" })))))).toBe("bad-request");
  });

  it("answers an IQ without a payload, an unknown namespace and an unknown disco node with the right errors", async () => {
    await owner.send(xml("iq", { type: "get", to: ROOM, id: "empty" }));
    expect(conditionOf(await owner.waitFor((el) => el.attrs.id === "empty" && el.attrs.type === "error"))).toBe("bad-request");
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: ROOM }, xml("query", { xmlns: "urn:example:nothing" }))))).toBe("service-unavailable");
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: ROOM }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info", node: "x" }))))).toBe("item-not-found");
    const rsm = xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, xml("max", {}, "many"));
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: "conference.localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" }, rsm))))).toBe("bad-request");
  });

  it("refuses an invitation to nobody and a chat message to the room itself with bad-request; a message to no room with item-not-found", async () => {
    await owner.send(xml("message", { to: ROOM, id: "inv" }, xml("x", { xmlns: USER }, xml("invite", {}))));
    expect(conditionOf(await owner.waitFor((el) => el.attrs.id === "inv" && el.attrs.type === "error"))).toBe("bad-request");
    await owner.send(xml("message", { to: ROOM, type: "chat", id: "chat" }, xml("body", {}, "hi")));
    expect(conditionOf(await owner.waitFor((el) => el.attrs.id === "chat" && el.attrs.type === "error"))).toBe("bad-request");
    await owner.send(xml("message", { to: "nowhere@conference.localhost", type: "groupchat", id: "nw" }, xml("body", {}, "hi")));
    expect(conditionOf(await owner.waitFor((el) => el.attrs.id === "nw" && el.attrs.type === "error"))).toBe("item-not-found");
  });
});
