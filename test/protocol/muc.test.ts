/**
 * XEP-0045 multi-user chat through real clients (@xmpp/client): the service in disco, creating
 * and configuring rooms, entering with history and subject, groupchat, private messages, nick
 * changes, moderation (voice, kick, ban), persistence across a restart, destruction, self-ping
 * (XEP-0410) and occupant ids (XEP-0421).
 *
 * In cluster mode both nodes are edges and MUC workers (`edge,muc`): clients alternate between
 * them, so rooms and their occupants are spread over both.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element } from "../support/client.js";
import { DATA, MUC, MUC_ADMIN as ADMIN, MUC_OWNER as OWNER, MUC_USER as USER, SERVICE, conditionOf, createInstant, form, join, refusal, statusCodes } from "../support/muc.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

const ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig";
const isPresenceFrom = (from: string, type?: string) => (el: Element) => el.is("presence") && el.attrs.from === from && el.attrs.type === type;

beforeAll(async () => {
  // one owner creates many rooms here; the hourly creation limit has its own test (muc-limits)
  ts = await startTestServer({ muc: { minJoinIntervalSeconds: 0, minPresenceIntervalSeconds: 0, maxRoomsCreatedPerUserPerHour: 100 } } as never);
  for (const u of ["owner", "guest", "third", "fourth"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

describe("multi-user chat (XEP-0045)", () => {
  it("lists the service in the server's disco#items and answers its disco#info as conference/text", async () => {
    const c = await connect(ts, "owner", { resource: "disco" });
    const items = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    expect(items.getChild("query")?.getChildren("item").map((i) => i.attrs.jid)).toContain(SERVICE);
    const info = await c.iq(xml("iq", { type: "get", to: SERVICE }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChild("identity")?.attrs).toMatchObject({ category: "conference", type: "text" });
    expect(info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var)).toContain(MUC);
    await c.stop();
  });

  it("creates a locked room (201), refuses others until configured, then lets them in with presence both ways and the subject", async () => {
    const room = `lobby@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "a" });
    const guest = await connect(ts, "guest", { resource: "g" });
    const self = await join(owner, room, "Boss");
    expect(statusCodes(self)).toEqual(expect.arrayContaining(["110", "201"]));
    expect(self.getChild("x", USER)?.getChild("item")?.attrs).toMatchObject({ affiliation: "owner", role: "moderator" });

    const early = await join(guest, room, "Guest");
    expect(early.attrs.type).toBe("error");
    expect(conditionOf(early)).toBe("item-not-found");

    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, xml("x", { xmlns: DATA, type: "submit" }))));
    guest.received.length = 0;
    const entered = await join(guest, room, "Guest");
    expect(entered.attrs.type).toBeUndefined();
    expect(entered.getChild("x", USER)?.getChild("item")?.attrs).toMatchObject({ affiliation: "none", role: "participant" });
    // §7.2.3: the newcomer first gets the others' presence; §7.2.15: then the subject (empty).
    const ownerSeen = guest.received.findIndex(isPresenceFrom(`${room}/Boss`));
    const selfSeen = guest.received.findIndex((el) => el === entered);
    expect(ownerSeen).toBeGreaterThanOrEqual(0);
    expect(ownerSeen).toBeLessThan(selfSeen);
    const subject = await guest.waitFor((el) => el.is("message") && el.getChild("subject") !== undefined);
    expect(subject.attrs).toMatchObject({ from: room, type: "groupchat" });
    // The owner, a moderator, sees the newcomer's real JID; XEP-0421 gives it an occupant id.
    const announced = await owner.waitFor(isPresenceFrom(`${room}/Guest`));
    expect(announced.getChild("x", USER)?.getChild("item")?.attrs.jid).toBe(guest.jid);
    expect(announced.getChild("occupant-id", "urn:xmpp:occupant-id:0")?.attrs.id).toMatch(/^[\w-]{22}$/);
    await Promise.all([owner.stop(), guest.stop()]);
  });

  it("carries groupchat to every occupant with the sender's occupant id, keeps history for newcomers, and passes private messages", async () => {
    const room = `talk@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "t" });
    const guest = await connect(ts, "guest", { resource: "t" });
    await createInstant(owner, room, "Boss");
    await join(guest, room, "Guest");
    for (const n of [1, 2, 3]) await owner.send(xml("message", { to: room, type: "groupchat", id: `m${n}` }, xml("body", {}, `hello ${n}`)));
    const got = await guest.waitFor((el) => el.is("message") && el.getChildText("body") === "hello 3");
    expect(got.attrs).toMatchObject({ from: `${room}/Boss`, type: "groupchat", id: "m3" });
    const echo = await owner.waitFor((el) => el.is("message") && el.getChildText("body") === "hello 3");
    expect(echo.getChild("occupant-id", "urn:xmpp:occupant-id:0")?.attrs.id).toBe(got.getChild("occupant-id", "urn:xmpp:occupant-id:0")?.attrs.id);

    const third = await connect(ts, "third", { resource: "t" });
    await join(third, room, "Late", [xml("history", { maxstanzas: "2" })]);
    const history = await third.waitFor((el) => el.is("message") && el.getChildText("body") === "hello 3");
    expect(history.getChild("delay", "urn:xmpp:delay")?.attrs.from).toBe(room);
    await third.expectNone((el) => el.is("message") && el.getChildText("body") === "hello 1", 200);
    expect(third.received.some((el) => el.is("message") && el.getChildText("body") === "hello 2")).toBe(true);

    await guest.send(xml("message", { to: `${room}/Late`, type: "chat", id: "pm1" }, xml("body", {}, "psst")));
    const pm = await third.waitFor((el) => el.is("message") && el.getChildText("body") === "psst");
    expect(pm.attrs).toMatchObject({ from: `${room}/Guest`, type: "chat" });
    expect(pm.getChild("x", USER)).toBeDefined();
    await guest.send(xml("message", { to: `${room}/Nobody`, type: "chat", id: "pm2" }, xml("body", {}, "lost?")));
    const bounced = await guest.waitFor((el) => el.is("message") && el.attrs.id === "pm2" && el.attrs.type === "error");
    expect(conditionOf(bounced)).toBe("item-not-found");

    // A non-occupant's groupchat is refused (§7.4).
    const fourth = await connect(ts, "fourth", { resource: "t" });
    await fourth.send(xml("message", { to: room, type: "groupchat", id: "x1" }, xml("body", {}, "drive-by")));
    expect(conditionOf(await fourth.waitFor((el) => el.attrs.id === "x1" && el.attrs.type === "error"))).toBe("not-acceptable");
    await guest.expectNone((el) => el.getChildText("body") === "drive-by", 100);
    await Promise.all([owner.stop(), guest.stop(), third.stop(), fourth.stop()]);
  });

  it("changes nicks with 303, refuses a taken nick with conflict, and announces leaving", async () => {
    const room = `nicks@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "n" });
    const guest = await connect(ts, "guest", { resource: "n" });
    await createInstant(owner, room, "Boss");
    await join(guest, room, "Guest");
    const taken = await join(guest, room, "Boss");
    expect(conditionOf(taken)).toBe("conflict");
    await guest.send(xml("presence", { to: `${room}/Visitor2` }));
    const gone = await owner.waitFor(isPresenceFrom(`${room}/Guest`, "unavailable"));
    expect(statusCodes(gone)).toContain("303");
    expect(gone.getChild("x", USER)?.getChild("item")?.attrs.nick).toBe("Visitor2");
    await owner.waitFor(isPresenceFrom(`${room}/Visitor2`));
    await guest.send(xml("presence", { to: `${room}/Visitor2`, type: "unavailable" }));
    await owner.waitFor(isPresenceFrom(`${room}/Visitor2`, "unavailable"));
    const selfGone = await guest.waitFor(isPresenceFrom(`${room}/Visitor2`, "unavailable"));
    expect(statusCodes(selfGone)).toContain("110");
    await Promise.all([owner.stop(), guest.stop()]);
  });

  it("moderates: visitors need voice in a moderated room, moderators grant it, kick (307) and ban (301)", async () => {
    const room = `stage@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "m" });
    const guest = await connect(ts, "guest", { resource: "m" });
    await join(owner, room, "Boss");
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form({ "muc#roomconfig_moderatedroom": "1" }, ROOMCONFIG))));
    const entered = await join(guest, room, "Guest");
    expect(entered.getChild("x", USER)?.getChild("item")?.attrs.role).toBe("visitor");
    await guest.send(xml("message", { to: room, type: "groupchat", id: "v1" }, xml("body", {}, "may I?")));
    expect(conditionOf(await guest.waitFor((el) => el.attrs.id === "v1" && el.attrs.type === "error"))).toBe("forbidden");
    // A presence change does not give voice.
    await guest.send(xml("presence", { to: `${room}/Guest` }, xml("show", {}, "chat")));
    const changed = await owner.waitFor((el) => isPresenceFrom(`${room}/Guest`)(el) && el.getChildText("show") === "chat");
    expect(changed.getChild("x", USER)?.getChild("item")?.attrs.role).toBe("visitor");
    // The guest is not a moderator: it cannot kick.
    expect(await refusal(guest.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { nick: "Boss", role: "none" })))))).toBe("forbidden");

    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { nick: "Guest", role: "participant" }))));
    await guest.waitFor((el) => isPresenceFrom(`${room}/Guest`)(el) && el.getChild("x", USER)?.getChild("item")?.attrs.role === "participant");
    await guest.send(xml("message", { to: room, type: "groupchat", id: "v2" }, xml("body", {}, "thanks")));
    await owner.waitFor((el) => el.is("message") && el.attrs.id === "v2");

    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { nick: "Guest", role: "none" }, xml("reason", {}, "out")))));
    const kicked = await guest.waitFor(isPresenceFrom(`${room}/Guest`, "unavailable"));
    expect(statusCodes(kicked)).toEqual(expect.arrayContaining(["307", "110"]));
    expect(kicked.getChild("x", USER)?.getChild("item")?.getChildText("reason")).toBe("out");

    guest.received.length = 0;
    await join(guest, room, "Guest");
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { jid: "guest@localhost", affiliation: "outcast" }))));
    const banned = await guest.waitFor(isPresenceFrom(`${room}/Guest`, "unavailable"));
    expect(statusCodes(banned)).toContain("301");
    guest.received.length = 0;
    expect(conditionOf(await join(guest, room, "Again"))).toBe("forbidden");
    const list = await owner.iq(xml("iq", { type: "get", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { affiliation: "outcast" }))));
    expect(list.getChild("query")?.getChildren("item").map((i) => i.attrs.jid)).toEqual(["guest@localhost"]);
    // The last owner cannot step down.
    expect(await refusal(owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { jid: "owner@localhost", affiliation: "member" })))))).toBe("conflict");
    await Promise.all([owner.stop(), guest.stop()]);
  });

  it("keeps a persistent room's configuration, affiliations and subject across a restart, then destroys it", async () => {
    const room = `archive@${SERVICE}`;
    let owner = await connect(ts, "owner", { resource: "p" });
    await join(owner, room, "Boss");
    await owner.iq(
      xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form({ "muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "The Archive", "muc#roomconfig_membersonly": "1" }, ROOMCONFIG))),
    );
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: ADMIN }, xml("item", { jid: "guest@localhost", affiliation: "member" }))));
    await owner.send(xml("message", { to: room, type: "groupchat" }, xml("subject", {}, "Records")));
    await owner.waitFor((el) => el.is("message") && el.getChildText("subject") === "Records");
    await owner.stop();

    await ts.restart();
    const guest = await connect(ts, "guest", { resource: "p" });
    const info = await guest.iq(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChild("identity")?.attrs.name).toBe("The Archive");
    expect(info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var)).toEqual(expect.arrayContaining(["muc_persistent", "muc_membersonly"]));
    const entered = await join(guest, room, "Member");
    expect(entered.getChild("x", USER)?.getChild("item")?.attrs.affiliation).toBe("member");
    expect((await guest.waitFor((el) => el.is("message") && el.getChild("subject") !== undefined)).getChildText("subject")).toBe("Records");
    const third = await connect(ts, "third", { resource: "p" });
    expect(conditionOf(await join(third, room, "Stranger"))).toBe("registration-required");

    owner = await connect(ts, "owner", { resource: "p2" });
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, xml("destroy", {}, xml("reason", {}, "closing")))));
    const destroyed = await guest.waitFor(isPresenceFrom(`${room}/Member`, "unavailable"));
    expect(destroyed.getChild("x", USER)?.getChild("destroy")?.getChildText("reason")).toBe("closing");
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))))).toBe("item-not-found");
    expect(await ts.server.host.store.rooms.get(room)).toBeUndefined();
    await Promise.all([owner.stop(), guest.stop(), third.stop()]);
  });

  it("answers a self-ping (XEP-0410) only for the occupant's own nick, and pages public rooms with RSM", async () => {
    const owner = await connect(ts, "owner", { resource: "s" });
    await createInstant(owner, `ping@${SERVICE}`, "Boss");
    await owner.iq(xml("iq", { type: "get", to: `ping@${SERVICE}/Boss` }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(await refusal(owner.iq(xml("iq", { type: "get", to: `ping@${SERVICE}/Someone` }, xml("ping", { xmlns: "urn:xmpp:ping" }))))).toBe("not-acceptable");
    for (const name of ["page-a", "page-b", "page-c"]) await createInstant(owner, `${name}@${SERVICE}`, "Boss");
    const page = await owner.iq(
      xml("iq", { type: "get", to: SERVICE }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" }, xml("set", { xmlns: "http://jabber.org/protocol/rsm" }, xml("max", {}, "2"), xml("after", {}, `page-a@${SERVICE}`)))),
    );
    const q = page.getChild("query")!;
    expect(q.getChildren("item").map((i) => i.attrs.jid)).toEqual([`page-b@${SERVICE}`, `page-c@${SERVICE}`]);
    expect(Number(q.getChild("set")?.getChildText("count"))).toBeGreaterThanOrEqual(4);
    await owner.stop();
  });

  it("serves a resource bound again by a new connection (the old one replaced) like any newcomer", async () => {
    const room = `rebind@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "rb" });
    await createInstant(owner, room, "Boss");
    const first = await connect(ts, "guest", { resource: "same" });
    await join(first, room, "Guest");
    const second = await connect(ts, "guest", { resource: "same" }); // <conflict/> for the first
    await owner.waitFor(isPresenceFrom(`${room}/Guest`, "unavailable"));
    // the room's goodbye to the old session is addressed to the same full JID: the new one gets it
    await second.waitFor(isPresenceFrom(`${room}/Guest`, "unavailable"));
    second.received.length = 0;
    expect((await join(second, room, "Guest")).attrs.type).toBeUndefined();
    await owner.send(xml("message", { to: room, type: "groupchat", id: "rb1" }, xml("body", {}, "welcome back")));
    await second.waitFor((el) => el.is("message") && el.attrs.id === "rb1");
    await Promise.all([owner.stop(), first.stop(), second.stop()]);
  });

  it("passes an IQ between occupants through their room JIDs, hiding the real JIDs both ways", async () => {
    const room = `iq@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "iq" });
    const guest = await connect(ts, "guest", { resource: "iq" });
    await createInstant(owner, room, "Boss");
    await join(guest, room, "Guest");
    await guest.send(xml("iq", { type: "get", to: `${room}/Boss`, id: "vc1" }, xml("vCard", { xmlns: "vcard-temp" })));
    const asked = await owner.waitFor((el) => el.is("iq") && el.attrs.type === "get" && el.getChild("vCard", "vcard-temp") !== undefined);
    expect(asked.attrs.from).toBe(`${room}/Guest`);
    // @xmpp/client answers requests it has no handler for with an error; the room passes it back
    const answer = await guest.waitFor((el) => el.is("iq") && el.attrs.id === "vc1");
    expect(answer.attrs.from).toBe(`${room}/Boss`);
    expect(["result", "error"]).toContain(answer.attrs.type);
    await Promise.all([owner.stop(), guest.stop()]);
  });

  it("keeps a password-protected room shut without the password, and a hidden room out of the directory", async () => {
    const room = `vault@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "pw" });
    const guest = await connect(ts, "guest", { resource: "pw" });
    await join(owner, room, "Boss");
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form({ "muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "sesame", "muc#roomconfig_publicroom": "0" }, ROOMCONFIG))));
    expect(conditionOf(await join(guest, room, "Guest"))).toBe("not-authorized");
    expect(conditionOf(await join(guest, room, "Guest", [xml("password", {}, "wrong")]))).toBe("not-authorized");
    expect((await join(guest, room, "Guest", [xml("password", {}, "sesame")])).attrs.type).toBeUndefined();
    const items = await guest.iq(xml("iq", { type: "get", to: SERVICE }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    expect(items.getChild("query")?.getChildren("item").map((i) => i.attrs.jid)).not.toContain(room);
    const info = await guest.iq(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChildren("feature").map((f) => f.attrs.var)).toEqual(expect.arrayContaining(["muc_hidden", "muc_passwordprotected"]));
    await Promise.all([owner.stop(), guest.stop()]);
  });

  it("passes a mediated invitation (with the password) and its decline, and a visitor's voice request to the moderators, whose approval gives voice", async () => {
    const room = `club@${SERVICE}`;
    const owner = await connect(ts, "owner", { resource: "inv" });
    const guest = await connect(ts, "guest", { resource: "inv" });
    // available, so that messages to their bare JIDs come to these resources
    for (const c of [owner, guest]) await c.send(xml("presence"));
    await join(owner, room, "Boss");
    await owner.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: OWNER }, form({ "muc#roomconfig_moderatedroom": "1", "muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "key" }, ROOMCONFIG))));
    await owner.send(xml("message", { to: room, id: "inv1" }, xml("x", { xmlns: USER }, xml("invite", { to: "guest@localhost" }, xml("reason", {}, "join us")))));
    const invitation = await guest.waitFor((el) => el.is("message") && el.getChild("x", USER)?.getChild("invite") !== undefined);
    expect(invitation.attrs.from).toBe(room);
    expect(invitation.getChild("x", USER)?.getChild("invite")?.attrs.from).toBe("owner@localhost");
    expect(invitation.getChild("x", USER)?.getChild("invite")?.getChildText("reason")).toBe("join us");
    expect(invitation.getChild("x", USER)?.getChildText("password")).toBe("key");
    await guest.send(xml("message", { to: room }, xml("x", { xmlns: USER }, xml("decline", { to: "owner@localhost" }, xml("reason", {}, "later")))));
    const decline = await owner.waitFor((el) => el.is("message") && el.getChild("x", USER)?.getChild("decline") !== undefined);
    expect(decline.getChild("x", USER)?.getChild("decline")?.attrs.from).toBe("guest@localhost");

    const entered = await join(guest, room, "Guest", [xml("password", {}, "key")]);
    expect(entered.getChild("x", USER)?.getChild("item")?.attrs.role).toBe("visitor");
    await guest.send(xml("message", { to: room }, form({ "muc#role": "participant" }, "http://jabber.org/protocol/muc#request")));
    const request = await owner.waitFor((el) => el.is("message") && el.getChild("x", DATA) !== undefined && el.attrs.from === room);
    const fields = new Map(request.getChild("x", DATA)!.getChildren("field").map((f) => [f.attrs.var, f.getChildText("value")]));
    expect(fields.get("muc#roomnick")).toBe("Guest");
    await owner.send(xml("message", { to: room }, form({ "muc#role": "participant", "muc#roomnick": "Guest", "muc#request_allow": "true" }, "http://jabber.org/protocol/muc#request")));
    await guest.waitFor((el) => el.is("presence") && el.attrs.from === `${room}/Guest` && el.getChild("x", USER)?.getChild("item")?.attrs.role === "participant");
    await Promise.all([owner.stop(), guest.stop()]);
  });
});
