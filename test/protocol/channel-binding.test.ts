/**
 * SCRAM -PLUS with channel binding (RFC 5802 §6) and its advertisement (XEP-0440), over real TLS:
 * direct TLS (XEP-0368) and STARTTLS, TLS 1.3 (tls-exporter, RFC 9266) and TLS 1.2, and every way
 * a client can get the gs2 flags or the binding data wrong. The client here computes its binding
 * from its own end of the connection (test/support/scram.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { RawConnection } from "../support/raw.js";
import { clientChannelBinding, scramClient, type ScramTestClient } from "../support/scram.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  // many failures from 127.0.0.1 on purpose: keep the per-IP throttle out of the way
  ts = await startTestServer({ limits: { authFailuresPerIp: 1000 } });
  await ts.addUser("alice");
});
afterAll(async () => ts?.stop());

type Channel = "direct" | "starttls";

/** A TLS stream on the next node, opened up to its features. */
async function secured(channel: Channel, tlsOptions?: import("node:tls").ConnectionOptions): Promise<{ raw: RawConnection; features: string }> {
  const node = ts.nextNode();
  let raw: RawConnection;
  if (channel === "direct") raw = await RawConnection.open(node.ports.c2sTls, { tls: true, tlsOptions });
  else {
    raw = await RawConnection.open(node.ports.c2s);
    await raw.startTls();
  }
  raw.open();
  const features = await raw.waitFor(/<\/stream:features>/);
  raw.buffer = "";
  return { raw, features };
}

/** One SCRAM exchange: "success" (the server signature checked) or the failure condition. */
async function scram(raw: RawConnection, mechanism: string, client: ScramTestClient, cbind?: Buffer): Promise<string> {
  raw.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${client.first().toString("base64")}</auth>`);
  const first = await raw.waitFor(/<challenge[^>]*>[^<]*<\/challenge>|<failure[\s\S]*<\/failure>/);
  const failed = /<failure[^>]*><([a-z-]+)/.exec(first);
  if (failed) return failed[1]!;
  const serverFirst = Buffer.from(/<challenge[^>]*>([^<]*)<\/challenge>/.exec(first)![1]!, "base64");
  raw.buffer = "";
  raw.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${client.final(serverFirst, cbind).toString("base64")}</response>`);
  const last = await raw.waitFor(/<success[^>]*>[^<]*<\/success>|<success[^>]*\/>|<failure[\s\S]*<\/failure>/);
  const condition = /<failure[^>]*><([a-z-]+)/.exec(last);
  if (condition) return condition[1]!;
  const data = Buffer.from(/<success[^>]*>([^<]*)<\/success>/.exec(last)?.[1] ?? "", "base64").toString();
  expect(data).toBe(client.expectedServerFinal);
  return "success";
}

