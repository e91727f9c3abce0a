/**
 * XEP-0357 push notifications through real sockets, in both modes. The app server is an
 * external component (XEP-0114, test/support/component.ts) connected to the first edge; the
 * sender sits on the last one, where the message is stored or queued and the notification made,
 * so in cluster mode the notification reaches the app server over the bus and its answer
 * comes back on the other edge; the phone sits on the first. A user enables push, goes offline (or its
 * stream-management session detaches), a message arrives, and the app server gets the summary
 * without the body — with it when push.includeBody is on; bad input gets its stanza error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { TestComponent, freePort, untilEveryEdgeLists } from "../support/component.js";
import { RawConnection } from "../support/raw.js";
import type { DeepPartial, SwitchboardConfig } from "@switchboard/server";
import { startTestServer, type TestServer } from "../support/server.js";

type DeepPartialConfig = DeepPartial<SwitchboardConfig>;

const APP = { domain: "push.localhost", secret: "app-secret" };
const PUSH = "urn:xmpp:push:0";
const DATA = "jabber:x:data";
const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

async function startWithApp(overrides: DeepPartialConfig = {}): Promise<{ ts: TestServer; app: TestComponent }> {
  const ports = [await freePort(), await freePort()];
  const ts = await startTestServer({ sm: { resumeTimeoutSeconds: 60 }, ...overrides }, { perNode: (i) => ({ components: { port: ports[i]!, hosts: [APP] } }) });
  const app = await TestComponent.connect(ts.nodes[0]!.ports.components, APP.domain, APP.secret);
  expect(app.handshaken).toBe(true);
  // Like a real app server: acknowledge every publish (XEP-0357 §7).
  app.answer = (iq) => xml("iq", { type: "result", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from });
  await ts.addUser("watcher");
  await untilEveryEdgeLists(ts, "watcher", APP.domain); // every edge knows where the app server is
  return { ts, app };
}

const phoneNode = (ts: TestServer) => ts.nodes[0]!;
const senderNode = (ts: TestServer) => ts.nodes[ts.nodes.length - 1]!;

function enableIq(node: string, opts: { jid?: string; form?: Element; to?: string } = {}): Element {
  return xml("iq", { type: "set", to: opts.to }, xml("enable", { xmlns: PUSH, jid: opts.jid ?? APP.domain, node }, ...(opts.form ? [opts.form] : [])));
}

function publishOptions(secret: string, formType = PUBLISH_OPTIONS, type = "submit"): Element {
  return xml("x", { xmlns: DATA, type }, xml("field", { var: "FORM_TYPE" }, xml("value", {}, formType)), xml("field", { var: "secret" }, xml("value", {}, secret)));
}

/** the summary fields of a notification publish, by name */
function summaryOf(iq: Element): Record<string, string> {
  const form = iq.getChild("pubsub")?.getChild("publish")?.getChild("item")?.getChild("notification", PUSH)?.getChild("x", DATA);
  const out: Record<string, string> = {};
  for (const f of form?.getChildren("field") ?? []) out[String(f.attrs.var)] = f.getChildText("value") ?? "";
  return out;
}

const isPublishFor = (node: string) => (s: Element) => s.name === "iq" && s.attrs.type === "set" && s.getChild("pubsub")?.getChild("publish")?.attrs.node === node;

async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

async function enabledThenOffline(ts: TestServer, user: string, node: string, form?: Element): Promise<void> {
  const phone = await connect(ts, user, { resource: "phone", node: phoneNode(ts), resumable: false });
  await phone.iq(enableIq(node, { form }));
  await phone.stop();
}

async function sendFrom(ts: TestServer, sender: TestClient, to: string, body: string): Promise<void> {
  await sender.send(xml("message", { to, type: "chat" }, xml("body", {}, body)));
}

