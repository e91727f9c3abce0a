import { describe, expect, it } from "vitest";
import { parseFrame, parseJid, x, type Element } from "@switchboard/xml";
import { Host } from "./host.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import { Routes } from "./routes.js";

function host(): Host {
  const h = new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log: silentLogger });
  h.start();
  return h;
}

async function client(h: Host, jid: string): Promise<Element[]> {
  const sent: Element[] = [];
  await h.sessions.open(parseJid(jid), { ip: "127.0.0.1", secure: true, write: (el) => (sent.push(parseFrame(el.toString())), "written"), close() {} });
  return sent;
}

describe("routes (local, component, remote)", () => {
  it("resolves the served domain, registered components and everything else", () => {
    const routes = new Routes("localhost");
    const off = routes.addComponent("conference.localhost", "muc");
    expect(routes.resolve("localhost")).toEqual({ kind: "local" });
    expect(routes.resolve("conference.localhost")).toEqual({ kind: "component", component: "muc" });
    expect(routes.resolve("example.org")).toEqual({ kind: "remote" });
    expect(() => routes.addComponent("conference.localhost", "other")).toThrow(/already routed/);
    expect(() => routes.addComponent("localhost", "muc")).toThrow(/own domain/);
    expect(routes.componentDomains()).toEqual([{ domain: "conference.localhost", component: "muc" }]);
    off();
    expect(routes.resolve("conference.localhost")).toEqual({ kind: "remote" });
  });

  it("fires route/component for a component's stanzas instead of route/remote", async () => {
    const h = host();
    h.routes.addComponent("conference.localhost", "muc");
    const seen: string[] = [];
    h.hooks.on("route/component", (ev) => (seen.push(`${ev.component} ${ev.to.full}`), true));
    h.hooks.on("route/remote", () => (seen.push("remote"), true));
    const sent = await client(h, "alice@localhost/a");
    await h.router.route(x("message", { from: "alice@localhost/a", to: "room@conference.localhost", type: "groupchat" }, x("body", {}, "hi")), h.sessions.values().next().value);
    expect(seen).toEqual(["muc room@conference.localhost"]);
    expect(sent).toEqual([]);
  });

  it("keeps one IQ table per domain, and answers service-unavailable for a component nobody serves", async () => {
    const h = host();
    h.routes.addComponent("conference.localhost", "muc");
    h.iq.handle({ type: "get", xmlns: "http://jabber.org/protocol/disco#info", name: "query" }, () => x("query", { xmlns: "http://jabber.org/protocol/disco#info" }, x("identity", { category: "server" })));
    // the same (type, namespace, element) on the component's domain: no collision
    h.iq.handle({ type: "get", xmlns: "http://jabber.org/protocol/disco#info", name: "query", domain: "conference.localhost", targets: ["host", "bare"] }, () =>
      x("query", { xmlns: "http://jabber.org/protocol/disco#info" }, x("identity", { category: "conference" })),
    );
    const sent = await client(h, "alice@localhost/a");
    const ask = (to: string, id: string) => h.router.route(x("iq", { type: "get", id, from: "alice@localhost/a", to }, x("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    await ask("localhost", "1");
    await ask("room@conference.localhost", "2");
    await h.router.route(x("message", { from: "alice@localhost/a", to: "room@conference.localhost", id: "3" }, x("body", {}, "x")));
    const byId = (id: string) => sent.find((el) => el.attrs.id === id)!;
    expect(byId("1").getChild("query")?.getChild("identity")?.attrs.category).toBe("server");
    expect(byId("2").getChild("query")?.getChild("identity")?.attrs.category).toBe("conference");
    expect(byId("3").attrs.type).toBe("error");
    expect(byId("3").getChild("error")?.getChild("service-unavailable")).toBeTruthy();
  });
});
