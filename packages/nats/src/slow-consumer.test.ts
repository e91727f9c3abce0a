/**
 * A slow edge on the bus (docs/architecture.md "Cluster mode"): what the code guarantees when a
 * node's subscription falls behind. The subscription is in callback mode, so the client library
 * queues nothing of its own and drops nothing on the receiving side: envelopes published faster
 * than the receiver handles them wait in the kernel and nats-server and all arrive, in order.
 * (Past nats-server's max_pending it disconnects the slow consumer and drops what it held: not
 * reproduced here, and a known limit, see the architecture page.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BusEnvelope, StanzaEnvelope } from "@switchboard/core";
import { NatsStanzaBus } from "./bus.js";
import { eventually, requireSharedNats } from "./test-servers.js";

const url = process.env.SWITCHBOARD_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `sbslow${Math.random().toString(36).slice(2, 10)}`;
const open: NatsStanzaBus[] = [];
const PADDING = "y".repeat(1000);

beforeAll(() => requireSharedNats(url));
afterAll(async () => {
  await Promise.all(open.map((b) => b.close()));
});

describe("a slow consumer on the NATS bus", () => {
  it("gets every envelope, in order, when its handler is far slower than the publisher", async () => {
    const a = await NatsStanzaBus.connect({ servers: url, subjectPrefix: prefix });
    const b = await NatsStanzaBus.connect({ servers: url, subjectPrefix: prefix });
    open.push(a, b);
    const got: number[] = [];
    b.subscribe("slow-edge", (env: BusEnvelope) => {
      got.push(Number((env as StanzaEnvelope).sessionId));
      // A busy receiver: 0.3 ms of work per envelope, synchronously (the event loop is held).
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    });
    await b.flush();
    const count = 5000;
    for (let n = 0; n < count; n++) {
      await a.publish("slow-edge", { kind: "stanza", to: "u@example.com/r", sessionId: String(n), xml: `<message id='${n}'><body>${PADDING}</body></message>` });
    }
    await a.flush();
    await eventually(() => got.length >= count, `all ${count} envelopes handled`, 30_000);
    expect(got).toEqual(Array.from({ length: count }, (_, n) => n));
  });
});
