/**
 * MUC rooms in a cluster on real processes: two edges (`--role edge`) and two MUC workers
 * (`--role muc`) on one redis-server and one nats-server, occupants on both edges. When the
 * worker serving a room is killed with -9, the other takes the room over within 10 s: the room's
 * configuration and its occupants (still joined, on live edges) come from the RoomDirectory, and
 * a message sent while the dead worker was still presumed alive is routed again by its sender
 * (core bus-ledger.ts) rather than lost. When an edge dies, its occupants leave their rooms once
 * it is purged (their directed presence died with it; the RoomDirectory knows their rooms).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCredentials } from "@switchboard/sasl";
import { RedisStore } from "@switchboard/redis";
import { Redis } from "ioredis";
import { startBackends, type TestBackends } from "../support/backends.js";
import { EdgeProcess } from "../support/edge-process.js";
import { connectTo, xml, type TestClient } from "../support/client.js";
import { MUC_USER as USER, SERVICE, configure, join as enter, statusCodes } from "../support/muc.js";

/** Entering a room may wait for a takeover: a longer bound than the protocol tests'. */
const join = (c: TestClient, room: string, nick: string) => enter(c, room, nick, [], 20_000);

let backends: TestBackends;
let edges: EdgeProcess[] = [];
let workers: EdgeProcess[] = [];
let redis: Redis;
const clients: TestClient[] = [];


beforeAll(async () => {
  backends = await startBackends({ local: true });
  redis = new Redis(backends.redisUrl, { maxRetriesPerRequest: 1 });
  const store = new RedisStore(redis, { prefix: backends.prefix });
  for (const u of ["alice", "bob", "carol"]) await store.accounts.create(`${u}@localhost`, deriveCredentials("secret", { iterations: 256 }));
  const common = {
    redisUrl: backends.redisUrl,
    natsUrl: backends.natsUrl,
    prefix: backends.prefix,
    env: { SWITCHBOARD_MUC_MIN_JOIN_INTERVAL_SECONDS: "0", SWITCHBOARD_MUC_MIN_PRESENCE_INTERVAL_SECONDS: "0", SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: "2" },
  };
  [edges, workers] = await Promise.all([
    Promise.all([EdgeProcess.start({ ...common, nodeId: "edge-a" }), EdgeProcess.start({ ...common, nodeId: "edge-b" })]),
    Promise.all([EdgeProcess.start({ ...common, nodeId: "muc-1", role: "muc" }), EdgeProcess.start({ ...common, nodeId: "muc-2", role: "muc" })]),
  ]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  for (const p of [...edges, ...workers]) await p.stop();
  redis?.disconnect();
  await backends?.stop();
});

async function login(edge: EdgeProcess, user: string): Promise<TestClient> {
  const c = await connectTo(`xmpp://127.0.0.1:${edge.ports.c2s}`, "localhost", user, { password: "secret", resource: "r" });
  clients.push(c);
  return c;
}

describe("MUC rooms when cluster nodes die", () => {
  it("keeps a room's configuration and occupants when its worker is killed, and loses no message sent meanwhile", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const room = `ops@${SERVICE}`;
    const alice = await login(a, "alice");
    const bob = await login(b, "bob");
    expect(statusCodes(await join(alice, room, "alice"))).toContain("201");
    await configure(alice, room, { "muc#roomconfig_persistentroom": "1", "muc#roomconfig_roomname": "Operations" });
    expect((await join(bob, room, "bob")).attrs.type).toBeUndefined();
    await alice.send(xml("message", { to: room, type: "groupchat", id: "before" }, xml("body", {}, "before")));
    // generous: four node processes share two cores with whatever else runs (a CI run beside another)
    await bob.waitFor((el) => el.is("message") && el.attrs.id === "before", 15_000);

    const holder = await redis.get(`${backends.prefix}:{muc:${room}}:holder`);
    expect(["muc-1", "muc-2"]).toContain(holder);
    const dead = workers.find((w) => w.nodeId === holder)!;
    await dead.kill();
    const killedAt = Date.now();

    // Sent while the cluster still presumes the dead worker alive: kept by alice's edge and
    // routed again once the worker is purged.
    await alice.send(xml("message", { to: room, type: "groupchat", id: "during" }, xml("body", {}, "during")));
    const during = await bob.waitFor((el) => el.is("message") && el.attrs.id === "during", 15_000);
    const takeoverMs = Date.now() - killedAt;
    console.log(`MUC takeover: a message sent right after kill -9 of the room's worker arrived after ${takeoverMs} ms`);
    expect(takeoverMs).toBeLessThan(10_000);
    expect(during.attrs.from).toBe(`${room}/alice`);
    expect(await redis.get(`${backends.prefix}:{muc:${room}}:holder`)).not.toBe(holder);

    // Both occupants are still in the room, its configuration is intact, and it is served.
    const carol = await login(a, "carol");
    expect((await join(carol, room, "carol")).attrs.type).toBeUndefined();
    expect(carol.received.some((el) => el.is("presence") && el.attrs.from === `${room}/alice`)).toBe(true);
    expect(carol.received.some((el) => el.is("presence") && el.attrs.from === `${room}/bob`)).toBe(true);
    const info = await carol.iq(xml("iq", { type: "get", to: room }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")?.getChild("identity")?.attrs.name).toBe("Operations");
    await bob.send(xml("message", { to: room, type: "groupchat", id: "after" }, xml("body", {}, "after")));
    await alice.waitFor((el) => el.is("message") && el.attrs.id === "after", 5_000);
    await carol.waitFor((el) => el.is("message") && el.attrs.id === "after", 5_000);
    // alice still owns it: the affiliation came over with the room
    const self = await carol.waitFor((el) => el.is("presence") && el.attrs.from === `${room}/alice`);
    expect(self.getChild("x", USER)?.getChild("item")?.attrs.affiliation).toBe("owner");
  }, 60_000);

  it("takes the occupants of an edge killed with -9 out of their rooms once it is purged", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const room = `lobby@${SERVICE}`;
    const host = await connect(a, "alice", true);
    const guest = await connect(b, "bob", false);
    expect((await join(host, room, "host")).attrs.type).toBeUndefined();
    await configure(host, room);
    await join(guest, room, "guest");
    await b.kill();
    const gone = await host.waitFor((el) => el.is("presence") && el.attrs.from === `${room}/guest` && el.attrs.type === "unavailable", 15_000);
    expect(statusCodes(gone)).not.toContain("110");
  }, 60_000);
});

/** A second session of `user`; `resumable: false` so that it ends with its edge (no XEP-0198 resumption to wait for). */
async function connect(edge: EdgeProcess, user: string, resumable: boolean): Promise<TestClient> {
  const c = await connectTo(`xmpp://127.0.0.1:${edge.ports.c2s}`, "localhost", user, { password: "secret", resource: "second", resumable });
  clients.push(c);
  return c;
}
