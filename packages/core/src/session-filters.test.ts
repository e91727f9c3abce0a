import { describe, expect, it } from "vitest";
import { parseFrame, parseJid, x, type Element } from "@switchboard/xml";
import { Host } from "./host.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import { sessionState } from "./session-state.js";

async function setup() {
  const host = new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log: silentLogger });
  host.start();
  const written: Element[] = [];
  const session = await host.sessions.open(parseJid("alice@localhost/a"), { ip: "127.0.0.1", secure: true, write: (el) => (written.push(parseFrame(el.toString())), "written"), close() {} });
  return { host, session, written };
}

describe("session filters", () => {
  it("run in band order; a filter may pass a new element on, or end the write with an outcome", async () => {
    const { host, session, written } = await setup();
    const order: string[] = [];
    host.sessions.filters.outgoing((_s, el) => (order.push("feature"), el));
    host.sessions.filters.outgoing((_s, el) => {
      order.push("observe");
      // never change the element given: another session may be writing it too
      return el.attrs.id === "tag" ? x(el.name, { ...el.attrs, tagged: "yes" }, ...el.children) : el;
    }, { band: "observe" });
    host.sessions.filters.outgoing((_s, el) => (order.push("after"), el.attrs.id === "hold" ? "queued" : el), { band: "after" });
    const original = x("message", { id: "tag" });
    expect(session.send(original)).toBe("written");
    expect(original.attrs.tagged).toBeUndefined();
    expect(written.at(-1)?.attrs.tagged).toBe("yes");
    expect(order).toEqual(["observe", "feature", "after"]);
    expect(session.send(x("message", { id: "hold" }))).toBe("queued");
    expect(written.find((el) => el.attrs.id === "hold")).toBeUndefined();
  });

  it("filter what a client sends before the router sees it, and may drop it", async () => {
    const { host, session } = await setup();
    const routed: string[] = [];
    host.hooks.on("message/bare", (ev) => (routed.push(ev.stanza.attrs.id ?? ""), true));
    const off = host.sessions.filters.incoming((_s, el) => (el.attrs.id === "spam" ? "drop" : el));
    await session.receive(x("message", { id: "ok", from: "alice@localhost/a", to: "bob@localhost" }));
    await session.receive(x("message", { id: "spam", from: "alice@localhost/a", to: "bob@localhost" }));
    off();
    await session.receive(x("message", { id: "spam", from: "alice@localhost/a", to: "bob@localhost" }));
    expect(routed).toEqual(["ok", "spam"]);
  });

  it("keep declared session state, exported as JSON and imported back with its codec", async () => {
    const { host, session } = await setup();
    const seen = sessionState("test.seen", () => new Set<string>(), { save: (s) => [...s], load: (a) => new Set(a as string[]) });
    host.sessions.stateKeys.declare(seen);
    session.state(seen).add("x");
    const saved = host.sessions.exportState(session);
    expect(JSON.parse(JSON.stringify(saved))).toEqual({ "test.seen": ["x"] });
    const bag = new Map<string, unknown>();
    host.sessions.stateKeys.import(bag, { "test.seen": ["y"], "someone.else": 1 });
    expect(bag.get("test.seen")).toEqual(new Set(["y"]));
    expect(bag.has("someone.else")).toBe(false);
    expect(() => sessionState("Bad Name", () => 0)).toThrow(/dotted lower-case/);
  });
});