describe("XEP-0357 push notifications", () => {
  let ts: TestServer;
  let app: TestComponent;
  let sender: TestClient;

  beforeAll(async () => {
    ({ ts, app } = await startWithApp());
    for (const u of ["phone", "smphone", "bad", "other", "sender", "cancelled", "offagain"]) await ts.addUser(u);
    sender = await connect(ts, "sender", { resource: "desk", node: senderNode(ts) });
  });
  afterAll(async () => {
    app?.destroy();
    await sender?.stop();
    await ts?.stop();
  });

  it("advertises urn:xmpp:push:0 on the account", async () => {
    const c = await connect(ts, "other", { resource: "disco" });
    const info = await c.iq(xml("iq", { type: "get", to: "other@localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(PUSH);
    await c.stop();
  });

  it("notifies the app server of a message for an offline user, with the summary but no body, and the publish-options", async () => {
    await enabledThenOffline(ts, "phone", "device-1", publishOptions("token-1"));
    await sendFrom(ts, sender, "phone@localhost", "the secret text");
    const iq = await app.waitFor(isPublishFor("device-1"));
    expect(iq.attrs.from).toBe("phone@localhost");
    expect(iq.attrs.to).toBe(APP.domain);
    expect(summaryOf(iq)).toEqual({ FORM_TYPE: "urn:xmpp:push:summary", "message-count": "1", "last-message-sender": "sender@localhost/desk" });
    expect(iq.toString()).not.toContain("the secret text");
    const options = iq.getChild("pubsub")!.getChild("publish-options")!.getChild("x", DATA)!;
    expect(options.getChildren("field").find((f) => f.attrs.var === "secret")?.getChildText("value")).toBe("token-1");
    // The message itself is still kept for the user.
    const back = await connect(ts, "phone", { resource: "phone" });
    await back.send(xml("presence"));
    await back.waitFor((s) => s.getChildText("body") === "the secret text");
    await back.stop();
  });

  it("notifies when the message is queued for a detached stream-management session", async () => {
    const raw = await RawConnection.open(phoneNode(ts).ports.c2s);
    await raw.login("smphone", "secret", "phone");
    raw.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    await raw.waitFor(/<enabled /);
    raw.write("<presence/>");
    raw.write(`<iq type='set' id='push1'><enable xmlns='${PUSH}' jid='${APP.domain}' node='sm-device'/></iq>`);
    await raw.waitFor(/id="push1"[^>]*type="result"|type="result"[^>]*id="push1"/);
    raw.close(); // dropped without a goodbye: detached, waiting for a resumption
    await new Promise((r) => setTimeout(r, 300));
    await sendFrom(ts, sender, "smphone@localhost", "while detached");
    const iq = await app.waitFor(isPublishFor("sm-device"));
    expect(summaryOf(iq)["last-message-sender"]).toBe("sender@localhost/desk");
    expect(summaryOf(iq)["last-message-body"]).toBeUndefined();
    // queued for the resumption, not in offline storage: the notification came from the queue
    expect(await ts.server.host.store.offline.count("smphone@localhost")).toBe(0);
  });

  it("sends nothing after <disable/>, and nothing for a chat state alone", async () => {
    const phone = await connect(ts, "offagain", { resource: "phone", node: phoneNode(ts), resumable: false });
    await phone.iq(enableIq("off-device"));
    await phone.iq(xml("iq", { type: "set" }, xml("disable", { xmlns: PUSH, jid: APP.domain, node: "off-device" })));
    await phone.iq(enableIq("still-device"));
    await phone.stop();
    await sender.send(xml("message", { to: "offagain@localhost", type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await sendFrom(ts, sender, "offagain@localhost", "after disable");
    await app.waitFor(isPublishFor("still-device"));
    expect(app.stanzas.filter(isPublishFor("still-device"))).toHaveLength(1);
    expect(app.stanzas.some(isPublishFor("off-device"))).toBe(false);
  });

  it("removes a registration the app server refuses for good (cancel), keeps one it refuses for now (wait)", async () => {
    const phone = await connect(ts, "cancelled", { resource: "phone", node: phoneNode(ts), resumable: false });
    await phone.iq(enableIq("gone-device"));
    await phone.iq(enableIq("busy-device"));
    await phone.stop();
    app.answer = (iq) => {
      const node = iq.getChild("pubsub")?.getChild("publish")?.attrs.node;
      const type = node === "gone-device" ? "cancel" : "wait";
      const condition = node === "gone-device" ? "item-not-found" : "resource-constraint";
      return xml("iq", { type: "error", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, xml("error", { type }, xml(condition, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
    };
    await sendFrom(ts, sender, "cancelled@localhost", "first");
    await app.waitFor(isPublishFor("gone-device"));
    await app.waitFor(isPublishFor("busy-device"));
    const store = ts.server.host.store.push;
    for (let i = 0; i < 50 && (await store.list("cancelled@localhost")).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await store.list("cancelled@localhost")).map((r) => r.node)).toEqual(["busy-device"]);
    app.answer = (iq) => xml("iq", { type: "result", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from });
    await sendFrom(ts, sender, "cancelled@localhost", "second");
    await app.until(() => app.stanzas.filter(isPublishFor("busy-device")).length === 2);
    expect(app.stanzas.filter(isPublishFor("gone-device"))).toHaveLength(1);
  });

  it("removes a registration when the app server takes the user's affiliation away (§8), and only that one", async () => {
    const phone = await connect(ts, "other", { resource: "phone", node: phoneNode(ts), resumable: false });
    await phone.iq(enableIq("revoked-device"));
    await phone.iq(enableIq("kept-device"));
    const notice = (node: string, jid = "other@localhost") =>
      xml("message", { from: APP.domain, to: "other@localhost" }, xml("pubsub", { xmlns: "http://jabber.org/protocol/pubsub", node }, xml("affiliation", { jid, affiliation: "none" })));
    app.send(notice("kept-device", "someone-else@localhost")); // about another user: ignored
    app.send(notice("revoked-device"));
    const store = ts.server.host.store.push;
    for (let i = 0; i < 50 && (await store.list("other@localhost")).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await store.list("other@localhost")).map((r) => r.node)).toEqual(["kept-device"]);
    // a notice from someone who is not the app server changes nothing
    await sender.send(xml("message", { to: "other@localhost" }, xml("pubsub", { xmlns: "http://jabber.org/protocol/pubsub", node: "kept-device" }, xml("affiliation", { jid: "other@localhost", affiliation: "none" }))));
    await new Promise((r) => setTimeout(r, 200));
    expect((await store.list("other@localhost")).map((r) => r.node)).toEqual(["kept-device"]);
    await phone.iq(xml("iq", { type: "set" }, xml("disable", { xmlns: PUSH, jid: APP.domain })));
    await phone.stop();
  });

  it("answers a bad <enable/> or <disable/> with bad-request, another account's with forbidden, the 21st registration with resource-constraint", async () => {
    const c = await connect(ts, "bad", { resource: "bad" });
    expect(await refusal(c.iq(enableIq("")))).toBe("bad-request");
    expect(await refusal(c.iq(xml("iq", { type: "set" }, xml("enable", { xmlns: PUSH, node: "n" }))))).toBe("bad-request");
    expect(await refusal(c.iq(enableIq("n", { jid: "not a jid@@" })))).toBe("bad-request");
    expect(await refusal(c.iq(enableIq("n", { form: publishOptions("s", PUBLISH_OPTIONS, "form") })))).toBe("bad-request");
    expect(await refusal(c.iq(enableIq("n", { form: publishOptions("s", "urn:example:other") })))).toBe("bad-request");
    expect(await refusal(c.iq(enableIq("n", { to: "other@localhost" })))).toBe("forbidden");
    expect(await refusal(c.iq(xml("iq", { type: "set" }, xml("disable", { xmlns: PUSH }))))).toBe("bad-request");
    expect(await ts.server.host.store.push.list("bad@localhost")).toEqual([]);
    for (let i = 0; i < 20; i++) await c.iq(enableIq(`n${i}`));
    expect(await refusal(c.iq(enableIq("n20")))).toBe("resource-constraint");
    await c.iq(enableIq("n3", { form: publishOptions("replaced") })); // replacing one is not adding
    await c.iq(xml("iq", { type: "set" }, xml("disable", { xmlns: PUSH, jid: APP.domain })));
    expect(await ts.server.host.store.push.list("bad@localhost")).toEqual([]);
    await c.stop();
  });
});

describe("XEP-0357 with push.includeBody and a small push.maxPerMinutePerDevice", () => {
  let ts: TestServer;
  let app: TestComponent;

  beforeAll(async () => {
    ({ ts, app } = await startWithApp({ push: { includeBody: true, maxPerMinutePerDevice: 2 } }));
    for (const u of ["phone", "sender"]) await ts.addUser(u);
  });
  afterAll(async () => {
    app?.destroy();
    await ts?.stop();
  });

  it("puts the body in the summary, and sends no more than maxPerMinutePerDevice a minute", async () => {
    await enabledThenOffline(ts, "phone", "device-b");
    const sender = await connect(ts, "sender", { resource: "desk", node: senderNode(ts) });
    await sendFrom(ts, sender, "phone@localhost", "body one");
    const first = await app.waitFor(isPublishFor("device-b"));
    expect(summaryOf(first)["last-message-body"]).toBe("body one");
    await sendFrom(ts, sender, "phone@localhost", "body two");
    await sendFrom(ts, sender, "phone@localhost", "body three");
    await app.until(() => app.stanzas.filter(isPublishFor("device-b")).length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    const sent = app.stanzas.filter(isPublishFor("device-b"));
    expect(sent).toHaveLength(2);
    expect(summaryOf(sent[1]!)["last-message-body"]).toBe("body two");
    expect(Number(summaryOf(sent[1]!)["message-count"])).toBeGreaterThanOrEqual(1);
    // every message is still stored, notified or not
    const back = await connect(ts, "phone", { resource: "phone" });
    await back.send(xml("presence"));
    await back.waitFor((s) => s.getChildText("body") === "body three");
    expect(back.received.filter((s) => s.name === "message").map((s) => s.getChildText("body"))).toEqual(["body one", "body two", "body three"]);
    await back.stop();
    await sender.stop();
  });
});
