/**
 * Routing to remote domains under trouble (RFC 6120 §10.4, §13.9.5: nothing silently dropped):
 * a remote that accepts the connection and then says nothing — stanzas wait in a queue bounded
 * by s2s.maxQueueBytes (past it: <remote-server-timeout/> at once), and when the negotiation
 * times out everything queued bounces with <remote-server-timeout/>; a stream idle for
 * s2s.idleSeconds is closed and opened again for the next stanza; with s2s.allowDialback off
 * neither side authenticates by dialback.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element } from "../support/client.js";
import { startFederatedPair, type FederatedPair } from "../support/federation.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const errorOf = (el: Element) => el.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name;

describe("a remote server that never answers", () => {
  let silent: net.Server;
  let ts: TestServer;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    // accepts and reads, never writes: the stream to it never gets a header back
    silent = net.createServer((s) => (sockets.add(s), s.on("error", () => {})));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    ts = await startTestServer({
      domain: "q.test",
      limits: { handshakeTimeoutSeconds: 3 },
      s2s: { port: 0, routes: { "mute.test": `127.0.0.1:${port}` }, maxQueueBytes: 4096 },
    });
    await ts.addUser("quincy");
  });
  afterAll(async () => {
    await ts?.stop();
    for (const s of sockets) s.destroy();
    silent?.close();
  });

  it("queues up to s2s.maxQueueBytes, bounces the rest at once, and the queue when the handshake times out", async () => {
    const quincy = await connect(ts, "quincy", { resource: "q" });
    const body = "x".repeat(900);
    const sent = Date.now();
    for (let n = 0; n < 8; n++) await quincy.send(xml("message", { to: "mute@mute.test", type: "chat", id: `q${n}` }, xml("body", {}, body)));
    // about four fit in 4 KiB; the others bounce at once
    const early = await quincy.waitFor((el) => el.is("message") && el.attrs.type === "error", 2000);
    expect(errorOf(early)).toBe("remote-server-timeout");
    expect(early.getChild("error")?.getChildText("text")).toMatch(/s2s.maxQueueBytes/);
    expect(Date.now() - sent).toBeLessThan(2000);
    // the rest when limits.handshakeTimeoutSeconds (3 s) runs out: every one of the 8 comes back
    for (let n = 0; n < 8; n++) {
      const bounce = await quincy.waitFor((el) => el.is("message") && el.attrs.id === `q${n}` && el.attrs.type === "error", 10_000);
      expect(errorOf(bounce)).toBe("remote-server-timeout");
    }
    const late = quincy.received.filter((el) => el.attrs.type === "error" && /handshakeTimeout/.test(el.getChild("error")?.getChildText("text") ?? ""));
    expect(late.length).toBeGreaterThan(0);
    expect(late.length).toBeLessThan(8);
    await quincy.stop();
  });
});

describe("an idle stream", () => {
  let pair: FederatedPair;
  beforeAll(async () => {
    pair = await startFederatedPair({ a: { idleSeconds: 1 } });
    await pair.a.addUser("ivy");
    await pair.b.addUser("jack");
  });
  afterAll(async () => pair?.stop());

  it("is closed after s2s.idleSeconds and opened again for the next stanza", async () => {
    const ivy = await connect(pair.a, "ivy", { resource: "i", node: pair.a.nodes[0] });
    const jack = await connect(pair.b, "jack", { resource: "j" });
    await jack.send(xml("presence"));
    await ivy.send(xml("message", { to: "jack@b.test/j", type: "chat" }, xml("body", {}, "one")));
    await jack.waitFor((el) => el.getChildText("body") === "one", 15_000);
    const streams = () => pair.a.nodes[0]!.s2s!.remote.streams().filter((s) => s.domain === "b.test");
    expect(streams()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 2500));
    expect(streams()).toHaveLength(0);
    await ivy.send(xml("message", { to: "jack@b.test/j", type: "chat" }, xml("body", {}, "two")));
    await jack.waitFor((el) => el.getChildText("body") === "two", 15_000);
    await Promise.all([ivy.stop(), jack.stop()]);
  });
});

describe("s2s.allowDialback false", () => {
  let pair: FederatedPair;
  beforeAll(async () => {
    // a.test will not use dialback, b.test will not accept it: with no other way to
    // authenticate (SASL EXTERNAL is not there yet) nothing crosses, and senders are told
    pair = await startFederatedPair({ a: { allowDialback: false }, b: { allowDialback: false } });
    await pair.a.addUser("kim");
    await pair.b.addUser("lou");
  });
  afterAll(async () => pair?.stop());

  it("bounces what a sender sends out and closes a peer's dialback attempt with not-authorized", async () => {
    const kim = await connect(pair.a, "kim", { resource: "k" });
    await kim.send(xml("message", { to: "lou@b.test", type: "chat", id: "nodb" }, xml("body", {}, "hi")));
    const bounce = await kim.waitFor((el) => el.attrs.id === "nodb" && el.attrs.type === "error", 15_000);
    expect(errorOf(bounce)).toBe("remote-server-timeout");
    expect(bounce.getChild("error")?.getChildText("text")).toMatch(/s2s.allowDialback/);
    await kim.stop();

    const raw = await RawConnection.open(pair.ports.b[0]!);
    await raw.startTls("b.test", { from: "a.test" });
    raw.open("b.test", { from: "a.test" });
    const features = await raw.waitFor(/<stream:features[^>]*\/>|<stream:features[ >].*<\/stream:features>/s);
    expect(features).not.toContain("urn:xmpp:features:dialback");
    raw.write(`<db:result from='a.test' to='b.test'>${"0".repeat(64)}</db:result>`);
    await raw.waitFor(/<not-authorized xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/);
    await raw.waitClosed();
  });
});
