/**
 * Connections that never authenticate are bounded in time and in number (limits.tlsHandshakeSeconds,
 * limits.maxUnauthenticated, limits.maxUnauthenticatedPerIp): raw sockets that send nothing, half a
 * ClientHello, or a byte every so often are closed within their bound, and an address over its cap
 * has its new connections closed at once — while a normal client from another address logs in.
 */
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const TLS_BOUND_MS = 1_000;
const PER_IP_CAP = 5;
/** what the bound may be late by on a loaded machine */
const SLACK_MS = 1_500;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { tlsHandshakeSeconds: TLS_BOUND_MS / 1000, maxUnauthenticatedPerIp: PER_IP_CAP } });
  await ts.addUser("alice");
  for (let i = 0; i < PER_IP_CAP + 2; i++) await ts.addUser(`crowd${i}`);
});
afterAll(async () => {
  await ts?.stop();
});

/** A plain TCP socket from `localAddress` that records when the server closed it. */
async function rawSocket(port: number, localAddress = "127.0.0.1"): Promise<{ socket: net.Socket; closedAfter: () => Promise<number> }> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  socket.on("data", () => {});
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - opened)));
  return { socket, closedAfter: () => closed };
}

/** The first bytes a real TLS client sends: a ClientHello, captured from node's own TLS client. */
async function clientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.once("data", (chunk: Buffer) => {
        resolve(chunk);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      const client = tls.connect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false });
      client.on("error", () => {});
    });
    server.on("error", reject);
  });
}

async function expectClosedWithinBound(closedAfter: () => Promise<number>): Promise<void> {
  const ms = await closedAfter();
  expect(ms).toBeGreaterThanOrEqual(TLS_BOUND_MS - 100);
  expect(ms).toBeLessThan(TLS_BOUND_MS + SLACK_MS);
}

async function aliceStillLogsInFrom(localAddress: string): Promise<void> {
  const raw = await RawConnection.open(ts.server.ports.c2s, { localAddress });
  expect(await raw.loginOutcome("alice", "secret")).toBe("success");
  raw.close();
}

