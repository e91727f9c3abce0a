/**
 * Fault behaviour against nats-server processes spawned by the test: outage buffering with a
 * bound, replay on restart, start before NATS exists, and fail-over inside a 3-node NATS cluster.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { BusEnvelope, StanzaEnvelope } from "@switchboard/core";
import { NatsStanzaBus } from "./bus.js";
import { BusUnavailableError } from "./errors.js";
import { eventually, freePort, startNatsServer, stopAllNatsServers } from "./test-servers.js";

const open: NatsStanzaBus[] = [];
const track = (b: NatsStanzaBus): NatsStanzaBus => (open.push(b), b);
const kilobyte = "x".repeat(1000);
const stanza = (n: number): StanzaEnvelope => ({ kind: "stanza", to: "a@example.com/r", sessionId: `s${n}`, xml: `<message><body>${kilobyte}</body></message>` });
const seq = (env: BusEnvelope): number => Number((env as StanzaEnvelope).sessionId.slice(1));

afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  await stopAllNatsServers();
});
afterAll(stopAllNatsServers);

describe("NatsStanzaBus when NATS fails", () => {
  it("buffers up to the bound while the server is down, rejects beyond it, replays in order after restart", async () => {
    const port = await freePort();
    let server = await startNatsServer(port);
    const bound = 32 * 1024;
    const bus = track(await NatsStanzaBus.connect({ servers: server.url, reconnectBufferBytes: bound }));
    const events: string[] = [];
    bus.onStatus((_s, e) => events.push(e));
    let reconnects = 0;
    bus.onReconnect(() => reconnects++);
    const got: number[] = [];
    // Same connection subscribes and publishes: on reconnect the client re-sends SUB before our
    // replay, so no stanza can race ahead of the subscription.
    bus.subscribe("edge-1", (env) => got.push(seq(env)));
    await bus.flush();
    await bus.publish("edge-1", stanza(0));
    await eventually(() => got.length === 1, "delivery before the outage");

    await server.kill();
    await eventually(() => !bus.status().connected, "bus notices the outage");
    expect(bus.status().reconnecting).toBe(true);

    let accepted = 0;
    let rejection: unknown;
    for (let i = 1; i < 1000 && !rejection; i++) {
      await bus.publish("edge-1", stanza(i)).then(
        () => void accepted++,
        (err: unknown) => void (rejection = err),
      );
    }
    expect(rejection).toBeInstanceOf(BusUnavailableError);
    expect(rejection).toMatchObject({ name: "BusUnavailableError", reason: "buffer-full" });
    // ~1.05 KB per stanza with headers: the bound admits about 30 of them, no more.
    expect(accepted).toBeGreaterThanOrEqual(25);
    expect(accepted).toBeLessThanOrEqual(32);
    expect(bus.status().pendingBytes).toBeLessThanOrEqual(bound);
    expect(bus.status().pendingBytes).toBeGreaterThan(bound - 1100);

    server = await startNatsServer(port);
    await eventually(() => bus.status().connected, "bus reconnects");
    const next = accepted + 1;
    for (let i = next; i < next + 10; i++) await bus.publish("edge-1", stanza(i));
    await eventually(() => got.length === next + 10, `all ${next + 10} stanzas delivered`);
    expect(got).toEqual(Array.from({ length: next + 10 }, (_, i) => i));
    expect(bus.status().pendingBytes).toBe(0);
    expect(events).toEqual(["disconnect", "reconnect"]);
    expect(reconnects).toBe(1);
  });

  it("starts before NATS exists and becomes ready when it comes", async () => {
    const port = await freePort();
    const bus = track(NatsStanzaBus.start({ servers: `nats://127.0.0.1:${port}` }));
    const got: number[] = [];
    bus.subscribe("edge-early", (env) => got.push(seq(env)));
    await bus.publish("edge-early", stanza(1));
    expect(bus.status()).toMatchObject({ connected: false, reconnecting: true });
    expect(bus.status().pendingBytes).toBeGreaterThan(1000);
    await new Promise((r) => setTimeout(r, 300));
    await startNatsServer(port);
    await eventually(() => bus.status().connected, "bus connects once NATS listens");
    await bus.publish("edge-early", stanza(2));
    await eventually(() => got.length === 2, "buffered and new stanza delivered");
    expect(got).toEqual([1, 2]);
  });

  it("fails over to another member of a 3-node NATS cluster and delivery resumes", async () => {
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const clusterPorts = await Promise.all([0, 1, 2].map(() => freePort()));
    const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`);
    const servers = await Promise.all(
      [0, 1, 2].map((i) =>
        startNatsServer(ports[i]!, [
          "--cluster_name", "sbtest",
          "--cluster", routes[i]!,
          "--routes", routes.filter((_, j) => j !== i).join(","),
        ]),
      ),
    );
    const urls = servers.map((s) => s.url);
    // The subscriber knows all members and starts on member 1; the publisher sits on member 3.
    const sub = track(await NatsStanzaBus.connect({ servers: urls, randomizeServers: false, name: "sub" }));
    const pub = track(await NatsStanzaBus.connect({ servers: [urls[2]!], name: "pub" }));
    const got: string[] = [];
    sub.subscribe("edge-sub", (env) => got.push((env as StanzaEnvelope).xml));
    await sub.flush();
    // Interest crosses the routes asynchronously: wait until member 3 knows about it.
    await untilReachable(pub, "edge-sub");
    await pub.publish("edge-sub", { kind: "stanza", to: "a@example.com/r", sessionId: "s", xml: "<message id='before'/>" });
    await eventually(() => got.includes("<message id='before'/>"), "delivery across the cluster");

    const subEvents: string[] = [];
    sub.onStatus((_s, e) => subEvents.push(e));
    await servers[0]!.kill();
    await eventually(() => subEvents.includes("reconnect"), "subscriber reconnects to another member");
    await untilReachable(pub, "edge-sub");
    await pub.publish("edge-sub", { kind: "stanza", to: "a@example.com/r", sessionId: "s", xml: "<message id='after'/>" });
    await eventually(() => got.includes("<message id='after'/>"), "delivery resumes after fail-over");
    expect(pub.status().connected).toBe(true);
  });
});

/** Retries a checked publish until the node's subscription is known where the publisher is. */
async function untilReachable(bus: NatsStanzaBus, nodeId: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await bus.publishChecked(nodeId, { kind: "stanza", to: "probe@example.com", sessionId: "probe", xml: "<probe/>" }, 500);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
