/**
 * Hostile input: each attack gets the right stream error and a closed connection, and users
 * already online keep being served (nothing accepted is lost, the process does not fall over).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { RawConnection } from "../support/raw.js";

let ts: TestServer;
let alice: TestClient;
let bob: TestClient;
let n = 0;

beforeAll(async () => {
  // the sender's byte rate above what the slow-receiver case sends (it is about the receiver)
  ts = await startTestServer({ limits: { maxStanzaBytes: 16384, outboundBufferBytes: 262144, congestionTimeoutSeconds: 2, userBytesPerSecond: 10_000_000 } });
  for (const u of ["alice", "bob", "mallory", "slow"]) await ts.addUser(u);
  alice = await connect(ts, "alice", { resource: "a" });
  bob = await connect(ts, "bob", { resource: "b", transport: "websocket" });
  await alice.send(xml("presence"));
  await bob.send(xml("presence"));
});
afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await ts?.stop();
});

/** proves that the others are still served after an attack */
async function othersStillServed(): Promise<void> {
  const text = `still here ${++n}`;
  await alice.send(xml("message", { to: "bob@localhost/b", type: "chat" }, xml("body", {}, text)));
  await bob.waitFor((el) => el.getChildText("body") === text);
}

describe("hostile input", () => {
  it("closes a stream that sends XML that is not well-formed", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    raw.open();
    await raw.waitFor(/<\/stream:features>/);
    raw.write("<message><body>oops</message>");
    await raw.waitFor(/<not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await raw.waitClosed();
    await othersStillServed();
  });

  it("refuses a billion-laughs DOCTYPE with restricted-xml", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    raw.write(
      `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
        `<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
        `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>&lol3;`,
    );
    await raw.waitFor(/restricted-xml/);
    await raw.waitClosed();
    await othersStillServed();
  });

  it("survives an undefined entity (which makes the underlying parser throw)", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.login("mallory", "secret", "ent");
    raw.write("<message to='bob@localhost/b'><body>&undefinedentity;</body></message>");
    await raw.waitFor(/<(restricted-xml|not-well-formed)/);
    await raw.waitClosed();
    await othersStillServed();
  });

  it("closes a stream that sends an oversized stanza with policy-violation", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.login("mallory", "secret", "big");
    raw.write(`<message to='bob@localhost/b'><body>${"A".repeat(20000)}</body></message>`);
    await raw.waitFor(/<policy-violation/);
    await raw.waitClosed();
    await bob.expectNone((el) => (el.getChildText("body") ?? "").startsWith("AAAA"), 100);
    await othersStillServed();
  });

  it("refuses a spoofed from with invalid-from and delivers nothing", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.login("mallory", "secret", "spoof");
    raw.write("<message from='alice@localhost/a' to='bob@localhost/b' type='chat'><body>I am alice</body></message>");
    await raw.waitFor(/<invalid-from/);
    await raw.waitClosed();
    await bob.expectNone((el) => el.getChildText("body") === "I am alice", 100);
    await othersStillServed();
  });

  it("closes a client that stops reading once it made no progress for limits.congestionTimeoutSeconds, instead of buffering without bound", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.login("slow", "secret", "stuck");
    raw.write("<presence/>");
    await new Promise((r) => setTimeout(r, 100));
    raw.pause();
    const chunk = "x".repeat(8000);
    for (let i = 0; i < 2000 && !raw.closed; i++) {
      await alice.send(xml("message", { to: "slow@localhost/stuck", type: "chat" }, xml("body", {}, chunk)));
      if (i % 100 === 99) {
        await alice.iq(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
        const online = await ts.server.host.registry.get("slow@localhost/stuck");
        if (!online) break;
      }
    }
    // congested, the stream is cut once nothing was read for 2 s; its registry entry goes a moment
    // later (in cluster mode the unbind is a Redis write plus a notice every edge confirms)
    await expect.poll(() => ts.server.host.registry.get("slow@localhost/stuck"), { timeout: 15_000 }).toBeUndefined();
    raw.close();
    await othersStillServed();
  });

  it("throttles failed logins per IP", async () => {
    const tries: string[] = [];
    for (let i = 0; i < 8; i++) {
      const raw = await RawConnection.open(ts.server.ports.c2s);
      await raw.startTls();
      raw.open();
      await raw.waitFor(/<\/stream:features>/);
      raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from("\0mallory\0wrong").toString("base64")}</auth>`);
      const out = await raw.waitFor(/<\/failure>|<failure[^>]*\/>/);
      tries.push(/temporary-auth-failure/.test(out) ? "throttled" : "refused");
      raw.close();
    }
    expect(tries.slice(0, 5)).toEqual(["refused", "refused", "refused", "refused", "refused"]);
    expect(tries.at(-1)).toBe("throttled");
    await othersStillServed();
  });
});