describe("connections that do not authenticate are bounded", () => {
  it("closes a direct-TLS connection that never sends a ClientHello", async () => {
    const { closedAfter } = await rawSocket(ts.server.ports.c2sTls);
    await expectClosedWithinBound(closedAfter);
  });

  it("closes a direct-TLS connection that sends half a ClientHello and stops", async () => {
    const hello = await clientHello();
    const { socket, closedAfter } = await rawSocket(ts.server.ports.c2sTls);
    socket.write(hello.subarray(0, Math.floor(hello.length / 2)));
    await expectClosedWithinBound(closedAfter);
  });

  it("closes a direct-TLS connection that dribbles its ClientHello a byte at a time", async () => {
    const hello = await clientHello();
    const { socket, closedAfter } = await rawSocket(ts.server.ports.c2sTls);
    let i = 0;
    const dribble = setInterval(() => {
      if (!socket.destroyed && i < hello.length) socket.write(hello.subarray(i, ++i));
    }, 150);
    try {
      await expectClosedWithinBound(closedAfter);
    } finally {
      clearInterval(dribble);
    }
  });

  it("closes a STARTTLS connection whose TLS handshake stalls after <proceed/>", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    const opened = Date.now();
    raw.open();
    await raw.waitFor(/<\/stream:features>/);
    raw.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await raw.waitFor(/<proceed/);
    await raw.waitClosed(TLS_BOUND_MS + SLACK_MS);
    expect(Date.now() - opened).toBeLessThan(TLS_BOUND_MS + SLACK_MS);
  });

  it("closes a connection to the STARTTLS port that sends nothing, with a well-formed stream error", async () => {
    const raw = await RawConnection.open(ts.server.ports.c2s);
    await raw.waitClosed(TLS_BOUND_MS + SLACK_MS);
    expect(raw.buffer).toMatch(/^<\?xml version='1.0'\?><stream:stream [^>]*>/);
    expect(raw.buffer).toContain("<connection-timeout");
    expect(raw.buffer).toMatch(/<\/stream:stream>$/);
  });

  it("closes an HTTP connection that never asks for the WebSocket upgrade", async () => {
    const { socket, closedAfter } = await rawSocket(ts.server.ports.http);
    socket.write("GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\n"); // and never the final CRLF
    await expectClosedWithinBound(closedAfter);
  });

  it("does not cut a keep-alive HTTP connection that keeps asking (a /metrics or /healthz poller), however long it lives", async () => {
    const { socket, closedAfter } = await rawSocket(ts.server.ports.http);
    let answers = "";
    socket.on("data", (chunk: Buffer) => (answers += chunk.toString()));
    let closed = false;
    void closedAfter().then(() => (closed = true));
    // one request every half bound, for twice the bound: the clock of the upgrade runs only
    // while the connection is quiet, and Node's keep-alive timeout (5 s) is not reached
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 2 * TLS_BOUND_MS) {
      socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
      sent++;
      await new Promise((r) => setTimeout(r, TLS_BOUND_MS / 2));
    }
    expect(closed).toBe(false);
    expect(answers.match(/HTTP\/1\.1 200/g)?.length).toBe(sent);
    socket.destroy();
  });

  it("closes new connections from an address over its cap at once, while others still log in", async () => {
    const held: Array<Awaited<ReturnType<typeof rawSocket>>> = [];
    try {
      // The cap counts sockets from 127.0.0.3 on every client port together.
      for (let i = 0; i < PER_IP_CAP; i++) held.push(await rawSocket(i % 2 ? ts.server.ports.c2sTls : ts.server.ports.c2s, "127.0.0.3"));
      const over = await rawSocket(ts.server.ports.c2sTls, "127.0.0.3");
      expect(await over.closedAfter()).toBeLessThan(500);
      const overWs = await rawSocket(ts.server.ports.http, "127.0.0.3");
      expect(await overWs.closedAfter()).toBeLessThan(500);
      await aliceStillLogsInFrom("127.0.0.2");
      const client = await connect(ts, "alice", { resource: "ws", transport: "websocket" });
      await client.stop();
      expect(ts.server.c2s!.admission.counters.refusedIp).toBeGreaterThanOrEqual(2);
    } finally {
      for (const h of held) h.socket.destroy();
    }
    // Once those are gone the address is welcome again.
    await expect.poll(() => ts.server.c2s!.admission.countFor("127.0.0.3")).toBe(0);
    await aliceStillLogsInFrom("127.0.0.3");
  });

  it("stops counting a connection once it has authenticated", async () => {
    const clients: RawConnection[] = [];
    try {
      for (let i = 0; i < PER_IP_CAP + 2; i++) {
        const raw = await RawConnection.open(ts.server.ports.c2s, { localAddress: "127.0.0.4" });
        expect(await raw.loginOutcome(`crowd${i}`, "secret")).toBe("success");
        clients.push(raw);
      }
      expect(ts.server.c2s!.admission.countFor("127.0.0.4")).toBe(0);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe("the process-wide cap on unauthenticated connections", () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ limits: { maxUnauthenticated: 4, tlsHandshakeSeconds: 30 } });
    await small.addUser("alice");
  });
  afterAll(async () => {
    await small?.stop();
  });

  it("closes connections past the cap at once, from any address, and admits again when they go", async () => {
    // Cluster mode has two edges, each with its own cap: fill the first one.
    const node = small.server;
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await rawSocket(node.ports.c2sTls, `127.0.1.${i + 1}`));
    const over = await rawSocket(node.ports.c2s, "127.0.1.9");
    expect(await over.closedAfter()).toBeLessThan(500);
    expect(node.c2s!.admission.counters.refusedProcess).toBe(1);
    held[0]!.socket.destroy();
    await expect.poll(() => node.c2s!.admission.unauthenticated).toBe(3);
    const raw = await RawConnection.open(node.ports.c2s, { localAddress: "127.0.1.10" });
    expect(await raw.loginOutcome("alice", "secret")).toBe("success");
    raw.close();
    for (const h of held) h.socket.destroy();
  });
});
