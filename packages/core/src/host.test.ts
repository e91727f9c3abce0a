import { describe, expect, it } from "vitest";
import { Element, StreamError, parseJid, x } from "@switchboard/xml";
import { Host } from "./host.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import { InProcessMetrics } from "./metrics.js";
import type { LocalSession } from "./session.js";
import type { BusEnvelope, SessionInfo, StanzaBus } from "./ports.js";

class RecordingSession implements LocalSession {
  readonly sent: Element[] = [];
  closed = false;
  closedWith?: StreamError;
  readonly ip = "127.0.0.1";
  readonly secure = true;
  constructor(
    readonly id: string,
    readonly jid = parseJid("bob@localhost/b"),
  ) {}
  send(el: Element) {
    this.sent.push(el);
  }
  close(err?: StreamError) {
    this.closed = true;
    this.closedWith = err;
  }
}

function makeHost(bus: StanzaBus = new MemoryStanzaBus(), isNodeAlive?: (id: string) => boolean) {
  const host = new Host({
    domain: "localhost",
    nodeId: "n1",
    store: new MemoryStore(),
    registry: new MemorySessionRegistry(),
    bus,
    limiter: new MemoryLimiter(),
    log: silentLogger,
    isNodeAlive,
    metrics: new InProcessMetrics(),
  });
  host.start();
  return host;
}

const info = (nodeId: string, sessionId = "s1"): SessionInfo => ({
  jid: "bob@localhost/b",
  sessionId,
  nodeId,
  priority: 0,
  available: true,
  interested: false,
  since: 0,
});

describe("Host and the stanza bus", () => {
  it("drops garbage from the bus without throwing and keeps serving the stream", async () => {
    const bus = new MemoryStanzaBus();
    const host = makeHost(bus);
    const session = new RecordingSession("s1");
    host.sessions.set("s1", session);
    const send = (env: Partial<BusEnvelope>) => bus.publish("n1", { to: "bob@localhost/b", sessionId: "s1", xml: "", ...env });
    await send({ xml: "<message><body>&undefined;</body></message>" });
    await send({ xml: "<message" });
    await send({ sessionId: "gone", xml: "<message/>" });
    expect(session.sent).toHaveLength(0);
    await send({ xml: "<message><body>ok</body></message>" });
    expect(session.sent.map((el) => el.getChildText("body"))).toEqual(["ok"]);
    await send({ headers: { control: "conflict" } });
    expect(session.closedWith?.condition).toBe("conflict");
  });

  it("reports a resource on a dead node or behind a refusing bus as unreachable", async () => {
    const refusing = new MemoryStanzaBus();
    refusing.publish = async () => {
      throw new Error("buffer full");
    };
    const host = makeHost(refusing, (id) => id !== "dead");
    const stanza = x("message", { to: "bob@localhost/b" });
    expect(await host.deliver(info("dead"), stanza)).toBe(false);
    expect(await host.deliver(info("other"), stanza)).toBe(false);
    expect((host.metrics as InProcessMetrics).value("switchboard_deliveries_total", { path: "bus" })).toBe(0);
    expect(await host.deliver(info("n1", "no-such-stream"), stanza)).toBe(false);
  });
});
