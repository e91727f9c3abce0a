/**
 * Measures publish→handler throughput and latency for 1 KB stanzas between two bus connections
 * over the shared nats-server on loopback. Prints the numbers; asserts only loose floors so a
 * pathological regression (e.g. a round trip per stanza) fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEnvelope } from "@switchboard/core";
import { NatsStanzaBus } from "./bus.js";
import { requireSharedNats } from "./test-servers.js";

const url = process.env.SWITCHBOARD_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `sbperf${Math.random().toString(36).slice(2, 10)}`;
const xml = `<message to='b@example.com/r' from='a@example.com/r' type='chat'><body>${"x".repeat(920)}</body></message>`;
const open: NatsStanzaBus[] = [];

beforeAll(() => requireSharedNats(url));

afterAll(async () => {
  await Promise.all(open.map((b) => b.close()));
});

describe("NatsStanzaBus throughput on loopback", () => {
  it("moves 1 KB stanzas fast and with low latency", async () => {
    const pub = await NatsStanzaBus.connect({ servers: url, subjectPrefix: prefix });
    const sub = await NatsStanzaBus.connect({ servers: url, subjectPrefix: prefix });
    open.push(pub, sub);
    let received = 0;
    let onArrival: ((env: BusEnvelope) => void) | undefined;
    sub.subscribe("edge-perf", (env) => {
      received++;
      onArrival?.(env);
    });
    await sub.flush();
    const env: BusEnvelope = { kind: "stanza", to: "b@example.com/r", sessionId: "s1", xml, headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } };

    const total = 50_000;
    const allArrived = new Promise<void>((resolve) => {
      onArrival = () => {
        if (received === total) resolve();
      };
    });
    const t0 = performance.now();
    for (let i = 0; i < total; i++) void pub.publish("edge-perf", env);
    await allArrived;
    const seconds = (performance.now() - t0) / 1000;
    const throughput = Math.round(total / seconds);

    const samples: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const start = performance.now();
      const arrived = new Promise<void>((resolve) => (onArrival = () => resolve()));
      await pub.publish("edge-perf", env);
      await arrived;
      samples.push(performance.now() - start);
    }
    samples.sort((a, b) => a - b);
    const median = samples[samples.length >> 1]!;
    const p99 = samples[Math.floor(samples.length * 0.99)]!;
    console.log(
      `[nats bus] 1 KB stanzas: ${throughput} msgs/s (${total} in ${seconds.toFixed(2)} s); ` +
        `latency median ${(median * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs`,
    );
    expect(throughput).toBeGreaterThan(5_000);
    expect(median).toBeLessThan(20);
  });
});
