/**
 * A groupchat message to N occupants spread over E edges costs E bus publishes, not N: the room's
 * worker sends one multicast envelope per other edge, which writes a copy to each of its own
 * occupants (core Host.deliverMany). Two nodes (`edge,muc`) on real Redis and NATS, publishes
 * counted on every node's bus.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEnvelope } from "@switchboard/core";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const MUC = "http://jabber.org/protocol/muc";
const USER = "http://jabber.org/protocol/muc#user";
const OWNER = "http://jabber.org/protocol/muc#owner";
const ROOM = "fanout@conference.localhost";
const OCCUPANTS = 20;

let ts: TestServer;
const clients: TestClient[] = [];
const published: BusEnvelope[] = [];

beforeAll(async () => {
  ts = await startTestServer({ muc: { minJoinIntervalSeconds: 0, minPresenceIntervalSeconds: 0, messagesPerSecond: 0 } } as never, { mode: "cluster" });
  for (let i = 0; i < OCCUPANTS; i++) await ts.addUser(`fan${i}`);
  for (const node of ts.nodes) {
    const bus = node.host.bus;
    const publish = bus.publish.bind(bus);
    bus.publish = (to, env) => (published.push(env), publish(to, env));
  }
}, 120_000);
afterAll(async () => {
  for (const c of clients) await c.stop();
  await ts?.stop();
});

describe("MUC fan-out in a cluster", () => {
  it("sends one bus message per other edge for a groupchat, and every occupant gets its copy", async () => {
    for (let i = 0; i < OCCUPANTS; i++) {
      const c = await connect(ts, `fan${i}`, { resource: "r", node: ts.nodes[i % 2] });
      clients.push(c);
      await c.send(xml("presence", { to: `${ROOM}/fan${i}` }, xml("x", { xmlns: MUC })));
      await c.waitFor((el) => el.is("presence") && el.attrs.from === `${ROOM}/fan${i}` && (el.getChild("x", USER)?.getChildren("status") ?? []).some((s) => s.attrs.code === "110"));
      if (i === 0) await c.iq(xml("iq", { type: "set", to: ROOM }, xml("query", { xmlns: OWNER }, xml("x", { xmlns: "jabber:x:data", type: "submit" }))));
    }
    await new Promise((r) => setTimeout(r, 300)); // let the joins' receipts and presence settle
    published.length = 0;
    await clients[1]!.send(xml("message", { to: ROOM, type: "groupchat", id: "one" }, xml("body", {}, "to everyone")));
    for (const c of clients) await c.waitFor((el) => el.is("message") && el.attrs.id === "one");
    const stanzaPublishes = published.filter((e) => e.kind !== "receipt");
    const multicasts = published.filter((e) => e.kind === "multicast");
    console.log(`MUC fan-out: ${OCCUPANTS} occupants on 2 nodes, one groupchat: ${stanzaPublishes.length} bus publishes (${stanzaPublishes.map((e) => e.kind).join(", ")})`);
    // the sender's edge may pass the message to the worker (1), the worker multicasts to the other node (1)
    expect(multicasts).toHaveLength(1);
    expect(multicasts[0]!.kind === "multicast" && multicasts[0]!.targets.length).toBe(OCCUPANTS / 2);
    expect(stanzaPublishes.length).toBeLessThanOrEqual(2);
  }, 60_000);
});
