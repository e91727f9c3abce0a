import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { Element, StreamError, parseFrame, x } from "@switchboard/xml";
import { Host, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, MemoryStore, silentLogger } from "@switchboard/core";
import { StreamEngine, StreamStateError, type StreamPolicy } from "./engine.js";
import type { Transport, TransportEvents } from "./transport.js";

/** A transport that records what the engine writes and lets the test play the peer. */
class FakeTransport extends EventEmitter implements Transport {
  readonly kind = "tcp" as const;
  readonly ip = "127.0.0.1";
  secure = true;
  readonly canStartTls = false;
  readonly written: string[] = [];
  buffered = 0;
  closedWith?: StreamError | "closed";
  destroyed = false;
  override on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  readonly headers: Array<Record<string, string>> = [];
  restarts = 0;
  openStream(attrs: Record<string, string>) {
    this.headers.push(attrs);
    this.written.push(`<stream from='${attrs.from}'>`);
  }
  bytesIn = 0;
  send(el: Element) {
    const text = el.toString();
    this.written.push(text);
    return text.length;
  }
  closeStream(error?: StreamError) {
    this.closedWith = error ?? "closed";
  }
  bufferedBytes() {
    return this.buffered;
  }
  startTls(): Promise<void> {
    return Promise.reject(new Error("no"));
  }
  restartStream() {
    this.restarts++;
  }
  reading = true;
  pause() {
    this.reading = false;
  }
  resume() {
    this.reading = true;
  }
  destroy() {
    this.destroyed = true;
    this.emit("disconnect", "destroyed");
  }
  peer(xml: string) {
    this.emit("element", parseFrame(xml));
  }
}

