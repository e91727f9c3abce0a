import { describe, expect, it } from "vitest";
import { Element, parseFrame, parseJid, x } from "@switchboard/xml";
import { Host } from "./host.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import type { SessionConnection } from "./session.js";
import type { BusEnvelope, BusHeaders } from "./ports.js";
import type { Span, SpanKind, SpanValue, Tracing } from "./tracing.js";

interface Recorded {
  node: string;
  events: Array<{ name: string; attributes: Record<string, SpanValue> }>;
  name: string;
  kind: SpanKind;
  traceId: string;
  id: string;
  parent?: string;
  attributes: Record<string, SpanValue>;
  status?: "ok" | "error";
}

let ids = 0;

/** A tracing adapter that records its spans (what the OpenTelemetry one would export). */
class RecordingTracing implements Tracing {
  readonly enabled = true;
  sample = true;
  constructor(
    private readonly node: string,
    readonly spans: Recorded[],
  ) {}

  private make(name: string, kind: SpanKind, traceId: string, parent?: string): Span & { rec: Recorded } {
    const rec: Recorded = { node: this.node, name, kind, traceId, id: `s${++ids}`, parent, attributes: {}, events: [] };
    return {
      rec,
      set: (k, v) => void (rec.attributes[k] = v),
      event: (name, attributes) => void rec.events.push({ name, attributes }),
      end: (status = "ok") => {
        rec.status = status;
        this.spans.push(rec);
      },
    };
  }

  startStanza(name: string): Span | undefined {
    return this.sample ? this.make(name, "server", `t${++ids}`) : undefined;
  }
  startChild(parent: Span, name: string, kind: SpanKind = "internal"): Span {
    const p = (parent as Span & { rec: Recorded }).rec;
    return this.make(name, kind, p.traceId, p.id);
  }
  inject(span: Span, into: BusHeaders): void {
    const r = (span as Span & { rec: Recorded }).rec;
    into.traceparent = `00-${r.traceId}-${r.id}-01`;
  }
  startFromCarrier(headers: BusHeaders, name: string, kind: SpanKind = "consumer"): Span | undefined {
    const [, traceId, parent] = headers.traceparent?.split("-") ?? [];
    return traceId && parent ? this.make(name, kind, traceId, parent) : undefined;
  }
}

class RecordingConnection implements SessionConnection {
  readonly sent: Element[] = [];
  readonly ip = "127.0.0.1";
  readonly secure = true;
  write(el: Element) {
    this.sent.push(parseFrame(el.toString()));
    return "written" as const;
  }
  close() {}
}

/** Two nodes on one in-process bus and registry, bob on n2; what n1 publishes is recorded. */
async function cluster() {
  const spans: Recorded[] = [];
  const bus = new MemoryStanzaBus();
  const published: BusEnvelope[] = [];
  const publish = bus.publish.bind(bus);
  bus.publish = (node, env) => (published.push(env), publish(node, env));
  const registry = new MemorySessionRegistry();
  const tracings = ["n1", "n2"].map((n) => new RecordingTracing(n, spans));
  const [n1, n2] = tracings.map((tracing, i) => {
    const host = new Host({ domain: "localhost", nodeId: `n${i + 1}`, store: new MemoryStore(), registry, bus, limiter: new MemoryLimiter(), log: silentLogger, tracing });
    host.start();
    return host;
  }) as [Host, Host];
  const conn = new RecordingConnection();
  await n2.sessions.open(parseJid("bob@localhost/b"), conn);
  const alice = await n1.sessions.open(parseJid("alice@localhost/a"), new RecordingConnection());
  /** what the c2s stream does with a client's stanza (client-stream.ts) */
  const fromClient = async (stanza: Element) => {
    const span = n1.traces.start(stanza);
    if (span) return n1.traces.within(stanza, span, () => alice.receive(stanza));
    await alice.receive(stanza);
  };
  return { spans, published, tracings, conn, fromClient };
}

const message = (body: string) => x("message", { to: "bob@localhost/b", from: "alice@localhost/a", type: "chat", id: "m1" }, x("body", {}, body));

describe("tracing through the core", () => {
  it("makes one trace of a sampled stanza from its stream through routing and the bus hop to the delivery on the other node", async () => {
    const { spans, published, conn, fromClient } = await cluster();
    await fromClient(message("hi"));
    await new Promise((r) => setImmediate(r));
    expect(conn.sent.map((el) => el.getChildText("body"))).toEqual(["hi"]);
    const byName = new Map(spans.map((s) => [s.name, s]));
    const root = byName.get("c2s.message")!;
    expect(root).toMatchObject({ node: "n1", kind: "server", parent: undefined, attributes: { "xmpp.stanza": "message", "xmpp.type": "chat", "xmpp.id": "m1" } });
    // the route is the root's attribute; the bus hop is a span each side, the write an attribute of the receiving one
    expect(root.attributes["switchboard.route"]).toBe("message/full");
    const publish = byName.get("bus.publish")!;
    expect(publish).toMatchObject({ node: "n1", kind: "producer", parent: root.id, attributes: { "switchboard.target.node": "n2", "switchboard.delivery": "bus" } });
    const receive = byName.get("bus.receive")!;
    expect(receive).toMatchObject({ node: "n2", kind: "consumer", parent: publish.id, attributes: { "switchboard.delivery": "written" }, status: "ok" });
    expect(spans.map((s) => s.name).sort()).toEqual(["bus.publish", "bus.receive", "c2s.message"]);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([root.traceId]));
    expect(published.filter((e) => e.kind === "stanza").map((e) => e.headers?.traceparent)).toEqual([`00-${root.traceId}-${publish.id}-01`]);
  });

  it("records a write on the sender's own node as a deliver event of the root span, one per resource", async () => {
    const { spans, fromClient } = await cluster();
    const local = x("message", { to: "alice@localhost/a", from: "alice@localhost/a", type: "chat", id: "self" }, x("body", {}, "note to self"));
    await fromClient(local);
    await new Promise((r) => setImmediate(r));
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ name: "c2s.message", attributes: { "switchboard.route": "message/full" }, status: "ok" });
    expect(spans[0]!.events).toEqual([{ name: "deliver", attributes: { "switchboard.target.node": "n1", "switchboard.delivery": "written" } }]);
  });

  it("makes no span and sends no trace headers for a stanza that is not sampled", async () => {
    const { spans, published, tracings, conn, fromClient } = await cluster();
    tracings[0]!.sample = false;
    await fromClient(message("quiet"));
    await new Promise((r) => setImmediate(r));
    expect(conn.sent.map((el) => el.getChildText("body"))).toEqual(["quiet"]);
    expect(spans).toEqual([]);
    const stanzas = published.filter((e) => e.kind === "stanza");
    expect(stanzas).toHaveLength(1);
    expect(stanzas[0]!.headers).toBeUndefined();
  });
});
