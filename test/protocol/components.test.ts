/**
 * XEP-0114 external components through real sockets, in both modes (SB_TEST_MODE=cluster: every
 * edge has a component listener; the component connects to one, clients sit on either): the
 * handshake, routing both ways, disco#items, one connection per domain, and every bad input
 * with its stream or stanza error, each followed by a check that the server still serves.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import net from "node:net";
import { MAX_UNAUTHENTICATED } from "@switchboard/component";
import { connect, xml } from "../support/client.js";
import { TestComponent, freePort, untilEveryEdgeLists } from "../support/component.js";
import { startTestServer, type TestServer } from "../support/server.js";

const HOSTS = [
  { domain: "echo.localhost", secret: "echo-secret" },
  { domain: "absent.localhost", secret: "absent-secret" },
  { domain: "twice.localhost", secret: "twice-secret" },
  { domain: "bad.localhost", secret: "bad-secret" },
  { domain: "gone.localhost", secret: "gone-secret" },
];
const secretOf = (domain: string) => HOSTS.find((h) => h.domain === domain)!.secret;
let ts: TestServer;
let ports: number[];

beforeAll(async () => {
  ports = [await freePort(), await freePort()];
  ts = await startTestServer({}, { perNode: (i) => ({ components: { port: ports[i]!, hosts: HOSTS } }) });
  for (const u of ["romeo", "juliet"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

/** the listener of node `i` (the last node when there are fewer) */
const portOf = (i: number) => ts.nodes[Math.min(i, ts.nodes.length - 1)]!.ports.components;
const open: TestComponent[] = [];
async function component(domain: string, node = 0, opts?: Parameters<typeof TestComponent.connect>[3]): Promise<TestComponent> {
  const c = await TestComponent.connect(portOf(node), domain, secretOf(domain) ?? "", opts);
  open.push(c);
  return c;
}
afterAll(() => open.forEach((c) => c.destroy()));

async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

/** until every node has heard of (or forgotten) the component */
const settled = (domain: string, listed = true) => untilEveryEdgeLists(ts, "juliet", domain, listed);

/** the server still routes between a component and a client */
async function stillServed(echo: TestComponent): Promise<void> {
  const c = await connect(ts, "juliet", { resource: `check${Date.now()}` });
  const body = `still ${Math.random()}`;
  await c.send(xml("message", { to: "bot@echo.localhost", type: "chat" }, xml("body", {}, body)));
  await echo.waitFor((s) => s.getChildText("body") === body);
  await c.stop();
}

