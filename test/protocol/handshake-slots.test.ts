/**
 * limits.maxConcurrentHandshakes against clients that stall: a handshake slot is held only while
 * the server works, so a client that takes a slot and then goes quiet — a STARTTLS that never
 * sends its ClientHello, a direct-TLS socket that sends nothing — delays the others by at most
 * the hold bound (handshake-slots.ts HOLD_MS, 2 s), never locks them out, and is itself cut by
 * the existing limits.tlsHandshakeSeconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InProcessMetrics } from "@switchboard/core";
import { connect, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
const raws: RawConnection[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  ts = await startTestServer({ limits: { maxConcurrentHandshakes: 1, tlsHandshakeSeconds: 4 } });
  await ts.addUser("patient");
});
afterAll(async () => {
  for (const r of raws) r.close();
  await Promise.allSettled(clients.map((c) => c.stop()));
  await ts?.stop();
});

describe("limits.maxConcurrentHandshakes with stalled handshakes", () => {
  it("serves a client behind a STARTTLS and a direct-TLS socket that both stall, and cuts the stalled ones in time", async () => {
    const node = ts.server;
    // one slot: a STARTTLS that never sends its ClientHello takes it...
    const stalled = await RawConnection.open(node.ports.c2s);
    raws.push(stalled);
    stalled.open();
    await stalled.waitFor(/<starttls/);
    stalled.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await stalled.waitFor(/<proceed/);
    // ...and a direct-TLS socket that sends nothing queues behind it
    const silent = await RawConnection.open(node.ports.c2sTls);
    raws.push(silent);
    await new Promise((r) => setTimeout(r, 100));
    expect(node.c2s!.handshakeSlots.inFlight).toBe(1);
    expect(node.c2s!.handshakeSlots.queued).toBe(1);
    const started = Date.now();
    const patient = await connect(ts, "patient", { node });
    clients.push(patient);
    const waited = Date.now() - started;
    console.log(`handshake slots: a client behind two stalled handshakes was online after ${waited} ms`);
    const metrics = node.host.metrics as unknown as InProcessMetrics;
    expect(metrics.value("switchboard_handshakes_waited_total", { work: "tls" })).toBeGreaterThanOrEqual(2);
    // the stalled ones are cut by limits.tlsHandshakeSeconds, without a word in the clear
    await stalled.waitClosed(10_000);
    await silent.waitClosed(10_000);
    expect(node.c2s!.handshakeSlots.inFlight).toBe(0);
    expect(node.c2s!.handshakeSlots.queued).toBe(0);
    // and the one online is served
    expect(patient.jid).toMatch(/^patient@localhost\//);
  });
});
