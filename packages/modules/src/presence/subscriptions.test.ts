import { describe, expect, it } from "vitest";
import { goOnline, item, presence, presenceHost, takePushedItems } from "./test-helpers.js";

describe("subscription handshake (RFC 6121 §3.1)", () => {
  it("a subscribes to b, b approves, both rosters follow and presence flows", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc", "<presence><show>chat</show></presence>");
    a.take();
    b.take();

    await a.sendAsClient("<presence type='subscribe' to='Bob@localhost/pc'><status>hi, it's alice</status></presence>");
    expect(takePushedItems(a)).toEqual([{ jid: "bob@localhost", subscription: "none", ask: "subscribe" }]);
    const request = await b.waitFor(presence("subscribe"));
    // §3.1.2: stamped with bare JIDs on both sides
    expect(request.attrs).toMatchObject({ from: "alice@localhost", to: "bob@localhost" });
    expect(request.getChildText("status")).toBe("hi, it's alice");
    // Pending In is invisible: no push to bob yet
    expect(takePushedItems(b)).toEqual([]);

    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    expect(takePushedItems(b)).toEqual([{ jid: "alice@localhost", subscription: "from" }]);
    expect(takePushedItems(a)).toEqual([{ jid: "bob@localhost", subscription: "to" }]);
    const approval = await a.waitFor(presence("subscribed"));
    expect(approval.attrs).toMatchObject({ from: "bob@localhost", to: "alice@localhost" });
    // §3.1.5: bob's current presence follows the approval
    const bobPresence = await a.waitFor(presence(undefined, "bob@localhost/pc"));
    expect(bobPresence.getChildText("show")).toBe("chat");

    // presence keeps flowing from bob to alice, not the other way
    a.take();
    b.take();
    await b.sendAsClient("<presence><show>away</show></presence>");
    expect((await a.waitFor(presence(undefined, "bob@localhost/pc"))).getChildText("show")).toBe("away");
    await a.sendAsClient("<presence><show>dnd</show></presence>");
    expect(b.take(presence(undefined, "alice@localhost/phone"))).toHaveLength(0);
  });

  it("mutual subscription ends in 'both' on each side", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'/>");
    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    await b.sendAsClient("<presence type='subscribe' to='alice@localhost'/>");
    await a.sendAsClient("<presence type='subscribed' to='bob@localhost'/>");
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ subscription: "both", askOut: false, askIn: false, inRoster: true });
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ subscription: "both", askOut: false, askIn: false, inRoster: true });
    expect(takePushedItems(a).at(-1)).toEqual({ jid: "bob@localhost", subscription: "both" });
    expect(takePushedItems(b).at(-1)).toEqual({ jid: "alice@localhost", subscription: "both" });

    a.take();
    b.take();
    await a.sendAsClient("<presence><status>x</status></presence>");
    await b.waitFor(presence(undefined, "alice@localhost/phone"));
  });

  it("a request to a contact that already granted it is answered by the server (§3.1.3)", async () => {
    const t = await presenceHost();
    // alice's side lost the subscription; bob's side still grants it
    await t.store.roster.put("alice@localhost", item("bob@localhost", "none"));
    await t.store.roster.put("bob@localhost", item("alice@localhost", "from"));
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    b.take();
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'/>");
    await a.waitFor(presence("subscribed", "bob@localhost"));
    expect(takePushedItems(a).at(-1)).toEqual({ jid: "bob@localhost", subscription: "to" });
    expect(b.take(presence("subscribe"))).toHaveLength(0);
  });

  it("a 'subscribed' the user did not ask for (already 'to') is not delivered", async () => {
    const t = await presenceHost();
    await t.store.roster.put("alice@localhost", item("bob@localhost", "to"));
    await t.store.roster.put("bob@localhost", item("alice@localhost", "from"));
    const a = await goOnline(t, "alice@localhost/phone");
    a.take();
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'/>");
    expect(a.take()).toHaveLength(0);
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ subscription: "to", askOut: false });
  });

  it("an unsolicited 'subscribed' is ignored", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    a.take();
    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    expect(a.take()).toHaveLength(0);
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toBeUndefined();
  });
});