describe.each<Channel>(["direct", "starttls"])("channel binding over %s TLS 1.3", (channel) => {
  it("advertises the -PLUS mechanisms and the binding types (XEP-0440)", async () => {
    const { raw, features } = await secured(channel);
    expect(features).toMatch(/<mechanism>SCRAM-SHA-256-PLUS<\/mechanism><mechanism>SCRAM-SHA-1-PLUS<\/mechanism><mechanism>SCRAM-SHA-256<\/mechanism>/);
    expect(features).toContain(
      '<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0"><channel-binding type="tls-exporter"/><channel-binding type="tls-server-end-point"/></sasl-channel-binding>',
    );
    raw.close();
  });

  it.each([
    ["SCRAM-SHA-256-PLUS", "tls-exporter"],
    ["SCRAM-SHA-1-PLUS", "tls-exporter"],
    ["SCRAM-SHA-256-PLUS", "tls-server-end-point"],
    ["SCRAM-SHA-1-PLUS", "tls-server-end-point"],
  ] as const)("logs in with %s over %s and binds a resource", async (mechanism, type) => {
    const { raw } = await secured(channel);
    const client = scramClient(mechanism, "alice", "secret", { gs2Header: `p=${type},,`, cbData: clientChannelBinding(raw.tlsSocket!, type) });
    expect(await scram(raw, mechanism, client)).toBe("success");
    raw.buffer = "";
    raw.open();
    await raw.waitFor(/<\/stream:features>/);
    raw.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>plus</resource></bind></iq>");
    await raw.waitFor(/<jid>alice@localhost\/plus<\/jid>/);
    raw.close();
  });

  it("refuses the binding data of another connection with not-authorized", async () => {
    const other = await secured(channel);
    const { raw } = await secured(channel);
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(other.raw.tlsSocket!, "tls-exporter") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", client)).toBe("not-authorized");
    other.raw.close();
    raw.close();
  });

  it("refuses a c= that leaves the binding data out with not-authorized", async () => {
    const { raw } = await secured(channel);
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(raw.tlsSocket!, "tls-exporter") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", client, Buffer.from("p=tls-exporter,,"))).toBe("not-authorized");
    raw.close();
  });

  it("refuses an unknown binding type with not-authorized", async () => {
    const { raw } = await secured(channel);
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-made-up,,", cbData: Buffer.from("x") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", client)).toBe("not-authorized");
    raw.close();
  });

  it("detects a downgrade: 'y' while -PLUS is offered is not-authorized", async () => {
    const { raw } = await secured(channel);
    expect(await scram(raw, "SCRAM-SHA-256", scramClient("SCRAM-SHA-256", "alice", "secret", { gs2Header: "y,," }))).toBe("not-authorized");
    raw.close();
  });

  it("accepts 'n' (a client that cannot bind) with plain SCRAM", async () => {
    const { raw } = await secured(channel);
    expect(await scram(raw, "SCRAM-SHA-256", scramClient("SCRAM-SHA-256", "alice", "secret"))).toBe("success");
    raw.close();
  });

  it("refuses 'p=' with a mechanism without -PLUS, and 'n' with a -PLUS one, as malformed", async () => {
    const a = await secured(channel);
    const bound = scramClient("SCRAM-SHA-256", "alice", "secret", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(a.raw.tlsSocket!, "tls-exporter") });
    expect(await scram(a.raw, "SCRAM-SHA-256", bound)).toBe("malformed-request");
    a.raw.close();
    const b = await secured(channel);
    expect(await scram(b.raw, "SCRAM-SHA-256-PLUS", scramClient("SCRAM-SHA-256-PLUS", "alice", "secret"))).toBe("malformed-request");
    b.raw.close();
  });

  it("refuses a wrong password over -PLUS exactly like without binding", async () => {
    const { raw } = await secured(channel);
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "wrong", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(raw.tlsSocket!, "tls-exporter") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", client)).toBe("not-authorized");
    raw.close();
  });

  it("COMPAT: accepts tls-unique on TLS 1.3 as the client's Finished (CPython's value) without advertising it", async () => {
    const { raw, features } = await secured(channel);
    expect(features).not.toContain("tls-unique");
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-unique,,", cbData: clientChannelBinding(raw.tlsSocket!, "tls-unique") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", client)).toBe("success");
    raw.close();
  });
});

describe("channel binding over TLS 1.2", () => {
  it("offers tls-server-end-point and tls-unique, not tls-exporter (RFC 9266 §3), and logs in with both", async () => {
    const tls12 = { maxVersion: "TLSv1.2" } as const;
    const { raw, features } = await secured("direct", tls12);
    expect(raw.tlsSocket!.getProtocol()).toBe("TLSv1.2");
    expect(features).toContain('<channel-binding type="tls-server-end-point"/><channel-binding type="tls-unique"/>');
    expect(features).not.toContain("tls-exporter");
    const exporter = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(raw.tlsSocket!, "tls-exporter") });
    expect(await scram(raw, "SCRAM-SHA-256-PLUS", exporter)).toBe("not-authorized");
    raw.close();
    for (const type of ["tls-unique", "tls-server-end-point"] as const) {
      const next = await secured("direct", tls12);
      const client = scramClient("SCRAM-SHA-1-PLUS", "alice", "secret", { gs2Header: `p=${type},,`, cbData: clientChannelBinding(next.raw.tlsSocket!, type) });
      expect(await scram(next.raw, "SCRAM-SHA-1-PLUS", client)).toBe("success");
      next.raw.close();
    }
  });
});

describe("channel binding without a TLS of ours", () => {
  it("offers no -PLUS and no sasl-channel-binding over WebSocket whose TLS a proxy ended", async () => {
    const url = `ws://127.0.0.1:${ts.nextNode().ports.http}${ts.config.http.websocketPath}`;
    const ws = new WebSocket(url, "xmpp", { headers: { "x-forwarded-proto": "https" } });
    const frames: string[] = [];
    ws.on("message", (d: Buffer) => frames.push(d.toString()));
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    const deadline = Date.now() + 5000;
    while (!frames.some((f) => f.includes("<mechanisms")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const features = frames.find((f) => f.includes("<mechanisms"))!;
    expect(features).toContain("<mechanism>PLAIN</mechanism>");
    expect(features).not.toContain("-PLUS");
    expect(features).not.toContain("sasl-channel-binding");
    ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>${Buffer.from("p=tls-exporter,,n=alice,r=abc").toString("base64")}</auth>`);
    while (!frames.some((f) => f.includes("<failure")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(frames.find((f) => f.includes("<failure"))).toContain("<invalid-mechanism/>");
    ws.close();
  });
});
