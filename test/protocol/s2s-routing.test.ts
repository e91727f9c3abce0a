/**
 * Routing to remote domains under trouble (RFC 6120 §10.4, §13.9.5: nothing silently dropped):
 * a remote that accepts the connection and then says nothing — stanzas wait in a queue bounded
 * by s2s.maxQueueBytes (past it: <remote-server-timeout/> at once), and when the negotiation
 * times out everything queued bounces with <remote-server-timeout/>; a stream idle for
 * s2s.idleSeconds is closed and opened again for the next stanza; with s2s.allowDialback off
 * neither side authenticates by dialback; a certificate s2s.trustedCaFile vouches for is verified.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
    // every bounce counted, on the node that made it
    let bounces = 0;
    for (const node of ts.nodes) {
      const text = await (await fetch(`http://127.0.0.1:${node.ports.http}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith('switchboard_s2s_bounces_total{') && l.includes('condition="remote-server-timeout"'));
      bounces += line ? Number(line.split(" ").at(-1)) : 0;
      expect(text).toMatch(/switchboard_s2s_streams\{[^}]*direction="inbound"/);
    }
    expect(bounces).toBe(8);
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

  it("is closed after s2s.idleSeconds, outbound and inbound, and opened again for the next stanza", async () => {
    const ivy = await connect(pair.a, "ivy", { resource: "i", node: pair.a.nodes[0] });
    const jack = await connect(pair.b, "jack", { resource: "j" });
    await jack.send(xml("presence"));
    await ivy.send(xml("message", { to: "jack@b.test/j", type: "chat" }, xml("body", {}, "one")));
    await jack.waitFor((el) => el.getChildText("body") === "one", 15_000);
    const streams = () => pair.a.nodes[0]!.s2s!.remote.streams().filter((s) => s.domain === "b.test");
    expect(streams()).toHaveLength(1);
    // b.test writes to a.test too, so a.test holds an inbound stream from it
    await ivy.send(xml("presence"));
    await jack.send(xml("message", { to: "ivy@a.test/i", type: "chat" }, xml("body", {}, "back")));
    await ivy.waitFor((el) => el.getChildText("body") === "back", 15_000);
    const inbound = async () => {
      const text = await (await fetch(`http://127.0.0.1:${pair.a.nodes[0]!.ports.http}/metrics`)).text();
      return Number(text.split("\n").find((l) => l.startsWith("switchboard_s2s_streams{") && l.includes('direction="inbound"'))?.split(" ").at(-1) ?? "NaN");
    };
    expect(await inbound()).toBe(1);
    await new Promise((r) => setTimeout(r, 2500));
    // both its outbound and its inbound stream: idle, closed
    expect(streams()).toHaveLength(0);
    expect(await inbound()).toBe(0);
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

describe("s2s.trustedCaFile", () => {
  let pair: FederatedPair;
  let dir: string;
  beforeAll(async () => {
    // b.test's certificate, made here so that a.test can be told to trust it
    dir = mkdtempSync(join(tmpdir(), "sb-s2s-ca-"));
    const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=b.test", "-addext", "subjectAltName=DNS:b.test",
      "-keyout", join(dir, "b.key"), "-out", join(dir, "b.pem")], { stdio: "ignore" });
    expect(made.status).toBe(0);
    pair = await startFederatedPair({ a: { trustedCaFile: join(dir, "b.pem") }, config: { b: { tls: { cert: join(dir, "b.pem"), key: join(dir, "b.key") } } } });
    await pair.a.addUser("mia");
    await pair.b.addUser("ned");
  });
  afterAll(async () => {
    await pair?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("verifies a remote certificate it trusts, for the remote's name, and not one it does not", async () => {
    const mia = await connect(pair.a, "mia", { resource: "m", node: pair.a.nodes[0] });
    const ned = await connect(pair.b, "ned", { resource: "n", node: pair.b.nodes[0] });
    await ned.send(xml("presence"));
    await mia.send(xml("message", { to: "ned@b.test/n", type: "chat" }, xml("body", {}, "verified?")));
    await ned.waitFor((el) => el.getChildText("body") === "verified?", 15_000);
    await mia.send(xml("presence"));
    await ned.send(xml("message", { to: "mia@a.test/m", type: "chat" }, xml("body", {}, "and back")));
    await mia.waitFor((el) => el.getChildText("body") === "and back", 15_000);
    const certificate = (ts: TestServer, domain: string) => ts.nodes[0]!.s2s!.remote.streams().find((s) => s.domain === domain)?.certificate;
    expect(certificate(pair.a, "b.test")).toBe("verified");
    // b.test trusts no CA for a.test's generated certificate: still carried, by dialback
    expect(certificate(pair.b, "a.test")).toBe("unverified");
    await Promise.all([mia.stop(), ned.stop()]);
  });
});
