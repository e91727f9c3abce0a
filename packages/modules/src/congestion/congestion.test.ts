import { describe, expect, it, vi } from "vitest";
import { NS_DELAY, parseFrame, type Element } from "@switchboard/xml";
import type { InProcessMetrics } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { messageModule } from "../message/index.js";
import { offlineModule } from "../offline/index.js";
import { presenceModule } from "../presence/index.js";
import { congestionModule } from "./index.js";

const chat = (n: number) => `<message to='bob@localhost/phone' type='chat' id='m${n}'><body>${n}</body></message>`;
const ids = (els: Element[]) => els.filter((e) => e.name === "message").map((e) => e.attrs.id);

async function setup(offlinePerUser = 100): Promise<{ t: TestHost; alice: FakeSession; bob: FakeSession; metric: (action: string) => number }> {
  const t = await createTestHost([messageModule, presenceModule, [offlineModule, { maxPerUser: offlinePerUser }], congestionModule], { offlinePerUser });
  const alice = await t.login("alice@localhost/a");
  const bob = await t.login("bob@localhost/phone");
  await t.host.registry.update("bob@localhost/phone", bob.id, { available: true });
  const metrics = t.host.metrics as InProcessMetrics;
  return { t, alice, bob, metric: (action) => metrics.value("switchboard_congestion_total", { action }) };
}

describe("slow receivers (modules/congestion)", () => {
  it("diverts messages to offline storage while congested and writes them back in order, before any newer one, once relieved", async () => {
    const { t, alice, bob, metric } = await setup();
    await alice.sendAsClient(chat(1));
    await bob.congest(true);
    for (let n = 2; n <= 5; n++) await alice.sendAsClient(chat(n));
    expect(ids(bob.sent)).toEqual(["m1"]);
    await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(4));
    const stored = await t.store.offline.peek("bob@localhost");
    expect(stored.every((s) => s.xml.includes(NS_DELAY))).toBe(true);
    // The queue drained, but the backlog is not delivered yet: a newer message queues behind it.
    const peek = t.store.offline.peek.bind(t.store.offline);
    let slow = true;
    t.store.offline.peek = async (owner, limit) => {
      if (slow) await new Promise((r) => setTimeout(r, 30));
      return peek(owner, limit);
    };
    const relieved = bob.congest(false);
    await alice.sendAsClient(chat(6));
    slow = false;
    await relieved;
    await bob.waitFor((el) => el.attrs.id === "m6");
    expect(ids(bob.sent)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(await t.store.offline.count("bob@localhost")).toBe(0);
    expect(metric("diverted")).toBe(5);
    expect(metric("flushed")).toBe(5);
    // Episode over: the next message is written at once.
    await alice.sendAsClient(chat(7));
    expect(ids(bob.sent).at(-1)).toBe("m7");
  });

  it("stops the flush when the connection is congested again and goes on at the next relief", async () => {
    const { t, alice, bob } = await setup();
    await bob.congest(true);
    for (let n = 1; n <= 6; n++) await alice.sendAsClient(chat(n));
    await vi.waitFor(async () => expect(await t.store.offline.count("bob@localhost")).toBe(6));
    const conn = bob.connection as { write: (s: Element) => string };
    const write = conn.write.bind(conn);
    let writes = 0;
    conn.write = (s) => {
      const r = write(s);
      if (++writes === 2) void bob.congest(true); // the queue filled again after two
      return r;
    };
    await bob.congest(false);
    expect(ids(bob.sent)).toEqual(["m1", "m2"]);
    expect(await t.store.offline.count("bob@localhost")).toBe(4);
    await bob.congest(false);
    expect(ids(bob.sent)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
  });

  it("bounces with resource-constraint once offline storage is full; nothing is lost or doubled", async () => {
    const { alice, bob, metric } = await setup(3);
    await bob.congest(true);
    for (let n = 1; n <= 5; n++) await alice.sendAsClient(chat(n));
    await alice.waitFor((el) => el.attrs.id === "m5" && el.attrs.type === "error");
    const bounced = alice.take((el) => el.attrs.type === "error");
    expect(bounced.map((e) => e.attrs.id)).toEqual(["m4", "m5"]);
    expect(bounced[0]!.getChild("error")?.getChild("resource-constraint")).toBeDefined();
    expect(metric("bounced")).toBe(2);
    await bob.congest(false);
    expect(ids(bob.sent)).toEqual(["m1", "m2", "m3"]);
  });

  it("coalesces presence to the latest per sender, keeps an unavailable, and writes IQs at once", async () => {
    const { bob, metric } = await setup();
    await bob.congest(true);
    const from = "carol@localhost/x";
    bob.session.send(parseFrame(`<presence from='${from}' to='bob@localhost/phone'><show>away</show></presence>`));
    bob.session.send(parseFrame(`<presence from='${from}' to='bob@localhost/phone'><show>dnd</show></presence>`));
    bob.session.send(parseFrame(`<presence from='dave@localhost/y' to='bob@localhost/phone' type='unavailable'/>`));
    bob.session.send(parseFrame(`<presence from='dave@localhost/y' to='bob@localhost/phone' type='subscribe'/>`));
    bob.session.send(parseFrame(`<iq from='localhost' to='bob@localhost/phone' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`));
    expect(bob.sent.map((e) => `${e.name}:${e.attrs.type ?? ""}`)).toEqual(["presence:subscribe", "iq:get"]);
    expect(metric("coalesced")).toBe(1);
    await bob.congest(false);
    const presence = bob.sent.filter((e) => e.name === "presence" && e.attrs.type !== "subscribe");
    expect(presence.map((e) => `${e.attrs.from}:${e.attrs.type ?? e.getChildText("show")}`)).toEqual([`${from}:dnd`, "dave@localhost/y:unavailable"]);
  });
});