describe("XEP-0114 external components", () => {
  let echo: TestComponent;

  it("accepts the handshake: a header from the component's domain without features, then an empty <handshake/>", async () => {
    echo = await component("echo.localhost", 0);
    expect(echo.streamError).toBeUndefined();
    expect(echo.handshaken).toBe(true);
    expect(echo.stanzas.some((s) => s.name === "stream:features")).toBe(false);
    expect(echo.header).toMatchObject({ xmlns: "jabber:component:accept", from: "echo.localhost" });
    expect(echo.header?.version).toBeUndefined();
    await settled("echo.localhost");
  });

  it("routes a client's message to the component and the component's reply to the client, across edges", async () => {
    const romeo = await connect(ts, "romeo", { resource: "r", node: ts.nodes[ts.nodes.length - 1] });
    await romeo.send(xml("message", { to: "bot@echo.localhost", type: "chat", id: "m1" }, xml("body", {}, "hello bot")));
    const got = await echo.waitFor((s) => s.getChildText("body") === "hello bot");
    expect(got.attrs.from).toBe("romeo@localhost/r");
    expect(got.attrs.to).toBe("bot@echo.localhost");
    echo.send(xml("message", { from: "bot@echo.localhost", to: "romeo@localhost/r", type: "chat" }, xml("body", {}, "hello romeo")));
    const reply = await romeo.waitFor((s) => s.getChildText("body") === "hello romeo");
    expect(reply.attrs.from).toBe("bot@echo.localhost");
    // an IQ answered by the component comes back to the client
    echo.answer = (iq) => xml("iq", { type: "result", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, xml("query", { xmlns: "jabber:iq:version" }, xml("name", {}, "echo")));
    const version = await romeo.iq(xml("iq", { type: "get", to: "echo.localhost" }, xml("query", { xmlns: "jabber:iq:version" })));
    expect(version.getChild("query")?.getChildText("name")).toBe("echo");
    echo.answer = undefined;
    await romeo.stop();
  });

  it("lists connected components in the server's disco#items, not configured ones that are away, on every edge", async () => {
    const c = await connect(ts, "juliet", { resource: "disco", node: ts.nodes[ts.nodes.length - 1] });
    const items = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
    const jids = items.getChild("query")!.getChildren("item").map((i) => i.attrs.jid);
    expect(jids).toContain("echo.localhost");
    expect(jids).not.toContain("absent.localhost");
    await c.stop();
  });

  it("answers messages and IQs to a component that is not connected with service-unavailable, and drops presence", async () => {
    const c = await connect(ts, "juliet", { resource: "absent" });
    await c.send(xml("message", { to: "x@absent.localhost", type: "chat", id: "gone1" }, xml("body", {}, "anyone?")));
    const bounce = await c.waitFor((s) => s.attrs.id === "gone1" && s.attrs.type === "error");
    expect(bounce.getChild("error")?.getChild("service-unavailable")).toBeDefined();
    expect(await refusal(c.iq(xml("iq", { type: "get", to: "absent.localhost" }, xml("query", { xmlns: "jabber:iq:version" }))))).toBe("service-unavailable");
    await c.send(xml("presence", { to: "x@absent.localhost", id: "p1" }));
    await c.expectNone((s) => s.attrs.id === "p1", 300);
    await c.stop();
  });

  it("refuses a second connection for a connected domain with <conflict/>, on either edge, and keeps the first", async () => {
    const first = await component("twice.localhost", 0);
    expect(first.handshaken).toBe(true);
    await settled("twice.localhost");
    for (const node of [0, 1]) {
      const second = await component("twice.localhost", node);
      expect(second.streamError).toBe("conflict");
      await second.waitClosed();
    }
    expect(first.closed).toBe(false);
    const c = await connect(ts, "juliet", { resource: "twice" });
    await c.send(xml("message", { to: "twice.localhost", type: "chat" }, xml("body", {}, "to the first")));
    await first.waitFor((s) => s.getChildText("body") === "to the first");
    await c.stop();
  });

  it("closes a wrong handshake with <not-authorized/>, an unknown domain with <host-unknown/>, a wrong namespace with <invalid-namespace/>", async () => {
    const wrong = await component("bad.localhost", 0, { handshake: () => "0".repeat(40) });
    expect(wrong.streamError).toBe("not-authorized");
    await wrong.waitClosed();
    const unknown = await TestComponent.connect(portOf(0), "nobody.localhost", "x");
    expect(unknown.streamError).toBe("host-unknown");
    await unknown.waitClosed();
    const own = await TestComponent.connect(portOf(0), "localhost", "x");
    expect(own.streamError).toBe("host-unknown");
    const ns = await component("bad.localhost", 0, { namespace: "jabber:client" });
    expect(ns.streamError).toBe("invalid-namespace");
    // the secret of another domain does not open this one
    const other = await component("bad.localhost", 0, { handshake: (id) => createHash("sha1").update(id + "echo-secret").digest("hex") });
    expect(other.streamError).toBe("not-authorized");
    await stillServed(echo);
  });

  it("closes a stanza before the handshake with <not-authorized/>, and stanzas from outside its domain with <invalid-from/>", async () => {
    const early = await component("bad.localhost", 0, { handshake: () => "" });
    // an empty handshake is a wrong one
    expect(early.streamError).toBe("not-authorized");
    const sneaky = await component("bad.localhost", 0, { raw: "<message from='bad.localhost' to='romeo@localhost'><body>early</body></message>" });
    expect(sneaky.streamError).toBe("not-authorized");

    const bad = await component("bad.localhost", 0);
    expect(bad.handshaken).toBe(true);
    const romeo = await connect(ts, "romeo", { resource: "spoofed" });
    bad.send(xml("message", { from: "admin@localhost", to: "romeo@localhost/spoofed", type: "chat" }, xml("body", {}, "spoofed")));
    await bad.waitClosed();
    expect(bad.streamError).toBe("invalid-from");
    await romeo.expectNone((s) => s.getChildText("body") === "spoofed", 300);
    await romeo.stop();

    const sub = await component("bad.localhost", 0);
    sub.send(xml("message", { from: "x@sub.bad.localhost", to: "romeo@localhost", type: "chat" }, xml("body", {}, "sub")));
    await sub.waitClosed();
    expect(sub.streamError).toBe("invalid-from");

    const noTo = await component("bad.localhost", 0);
    noTo.send(xml("message", { from: "x@bad.localhost", type: "chat" }, xml("body", {}, "nowhere")));
    await noTo.waitClosed();
    expect(noTo.streamError).toBe("improper-addressing");

    const notStanza = await component("bad.localhost", 0);
    notStanza.write("<handshake/>");
    await notStanza.waitClosed();
    expect(notStanza.streamError).toBe("unsupported-stanza-type");
    await stillServed(echo);
  });

  it("bounces with service-unavailable once the component has gone, on every edge", async () => {
    const gone = await component("gone.localhost", 0);
    await settled("gone.localhost");
    const c = await connect(ts, "juliet", { resource: "gone", node: ts.nodes[ts.nodes.length - 1] });
    await c.send(xml("message", { to: "gone.localhost", type: "chat" }, xml("body", {}, "before")));
    await gone.waitFor((s) => s.getChildText("body") === "before");
    gone.close();
    await gone.waitClosed();
    await settled("gone.localhost", false);
    await c.send(xml("message", { to: "gone.localhost", type: "chat", id: "after" }, xml("body", {}, "after")));
    const bounce = await c.waitFor((s) => s.attrs.id === "after" && s.attrs.type === "error");
    expect(bounce.getChild("error")?.getChild("service-unavailable")).toBeDefined();
    await c.stop();
    // and it may connect again
    const again = await component("gone.localhost", 1);
    expect(again.handshaken).toBe(true);
  });

  it("closes new connections at accept once MAX_UNAUTHENTICATED have not handshaken, and takes them again after", async () => {
    const open = async () => {
      const socket = net.connect({ port: portOf(0), host: "127.0.0.1" });
      socket.on("error", () => {});
      await new Promise<void>((resolve, reject) => (socket.once("connect", resolve), socket.once("error", reject)));
      return socket;
    };
    const closed = (socket: net.Socket) => new Promise<boolean>((resolve) => {
      if (socket.destroyed) return resolve(true);
      const timer = setTimeout(() => resolve(false), 500);
      socket.once("close", () => (clearTimeout(timer), resolve(true)));
    });
    const idle: net.Socket[] = [];
    for (let i = 0; i < MAX_UNAUTHENTICATED; i++) idle.push(await open());
    await new Promise((r) => setTimeout(r, 100));
    const extra = await open();
    expect(await closed(extra)).toBe(true);
    expect(await closed(idle[0]!)).toBe(false); // those within the cap stay, for their handshake time
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const c = await component("bad.localhost", 0);
    expect(c.handshaken).toBe(true);
    c.close();
    await stillServed(echo);
  });
});
