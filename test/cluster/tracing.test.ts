/**
 * Issue 12 item 5: one trace per sampled stanza across edges. Two edges on real Redis and NATS
 * export to an in-process OTLP/HTTP receiver (the endpoint is handed to the nodes, not put in
 * this process's environment); a message from a user on edge 0 to a user on edge 1 is one trace
 * with spans from both nodes, each span's parent in the same trace, and the trace context rides
 * in the NATS headers (nothing else links the two nodes' spans). A message to a user who is not
 * online has an offline-storage span.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "@switchboard/server";
import { connect, xml, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let receiver: OtlpReceiver;
let ts: TestServer;
let alice: TestClient;
let bob: TestClient;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  ts = await startTestServer(
    { tracing: { sampleRatio: 1 } },
    { mode: "cluster", localBackends: true, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "100" } },
  );
  for (const u of ["alice", "bob", "carol"]) await ts.addUser(u);
  alice = await connect(ts, "alice", { resource: "a", node: ts.nodes[0] });
  bob = await connect(ts, "bob", { resource: "b", node: ts.nodes[1] });
  for (const c of [alice, bob]) await c.send(xml("presence"));
}, 60_000);

afterAll(async () => {
  for (const c of [alice, bob]) await c?.stop();
  await ts?.stop();
  await receiver?.close();
});

/** The spans of the trace whose root is the client's stanza with this id. */
function traceOf(spans: ReceivedSpan[], id: string): ReceivedSpan[] {
  const root = spans.find((s) => s.name === "c2s.message" && s.attributes["xmpp.id"] === id);
  return root ? spans.filter((s) => s.traceId === root.traceId) : [];
}

/** One root, and every other span's parent is a span of the same trace. */
function expectIntact(trace: ReceivedSpan[]): void {
  const ids = new Set(trace.map((s) => s.spanId));
  expect(trace.filter((s) => s.parentSpanId === "").map((s) => s.name)).toEqual(["c2s.message"]);
  for (const s of trace) if (s.parentSpanId) expect(ids.has(s.parentSpanId), `parent of ${s.name}`).toBe(true);
}

const nodeIdOf = (i: number) => ts.nodes[i]!.host.nodeId;

it("makes a message from one edge to a user on another one trace with spans on both edges", async () => {
  await alice.send(xml("message", { to: "bob@localhost/b", type: "chat", id: "cross-1" }, xml("body", {}, "over the bus")));
  await bob.waitFor((el) => el.attrs.id === "cross-1");
  const spans = await receiver.waitFor((all) => traceOf(all, "cross-1").some((s) => s.name === "bus.receive" && s.resource["service.instance.id"] === nodeIdOf(1)));
  const trace = traceOf(spans, "cross-1");
  expectIntact(trace);
  const on = (node: number) => trace.filter((s) => s.resource["service.instance.id"] === nodeIdOf(node)).map((s) => s.name).sort();
  expect(on(0)).toEqual(["bus.publish", "c2s.message"]);
  expect(on(1)).toEqual(["bus.receive"]);
  const by = Object.fromEntries(trace.map((s) => [s.name, s]));
  // the hop: the receiving edge's span is the child of the sender's publish, linked by traceparent alone
  expect(by["bus.receive"]!.parentSpanId).toBe(by["bus.publish"]!.spanId);
  expect(by["bus.publish"]!.attributes).toMatchObject({ "switchboard.target.node": nodeIdOf(1), "switchboard.delivery": "bus" });
  expect(by["bus.receive"]!.attributes["switchboard.delivery"]).toBe("written");
  expect(by["c2s.message"]!.attributes["switchboard.route"]).toBe("message/full");
  // exported as protobuf, the default encoding
  expect(new Set(receiver.contentTypes)).toEqual(new Set(["application/x-protobuf"]));
});

it("records a delivery on the sender's own edge as an event of the root span", async () => {
  const self = await connect(ts, "alice", { resource: "second", node: ts.nodes[0] });
  try {
    await alice.send(xml("message", { to: "alice@localhost/second", type: "chat", id: "local-1" }, xml("body", {}, "same edge")));
    await self.waitFor((el) => el.attrs.id === "local-1");
    const spans = await receiver.waitFor((all) => traceOf(all, "local-1").length > 0);
    const trace = traceOf(spans, "local-1");
    expect(trace.map((s) => s.name)).toEqual(["c2s.message"]);
    expect(trace[0]!.attributes["switchboard.route"]).toBe("message/full");
    expect(trace[0]!.events).toEqual([{ name: "deliver", attributes: { "switchboard.target.node": nodeIdOf(0), "switchboard.delivery": "written" } }]);
  } finally {
    await self.stop();
  }
});

it("has an offline-storage span for a message to a user who is not online", async () => {
  await alice.send(xml("message", { to: "carol@localhost", type: "chat", id: "offline-1" }, xml("body", {}, "for later")));
  const spans = await receiver.waitFor((all) => traceOf(all, "offline-1").some((s) => s.name === "offline.store"));
  const trace = traceOf(spans, "offline-1");
  expectIntact(trace);
  const store = trace.find((s) => s.name === "offline.store")!;
  expect(store.attributes["switchboard.offline"]).toBe("stored");
  expect(store.status).not.toBe(2);
  // under the message's root, on the sender's edge, which took the route to storage
  const parent = trace.find((s) => s.spanId === store.parentSpanId)!;
  expect(parent.name).toBe("c2s.message");
  expect(parent.attributes["switchboard.route"]).toBe("message/bare");
  expect(store.resource["service.instance.id"]).toBe(nodeIdOf(0));
  expect(await ts.server.host.store.offline.count("carol@localhost")).toBe(1);
});
