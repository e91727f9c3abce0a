/**
 * The MUC abuse limits (muc.* settings) played as the attacks they stop, through real clients:
 * huge room names, nicks, titles and subjects; full rooms; joining too many rooms; mass room
 * creation; too many persistent rooms; fast join/leave; presence floods; message floods. Each
 * refusal is the stanza error the issue names, the room sees nothing of a refused join, and an
 * occupant of another room is served meanwhile (after each attack, its self-ping and groupchat
 * round trips are measured and bounded).
 *
 * In cluster mode the limits hold across both nodes (each an edge and a MUC worker).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { SERVICE, conditionOf, configure, createInstant, join, leave, refusal } from "../support/muc.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
let seq = 0;

const room = () => `r${++seq}@${SERVICE}`;

beforeAll(async () => {
  ts = await startTestServer({
    muc: {
      maxRoomIdLength: 12,
      maxNickLength: 8,
      maxRoomNameLength: 20,
      maxRoomDescriptionLength: 30,
      maxPasswordLength: 8,
      maxSubjectLength: 10,
      maxOccupants: 3,
      maxRoomsPerUser: 4,
      maxRoomsCreatedPerUserPerHour: 6,
      maxPersistentRoomsPerUser: 1,
      minJoinIntervalSeconds: 1,
      minPresenceIntervalSeconds: 1,
      messagesPerSecond: 2,
      messageBurst: 3,
    },
  } as never);
  for (const u of ["maker", "u1", "u2", "u3", "u4", "hopper", "bystander", "creator", "calm"]) await ts.addUser(u);
  // an occupant of a quiet room of its own, on the other node from the next clients in cluster mode
  calm = await connect(ts, "calm", { resource: "q" });
  await createInstant(calm, CALM_ROOM, "calm");
});
afterAll(async () => {
  await calm?.stop();
  await ts?.stop();
});

let calm: TestClient;
const CALM_ROOM = `calm@${SERVICE}`;
let probe = 0;

/** The quiet room's occupant is served as usual: a self-ping and a groupchat round trip, each well under a second. */
async function bystanderServed(): Promise<{ pingMs: number; messageMs: number }> {
  let t0 = Date.now();
  await calm.iq(xml("iq", { type: "get", to: `${CALM_ROOM}/calm` }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  const pingMs = Date.now() - t0;
  const id = `probe${++probe}`;
  t0 = Date.now();
  await calm.send(xml("message", { to: CALM_ROOM, type: "groupchat", id }, xml("body", {}, "still fine")));
  await calm.waitFor((el) => el.is("message") && el.attrs.id === id);
  return { pingMs, messageMs: Date.now() - t0 };
}

describe("MUC limits", () => {
  afterEach(async (test) => {
    const served = await bystanderServed();
    console.log(`MUC attack "${test.task.name.slice(0, 60)}": bystander ping ${served.pingMs} ms, message ${served.messageMs} ms`);
    expect(served.pingMs).toBeLessThan(1_000);
    expect(served.messageMs).toBeLessThan(1_000);
  });

  it("refuses room names and nicks past their lengths with not-acceptable and creates nothing", async () => {
    const c = await connect(ts, "maker", { resource: "len" });
    const long = await join(c, `averyverylongroomname@${SERVICE}`, "ok");
    expect(conditionOf(long)).toBe("not-acceptable");
    expect(await refusal(c.iq(xml("iq", { type: "get", to: `averyverylongroomname@${SERVICE}` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))))).toBe("item-not-found");
    const r = room();
    expect(conditionOf(await join(c, r, "nicknameiswaytoolong"))).toBe("not-acceptable");
    expect(await refusal(c.iq(xml("iq", { type: "get", to: r }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))))).toBe("item-not-found");
    await c.stop();
  });

  it("checks title, description and password lengths on the owner's form, and the subject length on a change", async () => {
    const c = await connect(ts, "maker", { resource: "form" });
    const r = room();
    await createInstant(c, r, "maker");
    expect(await refusal(configure(c, r, { "muc#roomconfig_roomname": "x".repeat(21) }))).toBe("not-acceptable");
    expect(await refusal(configure(c, r, { "muc#roomconfig_roomdesc": "x".repeat(31) }))).toBe("not-acceptable");
    expect(await refusal(configure(c, r, { "muc#roomconfig_passwordprotectedroom": "1", "muc#roomconfig_roomsecret": "x".repeat(9) }))).toBe("not-acceptable");
    await configure(c, r, { "muc#roomconfig_roomname": "x".repeat(20) });
    await c.send(xml("message", { to: r, type: "groupchat", id: "subj" }, xml("subject", {}, "x".repeat(11))));
    expect(conditionOf(await c.waitFor((el) => el.attrs.id === "subj" && el.attrs.type === "error"))).toBe("not-acceptable");
    await c.stop();
  });

  it("turns away the occupant past muc.maxOccupants with service-unavailable, unannounced", async () => {
    const r = room();
    const clients = await Promise.all(["maker", "u1", "u2", "u3"].map((u) => connect(ts, u, { resource: "full" })));
    await createInstant(clients[0]!, r, "maker");
    await join(clients[1]!, r, "u1");
    await join(clients[2]!, r, "u2");
    expect(conditionOf(await join(clients[3]!, r, "u3"))).toBe("service-unavailable");
    await clients[0]!.expectNone((el) => el.is("presence") && el.attrs.from === `${r}/u3`, 200);
    await Promise.all(clients.map((c) => c.stop()));
  });

  it("counts the rooms a user is in across sessions (muc.maxRoomsPerUser) and the rooms they create per hour", async () => {
    const hop1 = await connect(ts, "hopper", { resource: "one" });
    const hop2 = await connect(ts, "hopper", { resource: "two" });
    const rooms = [room(), room(), room(), room(), room()];
    for (const [i, r] of rooms.slice(0, 4).entries()) expect((await createInstant(i % 2 ? hop2 : hop1, r, "hop")).attrs.type).toBeUndefined();
    // a fifth room, from either session: the user is in four already
    expect(conditionOf(await join(hop2, rooms[4]!, "hop"))).toBe("resource-constraint");
    // leaving one frees a place; creating two more reaches the hourly creation limit (6)
    await leave(hop1, rooms[0]!, "hop");
    expect((await createInstant(hop1, rooms[4]!, "hop")).attrs.type).toBeUndefined();
    await leave(hop1, rooms[4]!, "hop");
    expect((await createInstant(hop1, room(), "hop")).attrs.type).toBeUndefined();
    await leave(hop2, rooms[1]!, "hop");
    const seventh = await join(hop2, room(), "hop");
    expect(conditionOf(seventh)).toBe("resource-constraint");
    await Promise.all([hop1.stop(), hop2.stop()]);
  });

  it("refuses one persistent room too many with not-allowed (muc.maxPersistentRoomsPerUser)", async () => {
    const c = await connect(ts, "creator", { resource: "p" });
    const [a, b] = [room(), room()];
    await createInstant(c, a, "c");
    await configure(c, a, { "muc#roomconfig_persistentroom": "1" });
    await createInstant(c, b, "c");
    expect(await refusal(configure(c, b, { "muc#roomconfig_persistentroom": "1" }))).toBe("not-allowed");
    expect(await ts.server.host.store.rooms.get(b)).toBeUndefined();
    await c.stop();
  });

  it("refuses a re-join sooner than muc.minJoinIntervalSeconds with resource-constraint; the room sees nothing", async () => {
    const r = room();
    const owner = await connect(ts, "u4", { resource: "j" });
    const flapper = await connect(ts, "u1", { resource: "j" });
    await createInstant(owner, r, "owner");
    await join(flapper, r, "flap");
    await leave(flapper, r, "flap");
    // the owner's copy of the goodbye may come a moment after the leaver's own (another edge)
    await owner.waitFor((el) => el.is("presence") && el.attrs.from === `${r}/flap` && el.attrs.type === "unavailable");
    const seen = owner.received.length;
    expect(conditionOf(await join(flapper, r, "flap"))).toBe("resource-constraint");
    await owner.expectNone((el) => owner.received.indexOf(el) >= seen && el.attrs.from === `${r}/flap`, 200);
    await new Promise((res) => setTimeout(res, 1_000));
    expect((await join(flapper, r, "flap")).attrs.type).toBeUndefined();
    await Promise.all([owner.stop(), flapper.stop()]);
  });

  it("coalesces status changes faster than muc.minPresenceIntervalSeconds: the room gets the latest, not the flood", async () => {
    const r = room();
    const watcher = await connect(ts, "u2", { resource: "w" });
    const flooder = await connect(ts, "u3", { resource: "w" });
    await createInstant(watcher, r, "watch");
    await join(flooder, r, "flood");
    await watcher.waitFor((el) => el.is("presence") && el.attrs.from === `${r}/flood`); // its arrival, maybe from another edge
    const since = watcher.received.length;
    for (let i = 1; i <= 20; i++) await flooder.send(xml("presence", { to: `${r}/flood` }, xml("status", {}, `status ${i}`)));
    const last = await watcher.waitFor((el) => el.is("presence") && el.attrs.from === `${r}/flood` && el.getChildText("status") === "status 20", 3_000);
    const statuses = watcher.received.slice(since).filter((el) => el.is("presence") && el.attrs.from === `${r}/flood`);
    expect(statuses.length).toBeLessThanOrEqual(2);
    expect(statuses[statuses.length - 1]).toBe(last);
    await Promise.all([watcher.stop(), flooder.stop()]);
  });

  it("bounces a message flood past the burst with resource-constraint, each message delivered or bounced, while another room is served", async () => {
    const [noisy, quiet] = [room(), room()];
    const listener = await connect(ts, "bystander", { resource: "l" });
    const spammer = await connect(ts, "maker", { resource: "spam" });
    const other = await connect(ts, "u4", { resource: "q" });
    await createInstant(listener, noisy, "ear");
    await join(spammer, noisy, "spam");
    await createInstant(other, quiet, "calm");
    for (let i = 0; i < 30; i++) await spammer.send(xml("message", { to: noisy, type: "groupchat", id: `f${i}` }, xml("body", {}, `flood ${i}`)));
    const t0 = Date.now();
    await other.send(xml("message", { to: quiet, type: "groupchat", id: "calm1" }, xml("body", {}, "still here?")));
    await other.waitFor((el) => el.is("message") && el.attrs.id === "calm1");
    const roundTrip = Date.now() - t0;
    await spammer.waitFor((el) => el.attrs.id === "f29");
    await new Promise((res) => setTimeout(res, 200));
    const delivered = new Set(listener.received.filter((el) => el.is("message") && el.attrs.id?.startsWith("f")).map((el) => el.attrs.id));
    const bounced = new Set(spammer.received.filter((el) => el.is("message") && el.attrs.type === "error" && el.attrs.id?.startsWith("f")).map((el) => el.attrs.id));
    for (const el of spammer.received.filter((e) => e.attrs.type === "error" && e.attrs.id?.startsWith("f"))) expect(conditionOf(el)).toBe("resource-constraint");
    expect(bounced.size).toBeGreaterThan(20);
    expect(delivered.size).toBeGreaterThanOrEqual(3);
    expect(delivered.size + bounced.size).toBe(30);
    expect([...delivered].filter((id) => bounced.has(id))).toEqual([]);
    expect(roundTrip).toBeLessThan(1_000);
    await Promise.all([listener.stop(), spammer.stop(), other.stop()]);
  });
});

describe("MUC room creation policy", () => {
  let admins: TestServer;
  beforeAll(async () => {
    admins = await startTestServer({ admins: ["boss@localhost"], muc: { createRooms: "admins" } } as never);
    for (const u of ["boss", "pleb"]) await admins.addUser(u);
  });
  afterAll(async () => admins?.stop());

  it("lets only the listed admins create rooms when muc.createRooms is admins; others get not-allowed", async () => {
    const pleb = await connect(admins, "pleb", { resource: "x" });
    const boss = await connect(admins, "boss", { resource: "x" });
    expect(conditionOf(await join(pleb, `mine@${SERVICE}`, "pleb"))).toBe("not-allowed");
    expect((await createInstant(boss, `hall@${SERVICE}`, "boss")).attrs.type).toBeUndefined();
    expect((await join(pleb, `hall@${SERVICE}`, "pleb")).attrs.type).toBeUndefined();
    await Promise.all([pleb.stop(), boss.stop()]);
  });
});
