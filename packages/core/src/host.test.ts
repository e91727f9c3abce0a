import { describe, expect, it } from "vitest";
import { Element, parseFrame, parseJid, x, type StreamError } from "@switchboard/xml";
import { Host } from "./host.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import { InProcessMetrics } from "./metrics.js";
import type { SessionConnection } from "./session.js";
import type { SessionInfo, StanzaBus } from "./ports.js";

/** A connection that records what the session writes, and can refuse like a full buffer. */
class RecordingConnection implements SessionConnection {
  readonly sent: Element[] = [];
  closedWith?: StreamError;
  closed = false;
  refuse = false;
  readonly ip = "127.0.0.1";
  readonly secure = true;
  write(el: Element) {
    if (this.refuse) return "refused" as const;
    this.sent.push(parseFrame(el.toString()));
    return "written" as const;
  }
  close(err?: StreamError) {
    this.closed = true;
    this.closedWith = err;
  }
}

function makeHost(bus: StanzaBus = new MemoryStanzaBus(), isNodeAlive?: (id: string) => boolean, registry = new MemorySessionRegistry(), nodeId = "n1") {
  const host = new Host({
    domain: "localhost",
    nodeId,
    store: new MemoryStore(),
    registry,
    bus,
    limiter: new MemoryLimiter(),
    log: silentLogger,
    isNodeAlive,
    metrics: new InProcessMetrics(),
  });
  host.start();
  return host;
}

function info(nodeId: string, sessionId = "s1"): SessionInfo {
  return { jid: "bob@localhost/b", sessionId, nodeId, priority: 0, available: true, interested: false, since: 0 };
}

async function bob(host: Host) {
  const conn = new RecordingConnection();
  const session = await host.sessions.open(parseJid("bob@localhost/b"), conn);
  return { conn, session };
}

describe("Host and the stanza bus", () => {
  it("drops garbage from the bus without throwing and keeps serving the stream", async () => {
    const bus = new MemoryStanzaBus();
    const host = makeHost(bus);
    const { conn, session } = await bob(host);
    const send = (xml: string, sessionId = session.id) => bus.publish("n1", { kind: "stanza", to: "bob@localhost/b", sessionId, xml });
    await send("<message><body>&undefined;</body></message>");
    await send("<message");
    await send("<message/>", "gone");
    await bus.publish("n1", { kind: "mystery" } as never);
    expect(conn.sent).toHaveLength(0);
    await send("<message><body>ok</body></message>");
    expect(conn.sent.map((el) => el.getChildText("body"))).toEqual(["ok"]);
    await bus.publish("n1", { kind: "session-control", to: "bob@localhost/b", sessionId: session.id, action: "conflict" });
    expect(conn.closedWith?.condition).toBe("conflict");
    expect(session.closed).toBe(true);
  });

  it("reports a resource on a dead node or behind a refusing bus as unreachable", async () => {
    const refusing = new MemoryStanzaBus();
    refusing.publish = async () => {
      throw new Error("buffer full");
    };
    const host = makeHost(refusing, (id) => id !== "dead");
    const stanza = x("message", { to: "bob@localhost/b" });
    expect(await host.deliver(info("dead"), stanza)).toBe("unreachable");
    expect(await host.deliver(info("other"), stanza)).toBe("unreachable");
    expect((host.metrics as InProcessMetrics).value("switchboard_deliveries_total", { path: "bus" })).toBe(0);
    expect(await host.deliver(info("n1", "no-such-stream"), stanza)).toBe("unreachable");
  });

  it("says what happened to each delivery: written, refused by a full buffer, handed to the bus", async () => {
    const bus = new MemoryStanzaBus();
    const host = makeHost(bus);
    const { conn, session } = await bob(host);
    const target = (await host.registry.get("bob@localhost/b"))!;
    expect(await host.deliver(target, x("message", { to: "bob@localhost/b" }, x("body", {}, "1")))).toBe("written");
    conn.refuse = true;
    expect(await host.deliver(target, x("message", { to: "bob@localhost/b" }, x("body", {}, "2")))).toBe("refused");
    expect(await host.deliverToResource("bob@localhost/gone", x("message"))).toBe("offline");
    bus.subscribe("n2", () => {});
    expect(await host.deliver({ ...target, nodeId: "n2" }, x("message"))).toBe("bus");
    expect(session.closed).toBe(false);
  });

  it("routes a bus stanza again when its stream refuses it, so an IQ still gets an answer", async () => {
    const bus = new MemoryStanzaBus();
    const registry = new MemorySessionRegistry();
    const a = makeHost(bus, undefined, registry, "n1");
    const b = makeHost(bus, undefined, registry, "n2");
    const asker = new RecordingConnection();
    await a.sessions.open(parseJid("alice@localhost/a"), asker);
    const { conn } = await bob(b);
    conn.refuse = true;
    const target = (await registry.get("bob@localhost/b"))!;
    const iq = x("iq", { type: "get", id: "q1", from: "alice@localhost/a", to: "bob@localhost/b" }, x("query", { xmlns: "jabber:iq:version" }));
    expect(await a.deliver(target, iq)).toBe("bus");
    await expect.poll(() => asker.sent.find((el) => el.attrs.id === "q1")?.attrs.type).toBe("error");
  });
});

