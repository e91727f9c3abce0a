import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Transport } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { RawConnection } from "../support/raw.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("alice");
  await ts.addUser("bob");
});
afterAll(async () => ts?.stop());

describe.each<Transport>(["tcp", "websocket"])("login over %s", (transport) => {
  it("authenticates with SCRAM and binds the requested resource", async () => {
    const c = await connect(ts, "alice", { transport, resource: "laptop" });
    expect(c.jid).toBe("alice@localhost/laptop");
    await c.stop();
  });

  it("assigns a resource when the client asks for none", async () => {
    const c = await connect(ts, "bob", { transport });
    expect(c.jid).toMatch(/^bob@localhost\/.+/);
    await c.stop();
  });

  it("refuses a wrong password with not-authorized", async () => {
    await expect(connect(ts, "alice", { transport, password: "wrong" })).rejects.toThrow(/not-authorized/);
  });

  it("refuses an unknown user exactly like a wrong password", async () => {
    await expect(connect(ts, "nobody", { transport })).rejects.toThrow(/not-authorized/);
  });
});

describe("stream negotiation", () => {
  it("requires STARTTLS before authentication on the plain port", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    raw.open();
    const features = await raw.waitFor(/<\/stream:features>/);
    expect(features).toContain("<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"><required/></starttls>");
    expect(features).not.toContain("mechanisms");
    raw.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHNlY3JldA==</auth>");
    await raw.waitFor(/policy-violation/);
    await raw.waitClosed();
  });

  it("offers PLAIN only after TLS and accepts the legacy session request", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.startTls();
    raw.open();
    const features = await raw.waitFor(/<\/stream:features>/);
    expect(features).toContain("<mechanism>PLAIN</mechanism>");
    expect(features).toContain("<mechanism>SCRAM-SHA-256</mechanism>");
    raw.close();
    const r2 = await RawConnection.open(ts.server.ports.c2s);
    await r2.login("alice", "secret", "legacy");
    r2.write("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    await r2.waitFor(/<iq[^>]*type="result"[^>]*id="s1"|<iq[^>]*id="s1"[^>]*type="result"/);
    // COMPAT: some clients address it to the domain
    r2.write("<iq type='set' id='s2' to='localhost'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    await r2.waitFor(/<iq[^>]*type="result"[^>]*id="s2"|<iq[^>]*id="s2"[^>]*type="result"/);
    r2.write(" \n ");
    r2.write("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    await r2.waitFor(/id="p1"/);
    r2.write("</stream:stream>");
    await r2.waitFor(/<\/stream:stream>/);
    await r2.waitClosed();
  });

  it("answers a stream to an unknown host with host-unknown", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    raw.open("example.org");
    await raw.waitFor(/host-unknown/);
    await raw.waitClosed();
  });

  it("logs in over direct TLS (XEP-0368)", async () => {
    const { client } = await import("@xmpp/client");
    const xmpp = client({ service: `xmpps://127.0.0.1:${ts.server.ports.c2sTls}`, domain: "localhost", username: "alice", password: "secret", resource: "direct" });
    xmpp.reconnect.stop();
    xmpp.on("error", () => {});
    const address = await xmpp.start();
    expect(address.toString()).toBe("alice@localhost/direct");
    const pong = await xmpp.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    await xmpp.stop();
  });

  it("replaces a resource bound twice and sends the old stream <conflict/>", async () => {
    // in cluster mode the two streams sit on different edges
    const first = await RawConnection.open(ts.nodes.at(-1)!.ports.c2s);
    await first.login("bob", "secret", "same");
    const second = await connect(ts, "bob", { resource: "same", node: ts.nodes[0] });
    await first.waitFor(/<conflict/);
    await first.waitClosed();
    expect(second.jid).toBe("bob@localhost/same");
    await second.stop();
  });
});
