import { afterEach, describe, expect, it, vi } from "vitest";
import type { Element } from "@switchboard/xml";
import type { Subscription } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { blockingModule } from "../blocking/index.js";
import { lastModule } from "./index.js";

const NS = "jabber:iq:last";
let t: TestHost;
afterEach(async () => {
  vi.useRealTimers();
  await t?.stop();
});

let n = 0;
async function ask(session: FakeSession, to: string | undefined): Promise<Element> {
  const id = `l${++n}`;
  await session.sendAsClient(`<iq type='get' id='${id}'${to ? ` to='${to}'` : ""}><query xmlns='${NS}'/></iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

const condition = (iq: Element) => iq.getChild("error")?.getChildElements().find((c) => c.name !== "text")?.name;
const seconds = (iq: Element) => iq.getChild("query", NS)?.attrs.seconds;

async function subscribe(owner: string, contact: string, subscription: Subscription) {
  await t.store.roster.put(owner, { jid: contact, groups: [], subscription, askOut: false, askIn: false, approved: false, inRoster: true });
}

/** an account that never logged in */
async function createAccount(bare: string) {
  const cred = { salt: "", iterations: 1, storedKey: "", serverKey: "" };
  await t.store.accounts.create(bare, { "SCRAM-SHA-1": cred, "SCRAM-SHA-256": cred });
}

/** a fixed wall clock (Date only: the harness's timers stay real) */
function freezeClock(at: string): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(at));
}

describe("server uptime (§5)", () => {
  it("answers the seconds since the module started, on a monotonic clock, and advertises the feature", async () => {
    vi.useFakeTimers({ toFake: ["performance", "Date"] });
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    vi.advanceTimersByTime(90_700);
    const iq = await ask(alice, "localhost");
    expect(iq.attrs).toMatchObject({ type: "result", from: "localhost" });
    expect(seconds(iq)).toBe("90");
    expect(iq.getChild("query", NS)!.getText()).toBe("");
    expect(t.host.disco.hostFeatures.has(NS)).toBe(true);
    expect(t.host.disco.accountFeatures.has(NS)).toBe(true);
  });
});

describe("last activity of an account (§4)", () => {
  it("answers 0 while the user has a connected resource, to itself and to a subscriber", async () => {
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    expect(seconds(await ask(alice, undefined))).toBe("0");
    const iq = await ask(bob, "alice@localhost");
    expect(iq.attrs).toMatchObject({ type: "result", from: "alice@localhost" });
    expect(seconds(iq)).toBe("0");
    await subscribe("alice@localhost", "bob@localhost", "from");
    expect(seconds(await ask(bob, "alice@localhost"))).toBe("0");
  });

  it("after logout, answers the seconds since the last resource left and the status it left with", async () => {
    freezeClock("2024-05-01T12:00:00Z");
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "from");
    await alice.sendAsClient("<presence/>");
    await alice.sendAsClient("<presence type='unavailable'><status>Heading Home</status></presence>");
    // recorded with the goodbye already, though a connected resource still reads as 0
    expect(await t.store.lastActivity.get("alice@localhost")).toEqual({ at: Date.parse("2024-05-01T12:00:00Z"), status: "Heading Home" });
    expect(seconds(await ask(bob, "alice@localhost"))).toBe("0");
    vi.setSystemTime(new Date("2024-05-01T12:00:02Z"));
    await alice.disconnect();
    expect(await t.store.lastActivity.get("alice@localhost")).toEqual({ at: Date.parse("2024-05-01T12:00:02Z"), status: "Heading Home" });
    vi.setSystemTime(new Date("2024-05-01T12:15:05.900Z"));
    const iq = await ask(bob, "alice@localhost");
    expect(seconds(iq)).toBe("903");
    expect(iq.getChild("query", NS)!.getText()).toBe("Heading Home");
  });

  it("keeps no status when the user came back available after a goodbye", async () => {
    t = await createTestHost([lastModule]);
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    const first = await t.login("alice@localhost/a");
    await first.sendAsClient("<presence type='unavailable'><status>brb</status></presence>");
    await first.sendAsClient("<presence/>");
    await first.disconnect();
    const iq = await ask(bob, "alice@localhost");
    expect(iq.attrs.type).toBe("result");
    expect(iq.getChild("query", NS)!.getText()).toBe("");
    expect(await t.store.lastActivity.get("alice@localhost")).not.toHaveProperty("status");
  });

  it("records only when the last resource goes: while another is connected the answer stays 0", async () => {
    t = await createTestHost([lastModule]);
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    const phone = await t.login("alice@localhost/phone");
    const desk = await t.login("alice@localhost/desk");
    await desk.sendAsClient("<presence type='unavailable'><status>desk off</status></presence>");
    await desk.disconnect();
    expect(await t.store.lastActivity.get("alice@localhost")).toBeUndefined();
    expect(seconds(await ask(bob, "alice@localhost"))).toBe("0");
    await phone.sendAsClient("<presence type='unavailable'><status>phone off</status></presence>");
    await phone.disconnect();
    expect((await t.store.lastActivity.get("alice@localhost"))?.status).toBe("phone off");
    expect((await ask(bob, "alice@localhost")).getChild("query", NS)!.getText()).toBe("phone off");
  });

  it("records a session purged with a dead node, without a status, unless another resource is still connected", async () => {
    freezeClock("2024-05-01T12:00:00Z");
    t = await createTestHost([lastModule]);
    const purged = (jid: string) => ({ jid, sessionId: "x1", nodeId: "dead-node", priority: 0, available: true, interested: true, since: 0 });
    await createAccount("alice@localhost");
    await t.store.lastActivity.set("alice@localhost", 0, "old goodbye");
    await t.host.hooks.fire("session/purged", { info: purged("alice@localhost/gone") });
    expect(await t.store.lastActivity.get("alice@localhost")).toEqual({ at: Date.parse("2024-05-01T12:00:00Z") });

    await t.login("carol@localhost/still-here");
    await t.host.hooks.fire("session/purged", { info: purged("carol@localhost/gone") });
    expect(await t.store.lastActivity.get("carol@localhost")).toBeUndefined();
  });

  it("writes nothing for an account deleted before its stream closed", async () => {
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    await t.store.accounts.delete("alice@localhost");
    await alice.disconnect();
    expect(await t.store.lastActivity.get("alice@localhost")).toBeUndefined();
  });

  it("refuses strangers and contacts without a 'from' subscription with forbidden, existing account or not", async () => {
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    const mallory = await t.login("mallory@localhost/m");
    await alice.disconnect();
    expect(condition(await ask(mallory, "alice@localhost"))).toBe("forbidden");
    for (const sub of ["none", "to"] as const) {
      await subscribe("alice@localhost", "mallory@localhost", sub);
      const iq = await ask(mallory, "alice@localhost");
      expect(condition(iq)).toBe("forbidden");
      expect(iq.getChild("error")!.attrs.type).toBe("auth");
    }
    expect(condition(await ask(mallory, "nobody@localhost"))).toBe("forbidden");
  });

  it("answers service-unavailable to a subscriber when nothing was recorded", async () => {
    t = await createTestHost([lastModule]);
    const bob = await t.login("bob@localhost/b");
    await createAccount("alice@localhost");
    await subscribe("alice@localhost", "bob@localhost", "both");
    expect(condition(await ask(bob, "alice@localhost"))).toBe("service-unavailable");
  });

  it("answers a requester the user blocks as if the user did not exist (XEP-0191 comes first)", async () => {
    t = await createTestHost([blockingModule, lastModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    await alice.sendAsClient("<iq type='set' id='blk'><block xmlns='urn:xmpp:blocking'><item jid='bob@localhost'/></block></iq>");
    await alice.waitFor((el) => el.attrs.id === "blk");
    expect(condition(await ask(bob, "alice@localhost"))).toBe("service-unavailable");
  });
});

describe("idle time of a resource (§6)", () => {
  it("delivers a subscriber's query to the full JID and lets the client answer", async () => {
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    await bob.sendAsClient(`<iq type='get' id='idle1' to='alice@localhost/a'><query xmlns='${NS}'/></iq>`);
    const forwarded = await alice.waitFor((el) => el.attrs.id === "idle1");
    expect(forwarded.attrs).toMatchObject({ type: "get", from: "bob@localhost/b", to: "alice@localhost/a" });
    expect(bob.sent.find((el) => el.attrs.id === "idle1")).toBeUndefined();
    // the user's own other resources may ask too
    const other = await t.login("alice@localhost/other");
    await other.sendAsClient(`<iq type='get' id='idle2' to='alice@localhost/a'><query xmlns='${NS}'/></iq>`);
    await alice.waitFor((el) => el.attrs.id === "idle2");
  });

  it("refuses a stranger with forbidden without delivering, and a subscriber asking an offline resource with service-unavailable", async () => {
    t = await createTestHost([lastModule]);
    const alice = await t.login("alice@localhost/a");
    const mallory = await t.login("mallory@localhost/m");
    const bob = await t.login("bob@localhost/b");
    await subscribe("alice@localhost", "bob@localhost", "both");
    const id = "idle3";
    await mallory.sendAsClient(`<iq type='get' id='${id}' to='alice@localhost/a'><query xmlns='${NS}'/></iq>`);
    const refused = await mallory.waitFor((el) => el.attrs.id === id);
    expect(condition(refused)).toBe("forbidden");
    expect(refused.attrs.from).toBe("alice@localhost/a");
    expect(alice.sent.find((el) => el.attrs.id === id)).toBeUndefined();
    await bob.sendAsClient(`<iq type='get' id='idle4' to='alice@localhost/gone'><query xmlns='${NS}'/></iq>`);
    expect(condition(await bob.waitFor((el) => el.attrs.id === "idle4"))).toBe("service-unavailable");
  });
});