describe("subscription requests to offline users (RFC 6121 §3.1.3)", () => {
  it("are stored and redelivered with their status at the next login", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    await t.login("bob@localhost/idle"); // bob exists but is not available
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'><status>please</status></presence>");
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ askIn: true, inRoster: false, askInStatus: "please" });

    const b = await goOnline(t, "bob@localhost/pc");
    const request = await b.waitFor(presence("subscribe", "alice@localhost"));
    expect(request.getChildText("status")).toBe("please");
    // still hidden from the roster
    const roster = await t.store.roster.list("bob@localhost");
    expect(roster.filter((i) => i.inRoster)).toHaveLength(0);

    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    expect(takePushedItems(a).at(-1)).toEqual({ jid: "bob@localhost", subscription: "to" });
    // §3.1.5: approving puts the requester in the roster
    expect(takePushedItems(b)).toEqual([{ jid: "alice@localhost", subscription: "from" }]);
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ subscription: "from", askIn: false, inRoster: true });
  });

  it("a repeated request while one is pending is not delivered again and keeps the first one (Appendix A.3.1)", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'><status>first</status></presence>");
    await b.waitFor(presence("subscribe", "alice@localhost"));
    b.take();
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'><status>again</status></presence>");
    expect(b.take(presence("subscribe"))).toHaveLength(0);
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ askIn: true, askInStatus: "first" });
    // §3.1.3: still redelivered, once, to the next resource that comes online
    const laptop = await goOnline(t, "bob@localhost/laptop");
    const requests = laptop.take(presence("subscribe", "alice@localhost"));
    expect(requests.map((r) => r.getChildText("status"))).toEqual(["first"]);
  });

  it("to an account that does not exist is refused with unsubscribed", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    await a.sendAsClient("<presence type='subscribe' to='ghost@localhost'/>");
    await a.waitFor(presence("unsubscribed", "ghost@localhost"));
    expect(await t.store.roster.get("alice@localhost", "ghost@localhost")).toMatchObject({ askOut: false, subscription: "none" });
  });
});

