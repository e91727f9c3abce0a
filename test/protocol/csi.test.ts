/**
 * XEP-0352 client state indication on a real server (both modes): an inactive client gets
 * presence coalesced and non-urgent messages held, everything in order once something urgent
 * comes or it is active again, and what was held is not lost when its session ends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
let bob: TestClient;

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["carl", "bob", "dora"]) await ts.addUser(u);
  bob = await connect(ts, "bob", { resource: "b", node: ts.nodes[0] });
  await bob.send(xml("presence"));
});
afterAll(async () => {
  await bob?.stop();
  await ts?.stop();
});

/** carl on the last node, bound, initial presence sent, the buffer empty */
async function carl(resource: string): Promise<RawConnection> {
  const c = await RawConnection.open(ts.nodes.at(-1)!.ports.c2s);
  await c.authenticate("carl", "secret");
  expect(c.buffer).toContain("<csi xmlns=\"urn:xmpp:csi:0\"/>");
  c.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  await c.waitFor(/<\/iq>/);
  c.write("<presence/>");
  await new Promise((r) => setTimeout(r, 200));
  c.buffer = "";
  return c;
}

const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("client state indication (XEP-0352)", () => {
  it("holds presence (latest per sender) and chat states while inactive; an urgent message brings them first, in order", async () => {
    const c = await carl("phone");
    c.write("<inactive xmlns='urn:xmpp:csi:0'/>");
    await quiet(100);
    const to = "carl@localhost/phone";
    await bob.send(xml("presence", { to }, xml("show", {}, "away")));
    await bob.send(xml("presence", { to }, xml("show", {}, "dnd")));
    await bob.send(xml("message", { to, type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await quiet(400);
    expect(c.buffer).toBe(""); // nothing written while inactive
    await bob.send(xml("message", { to, type: "chat", id: "urgent" }, xml("body", {}, "wake up")));
    const got = await c.waitFor(/wake up<\/body>/);
    expect(got).not.toContain("<show>away</show>"); // coalesced: only the latest
    const dnd = got.indexOf("<show>dnd</show>");
    const composing = got.indexOf("<composing");
    const body = got.indexOf("wake up");
    expect(dnd).toBeGreaterThanOrEqual(0);
    expect(composing).toBeGreaterThan(dnd);
    expect(body).toBeGreaterThan(composing);

    // an IQ is urgent too; after <active/> what was held comes at once
    c.buffer = "";
    await bob.send(xml("presence", { to }, xml("show", {}, "xa")));
    await quiet(300);
    expect(c.buffer).toBe("");
    c.write("<active xmlns='urn:xmpp:csi:0'/>");
    expect(await c.waitFor(/<show>xa<\/show>/)).toContain("from=\"bob@localhost/b\"");
    // active: written at once
    c.buffer = "";
    await bob.send(xml("message", { to, type: "chat" }, xml("paused", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await c.waitFor(/<paused /, 2_000);
    c.close();
  }, 30_000);

  it("does not lose a held message when the session ends: it goes to offline storage", async () => {
    const c = await carl("tablet");
    c.write("<inactive xmlns='urn:xmpp:csi:0'/>");
    await quiet(100);
    await bob.send(xml("message", { to: "carl@localhost/tablet", id: "m1" }, xml("received", { xmlns: "urn:xmpp:receipts", id: "r-77" })));
    await quiet(300);
    expect(c.buffer).not.toContain("r-77");
    c.close();
    await quiet(500);
    // carl comes back: his initial presence brings the offline message
    const back = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await back.login("carl", "secret", "desk");
    back.write("<presence/>");
    expect(await back.waitFor(/r-77/, 5_000)).toContain("urn:xmpp:receipts");
    back.close();
  }, 30_000);

  it("with stream management, what was held when the connection dropped is sent on resumption", async () => {
    const c = await RawConnection.open(ts.nodes.at(-1)!.ports.c2s);
    await c.login("dora", "secret", "mobile");
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = await c.waitFor(/<enabled [^>]*\/>/);
    const id = /id="([^"]+)"/.exec(enabled)![1]!;
    c.write("<inactive xmlns='urn:xmpp:csi:0'/>");
    await quiet(100);
    await bob.send(xml("message", { to: "dora@localhost/mobile", type: "chat" }, xml("gone", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await bob.send(xml("presence", { to: "dora@localhost/mobile" }, xml("status", {}, "held-status")));
    await quiet(300);
    expect(c.buffer).not.toContain("held-status");
    c.close(); // dropped, not closed: the session waits for a resumption
    await quiet(300);
    const r = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await r.authenticate("dora", "secret");
    r.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await r.waitFor(/<resumed /);
    const after = await r.waitFor(/held-status/, 5_000);
    expect(after).toContain("<gone ");
    r.write("</stream:stream>");
    r.close();
  }, 30_000);

  it("<inactive/> before a resource is bound is refused like any element out of place, and others are served", async () => {
    const c = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await c.authenticate("carl", "secret");
    c.write("<inactive xmlns='urn:xmpp:csi:0'/>");
    expect(await c.waitFor(/<stream:error[ >][\s\S]*<\/stream:error>/)).toMatch(/<not-authorized [\s\S]*bind a resource first/);
    await c.waitClosed();
    await bob.send(xml("message", { to: "bob@localhost/b", type: "chat" }, xml("body", {}, "still-served")));
    await bob.waitFor((el) => el.getChildText("body") === "still-served");
  }, 20_000);
});
