/**
 * http.tlsPort's TLS handshakes queue for the same slots as the client ports'
 * (limits.maxConcurrentHandshakes): while every slot is taken an HTTPS client gets no
 * ServerHello, and it is served as soon as one is given back. A handshake that never ends is cut
 * by limits.tlsHandshakeSeconds.
 */
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@switchboard/bench";
import { startTestServer, type TestServer } from "../support/server.js";
import { httpsRequest } from "../support/upload.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { maxConcurrentHandshakes: 1, tlsHandshakeSeconds: 2 } }, { perNode: async () => ({ http: { tlsPort: await freePort() } }) });
});
afterAll(async () => ts?.stop());

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