function setup(overrides: Partial<StreamPolicy> = {}) {
  const host = new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log: silentLogger });
  const seen: string[] = [];
  const ended: string[] = [];
  const policy: StreamPolicy = {
    namespace: "jabber:client",
    requireTls: false,
    tlsHandshakeMs: 10_000,
    handshakeTimeoutMs: 10_000,
    outboundBufferBytes: 1000,
    congestionTimeoutMs: 10_000,
    checkHeader: () => undefined,
    features: () => [x("mechanisms")],
    element: async (_stream, el) => void seen.push(`${_stream.state}:${el.name}`),
    ended: (_stream, reason) => void ended.push(reason),
    ...overrides,
  };
  const transport = new FakeTransport();
  const stream = new StreamEngine(host, transport, policy);
  return { host, transport, stream, seen, ended };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe("StreamEngine", () => {
  it("writes the header the policy asks for; one without a version (XEP-0114) is followed by no features", async () => {
    const { transport, stream } = setup({ ownHeader: (peer) => ({ from: peer?.to ?? "none" }) });
    transport.emit("open", { to: "push.localhost" });
    await settle();
    expect(transport.headers).toEqual([{ id: stream.streamId, from: "push.localhost" }]);
    expect(stream.streamId).toMatch(/^[0-9a-f]{16}$/);
    expect(transport.written.some((w) => w.includes("features"))).toBe(false);
    // a handshake keeps the stream (no restart), and a stream may be ready without a session
    stream.authenticated("push.localhost", { restart: false });
    stream.bound();
    expect(transport.restarts).toBe(0);
    expect(stream.state).toBe("bound");
    const plain = setup();
    plain.transport.emit("open", { to: "localhost" });
    await settle();
    expect(plain.transport.headers[0]).toMatchObject({ from: "localhost", version: "1.0" });
    expect(plain.transport.written.some((w) => w.includes("features"))).toBe(true);
    plain.stream.authenticated("a@localhost");
    expect(plain.transport.restarts).toBe(1);
  });

  it("changes state only through its transitions, refusing any other", () => {
    const { stream } = setup();
    expect(stream.state).toBe("secured");
    expect(() => stream.bound({} as never)).toThrow(StreamStateError);
    stream.authenticated("alice@localhost");
    expect(stream.state).toBe("authenticated");
    expect(stream.account).toBe("alice@localhost");
    expect(() => stream.authenticated("again@localhost")).toThrow(/from authenticated to authenticated/);
    expect(() => ((stream as unknown as { state: string }).state = "bound")).toThrow();
  });

  it("gives a stream-level element to the module that registered its (state, namespace, name), the rest to the policy", async () => {
    const { host, transport, stream, seen } = setup();
    const handled: string[] = [];
    host.streamHandlers.handle({ states: ["authenticated"], xmlns: "urn:xmpp:sm:3", name: "resume" }, (ctx, el) => {
      handled.push(`${ctx.state}:${el.name}`);
      ctx.send(x("failed", { xmlns: "urn:xmpp:sm:3" }));
    });
    transport.peer("<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>"); // secured: not registered for that state
    await settle();
    stream.authenticated("alice@localhost");
    transport.peer("<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>");
    transport.peer("<enable xmlns='urn:xmpp:sm:3'/>"); // nobody registered <enable/>
    await settle();
    expect(handled).toEqual(["authenticated:resume"]);
    expect(seen).toEqual(["secured:resume", "authenticated:enable"]);
    expect(transport.written.at(-1)).toBe('<failed xmlns="urn:xmpp:sm:3"/>');
    expect(() => host.streamHandlers.handle({ states: ["authenticated"], xmlns: "urn:xmpp:sm:3", name: "resume" }, () => {})).toThrow(/already registered/);
  });

  it("processes elements one at a time, in order", async () => {
    const order: number[] = [];
    const { transport } = setup({
      element: async (_s, el) => {
        const n = Number(el.attrs.n);
        await new Promise((r) => setTimeout(r, n % 2 ? 5 : 0));
        order.push(n);
      },
    });
    for (let n = 1; n <= 6; n++) transport.peer(`<e n='${n}'/>`);
    await new Promise((r) => setTimeout(r, 60));
    expect(order).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("past the high-water mark reports congestion instead of closing, refuses writes only at the hard cap, and reports relief under half the mark", async () => {
    const changes: string[] = [];
    const { transport, stream, ended } = setup({ congestion: (_s, change) => void changes.push(change) });
    expect(stream.send(x("message"))).toBe("written");
    transport.buffered = 1500; // past the mark of 1000
    expect(stream.send(x("message"))).toBe("written");
    expect(stream.congested).toBe(true);
    expect(changes).toEqual(["congested"]);
    // a peer that does not read what it is sent is not read from until it catches up
    expect(transport.reading).toBe(false);
    transport.buffered = 4001; // past 4 × the mark
    expect(stream.send(x("message"))).toBe("refused");
    expect(transport.destroyed).toBe(false);
    transport.buffered = 600; // above half: still congested
    await new Promise((r) => setTimeout(r, 120));
    expect(stream.congested).toBe(true);
    transport.buffered = 400;
    await new Promise((r) => setTimeout(r, 120));
    expect(stream.congested).toBe(false);
    expect(changes).toEqual(["congested", "relieved"]);
    expect(transport.reading).toBe(true);
    expect(ended).toEqual([]);
  });

  it("cuts a congested connection that takes no byte for congestionTimeoutMs, as a drop", async () => {
    const { transport, stream, ended } = setup({ congestionTimeoutMs: 150 });
    transport.buffered = 1500;
    stream.send(x("message"));
    expect(stream.congested).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(transport.destroyed).toBe(true);
    expect(ended).toEqual(["congested: no progress within limits.congestionTimeoutSeconds"]);
    expect(stream.send(x("message"))).toBe("refused");
  });

  it("puts its own header before a stream error sent before the peer's, and ends once", () => {
    const { transport, stream, ended } = setup();
    stream.close(new StreamError("host-unknown"));
    stream.close(new StreamError("conflict"));
    transport.emit("disconnect", "connection closed");
    expect(transport.written[0]).toBe("<stream from='localhost'>");
    expect((transport.closedWith as StreamError).condition).toBe("host-unknown");
    expect(ended).toEqual(["stream error host-unknown"]);
  });

  it("lets a server policy write its header and read the stream id, and authenticate without a restart or a session (XEP-0220)", async () => {
    const { transport, stream } = setup({
      ownHeader: (peer) => ({ "xmlns:db": "jabber:server:dialback", from: peer?.to ?? "localhost", version: "1.0", ...(peer?.from ? { to: peer.from } : {}) }),
    });
    transport.emit("open", { to: "muc.localhost", from: "remote.example" });
    await settle();
    expect(transport.headers[0]).toMatchObject({ "xmlns:db": "jabber:server:dialback", from: "muc.localhost", to: "remote.example", version: "1.0" });
    expect(stream.streamId).toBe(transport.headers[0]!.id);
    expect(stream.streamId).toMatch(/^[0-9a-f]{16}$/);
    stream.authenticated("remote.example", { restart: false });
    stream.bound();
    expect(stream.state).toBe("bound");
    expect(stream.account).toBe("remote.example");
    expect(stream.session).toBeUndefined();
    expect(transport.restarts).toBe(0);
  });
});
