/**
 * Read-your-writes across edges: once the server has answered a change, every edge applies it.
 * Each node caches blocklists (no store round trip per stanza); an unblock answered on one edge
 * must not leave the other edge bouncing the contact's next message with the stale list.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
let owner: TestClient;
let contact: TestClient;

beforeAll(async () => {
  ts = await startTestServer({}, { mode: "cluster", localBackends: true });
  await ts.addUser("owner");
  await ts.addUser("contact");
  owner = await connect(ts, "owner", { resource: "o", node: ts.nodes[0] });
  contact = await connect(ts, "contact", { resource: "c", node: ts.nodes[1] });
  await owner.send(xml("presence"));
}, 60_000);

afterAll(async () => {
  await owner?.stop();
  await contact?.stop();
  await ts?.stop();
});

const body = (el: { getChildText(name: string): string | null }) => el.getChildText("body");

it("a block or unblock answered on one edge holds on the other edge for the very next stanza", async () => {
  const blocking = { xmlns: "urn:xmpp:blocking" };
  for (let round = 0; round < 25; round++) {
    await owner.iq(xml("iq", { type: "set" }, xml("block", blocking, xml("item", { jid: "contact@localhost" }))));
    await contact.send(xml("message", { to: "owner@localhost/o", type: "chat", id: `b${round}` }, xml("body", {}, `blocked ${round}`)));
    const bounce = await contact.waitFor((el) => el.attrs.id === `b${round}`);
    expect(bounce.attrs.type, `round ${round}: a message sent right after the block`).toBe("error");

    await owner.iq(xml("iq", { type: "set" }, xml("unblock", blocking)));
    await contact.send(xml("message", { to: "owner@localhost/o", type: "chat", id: `u${round}` }, xml("body", {}, `open ${round}`)));
    const got = await Promise.race([
      owner.waitFor((el) => body(el) === `open ${round}`).then(() => "delivered", () => "nothing"),
      contact.waitFor((el) => el.attrs.id === `u${round}` && el.attrs.type === "error").then(() => "bounced", () => "nothing"),
    ]);
    expect(got, `round ${round}: a message sent right after the unblock`).toBe("delivered");
  }
}, 60_000);

it("a user who comes online on one edge is reached live from the other edge, whose cache knew them offline", async () => {
  await ts.addUser("sleeper");
  for (let round = 0; round < 10; round++) {
    // the contact's edge routes to the sleeper while offline: it caches "no session"
    await contact.send(xml("message", { to: "sleeper@localhost", type: "chat" }, xml("body", {}, `while away ${round}`)));
    const sleeper = await connect(ts, "sleeper", { resource: `s${round}`, node: ts.nodes[0] });
    await sleeper.send(xml("presence"));
    await sleeper.waitFor((el) => body(el) === `while away ${round}`);
    // online now: the next message must arrive live, not sit in the offline store
    await contact.send(xml("message", { to: "sleeper@localhost", type: "chat" }, xml("body", {}, `live ${round}`)));
    await sleeper.waitFor((el) => body(el) === `live ${round}`, 3_000);
    await sleeper.stop();
    // gone again: wait until the offline store takes messages for it (the unbind reached edge 1)
  }
}, 60_000);

it("two resources coming online at once on two edges get each stored message once between them", async () => {
  await ts.addUser("twin");
  const N = 60;
  for (let i = 0; i < N; i++) {
    await contact.send(xml("message", { to: "twin@localhost", type: "chat", id: `t${i}` }, xml("body", {}, `stored ${i}`)));
  }
  // the last one is stored once the contact's edge answered a ping sent after it (same stream, in order)
  await contact.iq(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  const [a, b] = [
    await connect(ts, "twin", { resource: "a", node: ts.nodes[0] }),
    await connect(ts, "twin", { resource: "b", node: ts.nodes[1] }),
  ];
  await Promise.all([a.send(xml("presence")), b.send(xml("presence"))]);
  const stored = (c: typeof a) => c.received.filter((el) => el.name === "message" && /^stored /.test(el.getChildText("body") ?? ""));
  await expect.poll(() => stored(a).length + stored(b).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(N);
  await new Promise((r) => setTimeout(r, 500)); // a duplicate flush would land meanwhile
  const ids = [...stored(a), ...stored(b)].map((el) => el.attrs.id);
  expect(ids).toHaveLength(N);
  expect(new Set(ids).size).toBe(N);
  await Promise.all([a.stop(), b.stop()]);
}, 60_000);
