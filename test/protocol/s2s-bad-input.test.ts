/**
 * Bad input on the s2s port (RFC 6120 §4.9.3, XEP-0220 §2.4): each gets its stream error while
 * the real peer domain is served all along — a stream to a domain we do not serve, garbage
 * before and after TLS, stanzas before authentication, a dialback key that does not verify, a
 * spoofed `from`, an oversized stanza, a blocked domain, too many connections from one address.
 * The raw peer claims to be a.test (the pair's other server); where it must pass dialback, the
 * test computes a.test's real key from its server secret, as a.test's own nodes would.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DialbackKeys } from "@switchboard/s2s";
import { connect, xml, type Element } from "../support/client.js";
import { startFederatedPair, type FederatedPair } from "../support/federation.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer } from "../support/server.js";

let pair: FederatedPair;
let port: number;
/** a server that accepts and never answers: a dialback check against it waits */
let silent: net.Server;
const held = new Set<net.Socket>();

beforeAll(async () => {
  silent = net.createServer((s) => (held.add(s), s.on("error", () => {})));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const silentAt = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const slowRoutes = Object.fromEntries(Array.from({ length: 5 }, (_, n) => [`slow${n}.test`, silentAt]));
  pair = await startFederatedPair({ b: { maxStanzaBytes: 4096, blockedDomains: ["blocked.test"], connectionsPerIp: 3 }, extraRoutes: slowRoutes });
  port = pair.ports.b[0]!;
  await pair.a.addUser("alice");
  await pair.b.addUser("bob");
});
afterAll(async () => {
  await pair?.stop();
  for (const s of held) s.destroy();
  silent?.close();
});

/** a raw peer on its own loopback address, so the per-address cap sees it alone */
const raw = (n: number) => RawConnection.open(port, { localAddress: `127.0.0.${100 + n}` });

