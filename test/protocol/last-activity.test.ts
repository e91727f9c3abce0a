/**
 * XEP-0012 last activity through real clients: server uptime, an offline contact's logout time
 * and goodbye, a client's own idle time at its full JID, and the refusals for non-subscribers.
 * In cluster mode the parties sit on different edges.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const NS = "jabber:iq:last";
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["leaver", "watcher", "stranger"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

interface IqCallee {
  get(ns: string, name: string, handler: () => Element): void;
}

const lastQuery = (to: string) => xml("iq", { type: "get", to }, xml("query", { xmlns: NS }));

/** the error condition a rejected @xmpp/client IQ request carries */
async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

/** watcher subscribes to leaver's presence and leaver approves (RFC 6121 §3.1) */
async function subscribe(watcher: TestClient, leaver: TestClient): Promise<void> {
  await watcher.send(xml("presence", { to: "leaver@localhost", type: "subscribe" }));
  await leaver.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribe");
  await leaver.send(xml("presence", { to: "watcher@localhost", type: "subscribed" }));
  await watcher.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribed");
}

describe("last activity (XEP-0012)", () => {
  it("gives the server's uptime in whole seconds and lists the feature", async () => {
    const c = await connect(ts, "stranger", { resource: "up" });
    const iq = await c.iq(lastQuery("localhost"));
    expect(iq.getChild("query", NS)?.attrs.seconds).toMatch(/^\d+$/);
    const info = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(NS);
    await c.stop();
  });

  it("tells a subscriber 0 while the contact is online, then how long ago it left and its goodbye", async () => {
    const leaver = await connect(ts, "leaver", { resource: "desk" });
    const watcher = await connect(ts, "watcher", { resource: "w" });
    await leaver.send(xml("presence"));
    await watcher.send(xml("presence"));
    await subscribe(watcher, leaver);

    const online = await watcher.iq(lastQuery("leaver@localhost"));
    expect(online.getChild("query", NS)?.attrs.seconds).toBe("0");

    // the client's own idle time comes from the client, at its full JID (§6)
    (leaver.xmpp as unknown as { iqCallee: IqCallee }).iqCallee.get(NS, "query", () => xml("query", { xmlns: NS, seconds: "123" }));
    const idle = await watcher.iq(lastQuery("leaver@localhost/desk"));
    expect(idle.attrs.from).toBe("leaver@localhost/desk");
    expect(idle.getChild("query", NS)?.attrs.seconds).toBe("123");

    await leaver.send(xml("presence", { type: "unavailable" }, xml("status", {}, "Heading Home")));
    await leaver.stop();
    // the stream closes on its edge a moment later; until then the contact still reads as online
    let gone: Element | undefined;
    for (let i = 0; i < 50 && gone?.getChild("query", NS)?.getText() !== "Heading Home"; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      // the goodbye may still be in flight on its edge while the stream is already unbound
      gone = await watcher.iq(lastQuery("leaver@localhost")).catch(() => undefined);
    }
    expect(gone?.getChild("query", NS)?.getText()).toBe("Heading Home");
    expect(Number(gone?.getChild("query", NS)?.attrs.seconds)).toBeLessThan(10);
    await new Promise((r) => setTimeout(r, 1_100));
    const later = await watcher.iq(lastQuery("leaver@localhost"));
    expect(Number(later.getChild("query", NS)?.attrs.seconds)).toBeGreaterThanOrEqual(1);
    await watcher.stop();
  });

  it("refuses someone without a presence subscription with forbidden, at the bare and at a full JID", async () => {
    const leaver = await connect(ts, "leaver", { resource: "phone" });
    const stranger = await connect(ts, "stranger", { resource: "s" });
    await leaver.send(xml("presence"));
    expect(await refusal(stranger.iq(lastQuery("leaver@localhost")))).toBe("forbidden");
    expect(await refusal(stranger.iq(lastQuery("leaver@localhost/phone")))).toBe("forbidden");
    expect(await refusal(stranger.iq(lastQuery("nobody@localhost")))).toBe("forbidden");
    await leaver.expectNone((el) => el.name === "iq" && !!el.getChild("query", NS));
    await Promise.all([leaver.stop(), stranger.stop()]);
  });
});