describe("the session lifecycle (session-table.ts)", () => {
  it("opens, detaches with a deadline, attaches again, and ends", async () => {
    const host = makeHost();
    const events: string[] = [];
    for (const e of ["session/bound", "session/detached", "session/attached", "session/closed"] as const) host.hooks.on(e, () => void events.push(e));
    host.hooks.on("session/connection-lost", ({ session }) => {
      void host.sessions.detach(host.sessions.get(session.id)!, 60_000);
      return true;
    });
    const { conn, session } = await bob(host);
    await host.sessions.connectionLost(session, conn, "network changed");
    expect(session.status).toBe("detached");
    expect((await host.registry.get("bob@localhost/b"))?.detachedUntil).toBeGreaterThan(Date.now());
    // While detached nothing takes the stanza: refused, so the caller falls back.
    expect(session.send(x("message"))).toBe("refused");
    const next = new RecordingConnection();
    await host.sessions.attach(session, next);
    expect(session.send(x("message", {}, x("body", {}, "back")))).toBe("written");
    expect(next.sent).toHaveLength(1);
    expect((await host.registry.get("bob@localhost/b"))?.detachedUntil).toBeUndefined();
    session.close();
    expect(await host.registry.get("bob@localhost/b")).toBeUndefined();
    expect(events).toEqual(["session/bound", "session/detached", "session/attached", "session/closed"]);
  });

  it("ends a detached session at its deadline", async () => {
    const host = makeHost();
    host.hooks.on("session/connection-lost", ({ session }) => {
      void host.sessions.detach(host.sessions.get(session.id)!, 30);
      return true;
    });
    const { conn, session } = await bob(host);
    await host.sessions.connectionLost(session, conn, "gone");
    await expect.poll(() => session.closed).toBe(true);
    expect(await host.registry.get("bob@localhost/b")).toBeUndefined();
  });

  it("hands a session to another node with its state (adopt), the old node letting go (release)", async () => {
    const bus = new MemoryStanzaBus();
    const registry = new MemorySessionRegistry();
    const a = makeHost(bus, undefined, registry, "n1");
    const b = makeHost(bus, undefined, registry, "n2");
    const counter = { name: "test.counter", initial: () => ({ n: 0 }) };
    a.sessions.stateKeys.declare(counter);
    b.sessions.stateKeys.declare(counter);
    const { session } = await bob(a);
    session.state(counter).n = 7;
    const before = (await registry.get("bob@localhost/b"))!;
    const saved = a.sessions.exportState(session);
    const adopted = await b.sessions.adopt(before, session.jid, saved, new RecordingConnection());
    expect(adopted?.state(counter).n).toBe(7);
    expect(await registry.get("bob@localhost/b")).toMatchObject({ nodeId: "n2", sessionId: adopted!.id });
    a.sessions.release(session);
    expect(a.sessions.get(session.id)).toBeUndefined();
    expect(await registry.get("bob@localhost/b")).toBeDefined();
    // a second adoption from the same old entry fails: it moved already
    expect(await a.sessions.adopt(before, session.jid, saved, new RecordingConnection())).toBeUndefined();
  });

  it("a new bind of the same resource takes it over and the old stream gets <conflict/>", async () => {
    const host = makeHost();
    const first = await bob(host);
    const second = await bob(host);
    expect(first.conn.closedWith?.condition).toBe("conflict");
    expect(first.session.closed).toBe(true);
    expect((await host.registry.get("bob@localhost/b"))?.sessionId).toBe(second.session.id);
  });
});
