/**
 * Two nodes of one cluster (shared registry, store and bus, in memory): a stanza the sender's
 * node routed over the bus to a stream that closed while it was in flight must not vanish.
 */
import { describe, expect, it } from "vitest";
import { MemorySessionRegistry, MemoryStanzaBus, MemoryStore } from "@switchboard/core";
import { createTestHost, type TestHost } from "../testing/harness.js";
import { messageModule } from "./index.js";
import { offlineModule } from "../offline/index.js";
import { presenceModule } from "../presence/index.js";
import { rosterModule } from "../roster/index.js";

async function twoNodes(): Promise<[TestHost, TestHost]> {
  const shared = { store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus() };
  const modules = [rosterModule, presenceModule, messageModule, offlineModule];
  const a = await createTestHost(modules, { cluster: { ...shared, nodeId: "node-a" } });
  const b = await createTestHost(modules, { cluster: { ...shared, nodeId: "node-b" } });
  return [a, b];
}

/** the stream is gone on its node, but the registry has not heard yet (unbind in flight) */
function dropStream(t: TestHost, sessionId: string): void {
  t.host.sessions.release(t.host.sessions.get(sessionId)!);
}

/** sender on node a; user@localhost/phone online on node b, whose stream then drops */
async function senderAndDroppedPhone(): Promise<{ a: TestHost; sender: Awaited<ReturnType<TestHost["login"]>> }> {
  const [a, b] = await twoNodes();
  const sender = await a.login("sender@localhost/s");
  const gone = await b.login("user@localhost/phone");
  await gone.sendAsClient("<presence/>");
  dropStream(b, gone.id);
  return { a, sender };
}

describe("a bus stanza for a stream that closed in flight", () => {
  it("a message to the full JID goes to the offline store", async () => {
    const { a, sender } = await senderAndDroppedPhone();
    await sender.sendAsClient("<message to='user@localhost/phone' type='chat' id='m1'><body>in flight</body></message>");
    await expect.poll(() => a.store.offline.count("user@localhost")).toBe(1);
    const [stored] = await a.store.offline.peek("user@localhost", 10);
    expect(stored?.xml).toContain("in flight");
    expect(sender.take((el) => el.attrs.type === "error")).toEqual([]);
  });

  it("a message to the bare JID is stored when no other resource is available, and not duplicated when one is", async () => {
    const { a, sender } = await senderAndDroppedPhone();
    await sender.sendAsClient("<message to='user@localhost' type='chat'><body>alone</body></message>");
    await expect.poll(() => a.store.offline.count("user@localhost")).toBe(1);

    const [c, d] = await twoNodes();
    const sender2 = await c.login("sender@localhost/s");
    const desk = await c.login("user@localhost/desk");
    await desk.sendAsClient("<presence/>");
    const phone = await d.login("user@localhost/phone");
    await phone.sendAsClient("<presence/>");
    desk.take();
    dropStream(d, phone.id);
    await sender2.sendAsClient("<message to='user@localhost' type='chat'><body>both</body></message>");
    await desk.waitFor((el) => el.getChildText("body") === "both");
    await new Promise((r) => setTimeout(r, 20));
    expect(desk.take((el) => el.getChildText("body") === "both")).toHaveLength(1);
    expect(await c.store.offline.count("user@localhost")).toBe(0);
  });

  it("an IQ request gets an error back instead of silence", async () => {
    const [a, b] = await twoNodes();
    const asker = await a.login("asker@localhost/s");
    const gone = await b.login("user@localhost/phone");
    dropStream(b, gone.id);
    await asker.sendAsClient("<iq to='user@localhost/phone' type='get' id='q1'><query xmlns='jabber:iq:version'/></iq>");
    const err = await asker.waitFor((el) => el.attrs.id === "q1");
    expect(err.attrs.type).toBe("error");
    expect(err.getChild("error")?.getChild("service-unavailable")).toBeTruthy();
  });
});