async function expectStreamError(conn: RawConnection, condition: string): Promise<void> {
  await conn.waitFor(new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']`));
  await conn.waitClosed();
}

/** STARTTLS, the stream again over TLS, and its id (the dialback key's input) */
async function secured(conn: RawConnection, from = "a.test"): Promise<string> {
  await conn.startTls("b.test", { from });
  conn.open("b.test", { from });
  const header = await conn.waitFor(/<stream:features[ >].*<\/stream:features>/s);
  return /id='([0-9a-f]+)'/.exec(header)![1]!;
}

const aKeys = () => new DialbackKeys(Buffer.from(readFileSync(join(pair.a.dataDir, "server-secret"), "utf8").trim(), "hex"));

/** the federation still works after each bad peer */
async function stillServed(body: string): Promise<void> {
  const bob = await connect(pair.b, "bob", { resource: body });
  await bob.send(xml("presence"));
  const alice = await connect(pair.a, "alice", { resource: body });
  await alice.send(xml("message", { to: `bob@b.test/${body}`, type: "chat" }, xml("body", {}, body)));
  await bob.waitFor((el: Element) => el.getChildText("body") === body, 15_000);
  await Promise.all([alice.stop(), bob.stop()]);
}

describe("bad input on the s2s port", () => {
  it("closes a stream to a domain it does not serve with host-unknown, and one in jabber:client with invalid-namespace", async () => {
    const conn = await raw(1);
    conn.open("other.test", { from: "a.test" });
    await expectStreamError(conn, "host-unknown");
    const client = await raw(1);
    client.open("b.test");
    await expectStreamError(client, "invalid-namespace");
    await stillServed("after-host-unknown");
  });

  it("answers garbage before TLS with not-well-formed, a stanza before STARTTLS with policy-violation, cuts garbage instead of TLS, answers garbage after TLS with not-well-formed", async () => {
    const early = await raw(2);
    early.write("GET / HTTP/1.1\r\n\r\n");
    await expectStreamError(early, "not-well-formed");
    const plain = await raw(2);
    plain.open("b.test", { from: "a.test" });
    await plain.waitFor(/<\/stream:features>/);
    plain.write("<message from='x@a.test' to='bob@b.test'><body>clear</body></message>");
    await expectStreamError(plain, "policy-violation");
    // garbage where the TLS handshake should be: no stream error can be read any more, the
    // connection is cut (RFC 6120 §5.4.3.2)
    const mid = await raw(2);
    mid.open("b.test", { from: "a.test" });
    await mid.waitFor(/<\/stream:features>/);
    mid.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await mid.waitFor(/<proceed/);
    mid.write("this is not a ClientHello\r\n".repeat(20));
    await mid.waitClosed();
    const late = await raw(2);
    await secured(late);
    late.write("<<garbage>>");
    await expectStreamError(late, "not-well-formed");
    await stillServed("after-garbage");
  });

  it("refuses stanzas before a domain is authenticated, with not-authorized", async () => {
    const conn = await raw(3);
    await secured(conn);
    conn.write("<message from='x@a.test' to='bob@b.test' type='chat'><body>unauthenticated</body></message>");
    await expectStreamError(conn, "not-authorized");
  });

  it("answers a dialback key that does not verify with an invalid result and not-authorized", async () => {
    const conn = await raw(4);
    await secured(conn);
    conn.write(`<db:result from='a.test' to='b.test'>${"0".repeat(64)}</db:result>`);
    await conn.waitFor(/<db:result[^>]*type=["']invalid/);
    await expectStreamError(conn, "not-authorized");
    await stillServed("after-bad-key");
  });

  it("closes an authenticated stream that sends a stanza from another domain with invalid-from", async () => {
    const conn = await raw(5);
    const id = await secured(conn);
    conn.write(`<db:result from='a.test' to='b.test'>${aKeys().key("b.test", "a.test", id)}</db:result>`);
    await conn.waitFor(/<db:result[^>]*type=["']valid/, 15_000);
    // a genuine stanza of a.test goes through
    const bob = await connect(pair.b, "bob", { resource: "victim" });
    await bob.send(xml("presence"));
    conn.write("<message from='eve@a.test/x' to='bob@b.test/victim' type='chat'><body>genuine</body></message>");
    await bob.waitFor((el: Element) => el.getChildText("body") === "genuine", 15_000);
    conn.write("<message from='mallory@c.test/x' to='bob@b.test/victim' type='chat'><body>spoofed</body></message>");
    await expectStreamError(conn, "invalid-from");
    await bob.expectNone((el: Element) => el.getChildText("body") === "spoofed");
    await bob.stop();
  });

  it("closes a stream with a stanza over s2s.maxStanzaBytes with policy-violation, one to a domain it does not serve with host-unknown", async () => {
    const keys = aKeys();
    const big = await raw(6);
    const id = await secured(big);
    big.write(`<db:result from='a.test' to='b.test'>${keys.key("b.test", "a.test", id)}</db:result>`);
    await big.waitFor(/type=["']valid/, 15_000);
    big.write(`<message from='eve@a.test/x' to='bob@b.test' type='chat'><body>${"x".repeat(8192)}</body></message>`);
    await expectStreamError(big, "policy-violation");
    const astray = await raw(6);
    const id2 = await secured(astray);
    astray.write(`<db:result from='a.test' to='b.test'>${keys.key("b.test", "a.test", id2)}</db:result>`);
    await astray.waitFor(/type=["']valid/, 15_000);
    astray.write("<message from='eve@a.test/x' to='someone@elsewhere.test' type='chat'><body>astray</body></message>");
    await expectStreamError(astray, "host-unknown");
    await stillServed("after-oversized");
  });

  it("refuses a blocked domain both ways: its dialback with policy-violation, stanzas to it with not-allowed", async () => {
    // named in the header: refused at once
    const named = await raw(7);
    named.open("b.test", { from: "blocked.test" });
    await expectStreamError(named, "policy-violation");
    // or only in the dialback request, on a stream that said it was someone else
    const conn = await raw(7);
    await secured(conn);
    conn.write(`<db:result from='blocked.test' to='b.test'>${"1".repeat(64)}</db:result>`);
    await expectStreamError(conn, "policy-violation");
    const bob = await connect(pair.b, "bob", { resource: "blocker" });
    await bob.send(xml("message", { to: "someone@blocked.test", type: "chat", id: "to-blocked" }, xml("body", {}, "hi")));
    const bounce = await bob.waitFor((el: Element) => el.attrs.id === "to-blocked");
    expect(bounce.attrs.type).toBe("error");
    expect(bounce.getChild("error")?.getChild("not-allowed")).toBeDefined();
    await bob.stop();
  });

  it("closes a stream that asks for more dialback checks at once than it may with policy-violation", async () => {
    const conn = await raw(10);
    await secured(conn);
    // five domains whose authoritative server takes the connection and never answers
    for (let n = 0; n < 5; n++) conn.write(`<db:result from='slow${n}.test' to='b.test'>${"2".repeat(64)}</db:result>`);
    await expectStreamError(conn, "policy-violation");
    await stillServed("after-many-dialback");
  });

  it("closes connections from one address past s2s.connectionsPerIp at accept", async () => {
    const held = [await raw(8), await raw(8), await raw(8)];
    for (const c of held) c.open("b.test", { from: "a.test" });
    for (const c of held) await c.waitFor(/<\/stream:features>/);
    const extra = await raw(8);
    await extra.waitClosed();
    expect(extra.buffer).toBe("");
    // another address is not affected
    const other = await raw(9);
    other.open("b.test", { from: "a.test" });
    await other.waitFor(/<\/stream:features>/);
    for (const c of [...held, other]) c.close();
  });
});

describe("federation turned off (s2s.enabled false)", () => {
  it("listens on no s2s port and bounces stanzas to other domains with remote-server-not-found", async () => {
    const ts = await startTestServer({ domain: "solo.test", s2s: { enabled: false } });
    try {
      expect(ts.nodes.every((n) => n.ports.s2s === 0 && n.s2s === undefined)).toBe(true);
      await ts.addUser("solo");
      const solo = await connect(ts, "solo", { resource: "s" });
      await solo.send(xml("message", { to: "x@a.test", type: "chat", id: "off" }, xml("body", {}, "hi")));
      const bounce = await solo.waitFor((el: Element) => el.attrs.id === "off");
      expect(bounce.getChild("error")?.getChild("remote-server-not-found")).toBeDefined();
      await solo.stop();
    } finally {
      await ts.stop();
    }
  });
});
