/**
 * http.tlsPort's TLS handshakes queue for the same slots as the client ports'
 * (limits.maxConcurrentHandshakes): while every slot is taken an HTTPS client gets no
 * ServerHello, and it is served as soon as one is given back. A handshake that never ends is cut
 * by limits.tlsHandshakeSeconds. And the upload service is offered only where it can work.
 */
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@switchboard/bench";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest, rawIq, slotRequest } from "../support/upload.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { maxConcurrentHandshakes: 1, tlsHandshakeSeconds: 2 } }, { perNode: async () => ({ http: { tlsPort: await freePort() } }) });
});
afterAll(async () => ts?.stop());

describe("where HTTP File Upload is offered", () => {
  it("on one node with files on disk; not in a cluster without upload.s3.endpoint, nor with http.tlsPort 0", async () => {
    await ts.addUser("looker");
    const c = await connect(ts, "looker", { resource: "where" });
    const items = await c.iq(xml("iq", { type: "get", to: ts.domain }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    const listed = items.getChild("query")!.getChildren("item").some((i) => i.attrs.jid === `upload.${ts.domain}`);
    const answer = await rawIq(c, slotRequest(ts.domain, { filename: "a.txt", size: "1" }));
    // a cluster needs a store every edge sees (ARCHITECTURE "Edges are stateless")
    expect(listed).toBe(ts.mode === "embedded");
    expect(answer.attrs.type).toBe(ts.mode === "embedded" ? "result" : "error");
    await c.stop();
    // and without HTTPS there is nowhere to serve files (XEP-0363 §5)
    const plain = await startTestServer({}, { mode: "embedded" });
    await plain.addUser("looker");
    const p = await connect(plain, "looker", { resource: "plain" });
    const plainItems = await p.iq(xml("iq", { type: "get", to: plain.domain }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    expect(plainItems.getChild("query")!.getChildren("item").map((i) => i.attrs.jid)).not.toContain(`upload.${plain.domain}`);
    expect((await rawIq(p, slotRequest(plain.domain, { filename: "a.txt", size: "1" }))).attrs.type).toBe("error");
    await p.stop();
    await plain.stop();
  });
});

describe("the HTTPS port and limits.maxConcurrentHandshakes", () => {
  it("holds a TLS handshake while the slots are taken and completes it once one is free", async () => {
    const slots = ts.server.c2s!.handshakeSlots;
    let release: (() => void) | undefined;
    slots.request("tls", (r) => (release = r));
    expect(slots.inFlight).toBe(1);
    let secured = false;
    const socket = tls.connect({ host: "127.0.0.1", port: ts.server.ports.httpTls, rejectUnauthorized: false, servername: "localhost" }, () => (secured = true));
    socket.on("error", () => {});
    await new Promise((r) => setTimeout(r, 300));
    expect(secured).toBe(false);
    expect(slots.queued).toBe(1);
    release!();
    await new Promise((r) => setTimeout(r, 300));
    expect(secured).toBe(true);
    socket.destroy();
    expect((await httpsRequest("GET", `https://127.0.0.1:${ts.server.ports.httpTls}/healthz`)).status).toBe(200);
  });

  it("cuts a connection that never completes its handshake after limits.tlsHandshakeSeconds", async () => {
    const socket = net.connect(ts.server.ports.httpTls, "127.0.0.1");
    const closed = new Promise<number>((resolve) => {
      const started = Date.now();
      socket.on("close", () => resolve(Date.now() - started));
    });
    socket.on("error", () => {});
    const after = await closed;
    expect(after).toBeGreaterThan(1500);
    expect(after).toBeLessThan(4000);
  });
});

describe("http.tlsProxyProtocol", () => {
  it("takes the client's address from a PROXY header before the TLS handshake and closes connections without one", async () => {
    const behind = await startTestServer({ http: { tlsProxyProtocol: true } }, { perNode: async () => ({ http: { tlsPort: await freePort() } }) });
    try {
      const node = behind.server;
      const raw = net.connect(node.ports.httpTls, "127.0.0.1");
      await new Promise((r) => raw.once("connect", r));
      raw.write("PROXY TCP4 203.0.113.7 127.0.0.1 40000 5443\r\n");
      const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: "localhost" });
      await new Promise((r) => secure.once("secureConnect", r));
      secure.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
      const answer = await new Promise<string>((resolve) => secure.once("data", (d: Buffer) => resolve(d.toString())));
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      // counted as the client it names, not as the balancer (127.0.0.1)
      expect(node.c2s!.admission.countFor("203.0.113.7")).toBe(1);
      secure.destroy();
      // without a header: closed, nothing served
      const bare = tls.connect({ host: "127.0.0.1", port: node.ports.httpTls, rejectUnauthorized: false, servername: "localhost" });
      const outcome = await new Promise<string>((resolve) => {
        bare.once("secureConnect", () => resolve("secure"));
        bare.once("error", () => resolve("refused"));
        bare.once("close", () => resolve("refused"));
      });
      expect(outcome).toBe("refused");
    } finally {
      await behind.stop();
    }
  });
});
