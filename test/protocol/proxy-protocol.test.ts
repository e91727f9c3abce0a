/**
 * c2s.proxyProtocol: behind a TCP balancer the per-IP limits must count the client's address from
 * the PROXY header, not the balancer's. Every connection here comes from 127.0.0.1, so only the
 * header can tell the clients apart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({
    c2s: { port: 0, tlsPort: 0, proxyProtocol: true },
    http: { port: 0, trustForwardedFor: true },
    limits: { authFailuresPerIp: 3 },
  });
  await ts.addUser("proxied", "right password");
}, 60_000);

afterAll(() => ts?.stop());

/** One RFC 7395 login attempt with PLAIN, as if through a reverse proxy that set X-Forwarded-For. */
async function wsLoginOutcome(forwardedFor: string | undefined, password: string): Promise<string> {
  const url = `ws://127.0.0.1:${ts.nodes[0]!.ports.http}${ts.config.http.websocketPath}`;
  // the proxy terminated TLS (X-Forwarded-Proto), so PLAIN is offered
  const headers: Record<string, string> = { "x-forwarded-proto": "https" };
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  const ws = new WebSocket(url, "xmpp", { headers });
  const frames: string[] = [];
  const next = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const hit = frames.find((f) => re.test(f));
        if (hit) return resolve(hit);
        setTimeout(check, 10);
      };
      ws.once("close", () => setTimeout(() => reject(new Error(`closed before ${re}: ${frames.join(" ")}`)), 20));
      check();
    });
  ws.on("message", (d: Buffer) => frames.push(d.toString()));
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
  await next(/<mechanisms/);
  ws.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0proxied\0${password}`).toString("base64")}</auth>`);
  const outcome = await next(/<success|<failure/);
  ws.close();
  return /<success/.test(outcome) ? "success" : (/<failure[^>]*><([a-z-]+)/.exec(outcome)?.[1] ?? outcome);
}

const v1 = (ip: string) => `PROXY TCP4 ${ip} 127.0.0.1 40000 5222\r\n`;

function v2ipv4(ip: string): Buffer {
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c]);
  const body = Buffer.alloc(12);
  ip.split(".").forEach((octet, i) => body.writeUInt8(Number(octet), i));
  body.writeUInt16BE(40000, 8);
  body.writeUInt16BE(5223, 10);
  return Buffer.concat([head, body]);
}

const loginOutcome = (conn: RawConnection, password: string) => conn.loginOutcome("proxied", password);

describe("PROXY protocol on the client ports", () => {
  it("throttles failed logins per client address named in the header, not per balancer", async () => {
    // in cluster mode the attempts alternate between the edges, as a balancer spreads them:
    // the allowance is the cluster's (RedisLeasedLimiter, exact for failed logins), not each edge's
    const port = (i: number) => ts.nodes[i % ts.nodes.length]!.ports.c2s;
    for (let i = 0; i < 3; i++) {
      const conn = await RawConnection.open(port(i), { preamble: v1("198.51.100.7") });
      expect(await loginOutcome(conn, "wrong")).toBe("not-authorized");
      conn.close();
    }
    // hits reach the other edges over the bus within a hop; leave it a moment on a busy machine
    await new Promise((r) => setTimeout(r, 100));
    const blocked = await RawConnection.open(port(3), { preamble: v1("198.51.100.7") });
    expect(await loginOutcome(blocked, "right password")).toBe("temporary-auth-failure");
    blocked.close();
    // another client behind the same balancer is not punished for the first one
    const other = await RawConnection.open(port(4), { preamble: v1("198.51.100.8") });
    expect(await loginOutcome(other, "right password")).toBe("success");
    other.close();
  });

  it("takes a v2 header on the direct TLS port, with the ClientHello right behind it", async () => {
    const conn = await RawConnection.open(ts.nodes[0]!.ports.c2sTls, { preamble: v2ipv4("203.0.113.50"), tls: true });
    expect(await loginOutcome(conn, "right password")).toBe("success");
    conn.close();
  });

  it("WebSocket: counts the address the proxy appended to X-Forwarded-For, not the client's own claims", async () => {
    // the client claims 192.0.2.1 itself; the proxy appended the address it saw
    for (let i = 0; i < 3; i++) expect(await wsLoginOutcome("192.0.2.1, 198.51.100.30", "wrong")).toBe("not-authorized");
    await new Promise((r) => setTimeout(r, 100));
    expect(await wsLoginOutcome("198.51.100.30", "right password")).toBe("temporary-auth-failure");
    expect(await wsLoginOutcome("192.0.2.1, 198.51.100.31", "right password")).toBe("success");
    // garbage in the header falls back to the socket's address
    expect(await wsLoginOutcome("not-an-ip", "right password")).toBe("success");
  });

  it("closes a connection that does not start with a PROXY header, before any XMPP", async () => {
    const conn = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    conn.open();
    await conn.waitClosed();
    expect(conn.buffer).toBe("");
    const tlsDirect = await RawConnection.open(ts.nodes[0]!.ports.c2sTls, { preamble: "GET / HTTP/1.1\r\n\r\n" });
    await tlsDirect.waitClosed();
    expect(tlsDirect.buffer).toBe("");
    // a header cut off by the close, and one with a bad address: closed as well
    for (const preamble of ["PROXY TCP4 198.51.1", "PROXY TCP4 198.51.100.300 127.0.0.1 1 2\r\n"]) {
      const bad = await RawConnection.open(ts.nodes[0]!.ports.c2s, { preamble });
      if (preamble.endsWith("\n")) await bad.waitClosed();
      else bad.close();
    }
    // and the port still serves a well-behaved client behind the balancer
    const good = await RawConnection.open(ts.nodes[0]!.ports.c2s, { preamble: v1("198.51.100.99") });
    expect(await loginOutcome(good, "right password")).toBe("success");
    good.close();
  });
});