describe("cancelling subscriptions (RFC 6121 §3.2, §3.3)", () => {
  async function friends() {
    const t = await presenceHost();
    await t.store.roster.put("alice@localhost", item("bob@localhost", "both"));
    await t.store.roster.put("bob@localhost", item("alice@localhost", "both"));
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    a.take();
    b.take();
    return { t, a, b };
  }

  it("unsubscribe: both → from for the sender, both → to for the contact, who sees the sender go offline", async () => {
    const { t, a, b } = await friends();
    await a.sendAsClient("<presence type='unsubscribe' to='bob@localhost'/>");
    expect(takePushedItems(a)).toEqual([{ jid: "bob@localhost", subscription: "from" }]);
    expect(takePushedItems(b)).toEqual([{ jid: "alice@localhost", subscription: "to" }]);
    await b.waitFor(presence("unsubscribe", "alice@localhost"));
    // §3.3.3: alice no longer receives bob's presence, so bob's resources appear offline to her
    await a.waitFor(presence("unavailable", "bob@localhost/pc"));
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ subscription: "from" });
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ subscription: "to" });
  });

  it("unsubscribed: both → to for the sender, both → from for the contact, who sees the sender go offline", async () => {
    const { t, a, b } = await friends();
    await a.sendAsClient("<presence type='unsubscribed' to='bob@localhost'/>");
    expect(takePushedItems(a)).toEqual([{ jid: "bob@localhost", subscription: "to" }]);
    expect(takePushedItems(b)).toEqual([{ jid: "alice@localhost", subscription: "from" }]);
    await b.waitFor(presence("unsubscribed", "alice@localhost"));
    await b.waitFor(presence("unavailable", "alice@localhost/phone"));
    // after the cancellation, alice's presence no longer reaches bob
    b.take();
    await a.sendAsClient("<presence><show>away</show></presence>");
    expect(b.take(presence(undefined, "alice@localhost/phone"))).toHaveLength(0);
  });

  it("both directions cancelled end in 'none' on both sides", async () => {
    const { t, a } = await friends();
    await a.sendAsClient("<presence type='unsubscribe' to='bob@localhost'/>");
    await a.sendAsClient("<presence type='unsubscribed' to='bob@localhost'/>");
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ subscription: "none", inRoster: true });
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ subscription: "none", inRoster: true });
  });

  it("denying a pending request clears it without changing the subscription", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc");
    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'/>");
    a.take();
    await b.sendAsClient("<presence type='unsubscribed' to='alice@localhost'/>");
    expect(takePushedItems(a)).toEqual([{ jid: "bob@localhost", subscription: "none" }]);
    await a.waitFor(presence("unsubscribed", "bob@localhost"));
    // bob's hidden state entry held nothing else and is gone
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toBeUndefined();
  });

  it("an 'unsubscribed' that changes no state is not routed, and only withdraws a pre-approval (Appendix A.2.4)", async () => {
    const t = await presenceHost();
    await t.store.roster.put("alice@localhost", item("romeo@remote.example", "to"));
    await t.store.roster.put("alice@localhost", item("juliet@remote.example", "none", { approved: true }));
    await t.store.roster.put("alice@localhost", item("mercutio@remote.example", "from"));
    const routed: string[] = [];
    t.host.hooks.on("route/remote", (ev) => {
      routed.push(`${ev.stanza.attrs.type} ${ev.stanza.attrs.to}`);
      return true;
    });
    const a = await goOnline(t, "alice@localhost/phone");
    routed.length = 0; // the initial presence broadcast and probes
    for (const contact of ["romeo", "juliet", "mercutio"]) {
      await a.sendAsClient(`<presence type='unsubscribed' to='${contact}@remote.example'/>`);
    }
    // only the cancellation of mercutio's subscription leaves the server
    expect(routed.sort()).toEqual(["unavailable mercutio@remote.example", "unsubscribed mercutio@remote.example"]);
    expect(await t.store.roster.get("alice@localhost", "romeo@remote.example")).toMatchObject({ subscription: "to" });
    expect(await t.store.roster.get("alice@localhost", "juliet@remote.example")).toMatchObject({ subscription: "none", approved: false });
    expect(await t.store.roster.get("alice@localhost", "mercutio@remote.example")).toMatchObject({ subscription: "none" });
  });

  it("removing a roster item cancels both subscriptions at the contact", async () => {
    const { t, a, b } = await friends();
    const id = "rm1";
    await a.sendAsClient(`<iq type='set' id='${id}'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    await a.waitFor((el) => el.attrs.id === id && el.attrs.type === "result");
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ subscription: "none" });
    await b.waitFor(presence("unsubscribe", "alice@localhost"));
    await b.waitFor(presence("unsubscribed", "alice@localhost"));
  });
});

describe("pre-approval (RFC 6121 §3.4)", () => {
  it("is stored without forwarding and grants a later request automatically", async () => {
    const t = await presenceHost();
    const a = await goOnline(t, "alice@localhost/phone");
    const b = await goOnline(t, "bob@localhost/pc", "<presence><status>here</status></presence>");
    a.take();
    b.take();

    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    expect(a.take(presence("subscribed"))).toHaveLength(0);
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ approved: true, inRoster: false, subscription: "none" });

    await a.sendAsClient("<presence type='subscribe' to='bob@localhost'/>");
    await a.waitFor(presence("subscribed", "bob@localhost"));
    expect((await a.waitFor(presence(undefined, "bob@localhost/pc"))).getChildText("status")).toBe("here");
    expect(b.take(presence("subscribe"))).toHaveLength(0);
    expect(await t.store.roster.get("bob@localhost", "alice@localhost")).toMatchObject({ approved: false, subscription: "from" });
    expect(await t.store.roster.get("alice@localhost", "bob@localhost")).toMatchObject({ subscription: "to", askOut: false });
  });

  it("is shown as approved='true' on a visible item", async () => {
    const t = await presenceHost();
    await t.store.roster.put("bob@localhost", item("alice@localhost", "none"));
    const b = await goOnline(t, "bob@localhost/pc");
    b.take();
    await b.sendAsClient("<presence type='subscribed' to='alice@localhost'/>");
    expect(takePushedItems(b)).toEqual([{ jid: "alice@localhost", subscription: "none", approved: "true" }]);
  });

  it("is advertised as a stream feature", async () => {
    const t = await presenceHost();
    expect(t.host.streamFeatures.postAuth.map((f) => f().attrs.xmlns)).toContain("urn:xmpp:features:pre-approval");
  });
});
