import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { goOnline, item, makeFriends, presence, presenceHost } from "./test-helpers.js";
import { parsePriority } from "./stanzas.js";

describe("broadcast of available presence (RFC 6121 §4.2, §4.4)", () => {
  it("reaches contacts with from/both and the user's own resources, not other contacts", async () => {
    const t = await presenceHost();
    await t.store.roster.put("alice@localhost", item("bob@localhost", "from"));
    await t.store.roster.put("alice@localhost", item("carol@localhost", "to"));
    await t.store.roster.put("alice@localhost", item("dave@localhost", "both"));
    const bob = await goOnline(t, "bob@localhost/pc");
    const carol = await goOnline(t, "carol@localhost/pc");
    const dave = await goOnline(t, "dave@localhost/pc");
    const laptop = await goOnline(t, "alice@localhost/laptop");
    for (const s of [bob, carol, dave, laptop]) s.take();

    const phone = await goOnline(t, "alice@localhost/phone", "<presence><show>away</show><status>on the bus</status></presence>");
    const atBob = await bob.waitFor(presence(undefined, "alice@localhost/phone"));
    expect(atBob.attrs.to).toBe("bob@localhost");
    expect(atBob.getChildText("show")).toBe("away");
    expect(atBob.getChildText("status")).toBe("on the bus");
    await dave.waitFor(presence(undefined, "alice@localhost/phone"));
    expect(carol.take(presence(undefined, "alice@localhost/phone"))).toHaveLength(0);
    // own resources, including the sender itself (§4.2.2)
    await laptop.waitFor(presence(undefined, "alice@localhost/phone"));
    const echo = await phone.waitFor(presence(undefined, "alice@localhost/phone"));
    expect(echo.attrs.to).toBe("alice@localhost/phone");
  });

  it("keeps the last presence and priority in the registry", async () => {
    const t = await presenceHost();
    await goOnline(t, "alice@localhost/phone", "<presence><priority>5</priority><show>dnd</show></presence>");
    const info = await t.host.registry.get("alice@localhost/phone");
    expect(info).toMatchObject({ available: true, priority: 5 });
    const stored = parseFrame(info!.presence!);
    expect(stored.attrs.from).toBe("alice@localhost/phone");
    expect(stored.getChildText("show")).toBe("dnd");
  });

  it("does not reach a contact's resources that never sent presence", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const idleBob = await t.login("bob@localhost/idle");
    await goOnline(t, "alice@localhost/phone");
    expect(idleBob.take(presence(undefined))).toHaveLength(0);
  });
});

describe("initial presence probes (RFC 6121 §4.2.2, §4.3)", () => {
  it("delivers the current presence of every contact the user is subscribed to, and of its own resources", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    await t.store.roster.put("alice@localhost", item("carol@localhost", "from"));
    await t.store.roster.put("carol@localhost", item("alice@localhost", "to"));
    await goOnline(t, "bob@localhost/pc", "<presence><show>xa</show></presence>");
    await goOnline(t, "bob@localhost/mobile");
    await goOnline(t, "carol@localhost/pc");
    await goOnline(t, "alice@localhost/laptop", "<presence><status>desk</status></presence>");

    const phone = await goOnline(t, "alice@localhost/phone");
    const fromBob = await phone.waitFor(presence(undefined, "bob@localhost/pc"));
    expect(fromBob.attrs.to).toBe("alice@localhost/phone");
    expect(fromBob.getChildText("show")).toBe("xa");
    await phone.waitFor(presence(undefined, "bob@localhost/mobile"));
    const fromLaptop = await phone.waitFor(presence(undefined, "alice@localhost/laptop"));
    expect(fromLaptop.getChildText("status")).toBe("desk");
    // carol is subscribed to alice, not the other way round
    expect(phone.take(presence(undefined, "carol@localhost/pc"))).toHaveLength(0);
  });

  it("asks for the local contacts' resources all at once, not one after another, and replays them in roster order", async () => {
    const t = await presenceHost();
    const contacts = ["c1", "c2", "c3", "c4", "c5"].map((c) => `${c}@localhost`);
    for (const c of contacts) {
      await makeFriends(t, "alice@localhost", c);
      await goOnline(t, `${c}/pc`);
    }
    // a registry whose reads answer a little later, counting how many wait at once
    const registry = t.host.registry;
    const list = registry.list.bind(registry);
    let inFlight = 0;
    let most = 0;
    registry.list = async (bare) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 10));
      inFlight--;
      return list(bare);
    };
    const phone = await goOnline(t, "alice@localhost/phone");
    for (const c of contacts) await phone.waitFor(presence(undefined, `${c}/pc`));
    registry.list = list;
    expect(most).toBeGreaterThanOrEqual(contacts.length);
    const order = phone.take((el) => el.name === "presence" && contacts.some((c) => el.attrs.from === `${c}/pc`)).map((el) => el.attrs.from);
    expect(order).toEqual(contacts.map((c) => `${c}/pc`));
  });

  it("probes only once per session: subsequent presence does not replay contacts", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    await goOnline(t, "bob@localhost/pc");
    const phone = await goOnline(t, "alice@localhost/phone");
    phone.take();
    await phone.sendAsClient("<presence><show>away</show></presence>");
    expect(phone.take(presence(undefined, "bob@localhost/pc"))).toHaveLength(0);
  });

  it("answers a client probe only for subscribed entities", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    await goOnline(t, "bob@localhost/pc", "<presence><show>chat</show></presence>");
    const alice = await goOnline(t, "alice@localhost/phone");
    const eve = await goOnline(t, "eve@localhost/x");
    alice.take();
    await alice.sendAsClient("<presence type='probe' to='bob@localhost'/>");
    expect((await alice.waitFor(presence(undefined, "bob@localhost/pc"))).getChildText("show")).toBe("chat");
    await eve.sendAsClient("<presence type='probe' to='bob@localhost'/>");
    expect(eve.take((el) => el.attrs.from?.startsWith("bob@") ?? false)).toHaveLength(0);
  });
});

describe("unavailable presence (RFC 6121 §4.5)", () => {
  it("explicit unavailable reaches contacts and own resources and clears the registry", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const laptop = await goOnline(t, "alice@localhost/laptop");
    const phone = await goOnline(t, "alice@localhost/phone");
    await phone.sendAsClient("<presence type='unavailable'><status>bye</status></presence>");
    const atBob = await bob.waitFor(presence("unavailable", "alice@localhost/phone"));
    expect(atBob.getChildText("status")).toBe("bye");
    await laptop.waitFor(presence("unavailable", "alice@localhost/phone"));
    expect(await t.host.registry.get("alice@localhost/phone")).toMatchObject({ available: false, presence: undefined });
  });

  it("a disconnect without goodbye is seen by contacts as unavailable", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const phone = await goOnline(t, "alice@localhost/phone");
    bob.take();
    await phone.disconnect();
    const gone = await bob.waitFor(presence("unavailable", "alice@localhost/phone"));
    expect(gone.attrs.to).toBe("bob@localhost");
  });

  it("a session that never sent presence disconnects silently", async () => {
    const t = await presenceHost();
    await makeFriends(t, "alice@localhost", "bob@localhost");
    const bob = await goOnline(t, "bob@localhost/pc");
    const phone = await t.login("alice@localhost/phone");
    await phone.disconnect();
    expect(bob.take(presence("unavailable"))).toHaveLength(0);
  });
});

describe("directed presence (RFC 6121 §4.6)", () => {
  it("is delivered to a non-contact and followed by unavailable when the session closes", async () => {
    const t = await presenceHost();
    const room = await goOnline(t, "service@localhost/bot");
    const alice = await goOnline(t, "alice@localhost/phone");
    await alice.sendAsClient("<presence to='service@localhost/bot'><status>hi</status></presence>");
    expect((await room.waitFor(presence(undefined, "alice@localhost/phone"))).getChildText("status")).toBe("hi");
    await alice.disconnect();
    await room.waitFor(presence("unavailable", "alice@localhost/phone"));
  });

  it("is followed by unavailable on explicit broadcast unavailable, once", async () => {
    const t = await presenceHost();
    const stranger = await goOnline(t, "stranger@localhost/x");
    const alice = await goOnline(t, "alice@localhost/phone");
    await alice.sendAsClient("<presence to='stranger@localhost'/>");
    await alice.sendAsClient("<presence type='unavailable'/>");
    await alice.disconnect();
    expect(stranger.take(presence("unavailable", "alice@localhost/phone"))).toHaveLength(1);
  });

  it("directed unavailable ends the tracking", async () => {
    const t = await presenceHost();
    const stranger = await goOnline(t, "stranger@localhost/x");
    const alice = await goOnline(t, "alice@localhost/phone");
    await alice.sendAsClient("<presence to='stranger@localhost/x'/>");
    await alice.sendAsClient("<presence type='unavailable' to='stranger@localhost/x'/>");
    stranger.take();
    await alice.disconnect();
    expect(stranger.take(presence("unavailable"))).toHaveLength(0);
  });

  it("to a full JID of an offline resource is dropped without error", async () => {
    const t = await presenceHost();
    const alice = await goOnline(t, "alice@localhost/phone");
    alice.take();
    await alice.sendAsClient("<presence to='bob@localhost/gone'/>");
    expect(alice.take(presence("error"))).toHaveLength(0);
  });
});

describe("presence type checks", () => {
  it("bounces an unknown presence type with bad-request", async () => {
    const t = await presenceHost();
    const alice = await goOnline(t, "alice@localhost/phone");
    await alice.sendAsClient("<presence type='bogus' to='bob@localhost'/>");
    const err = await alice.waitFor(presence("error"));
    expect(err.getChild("error")!.getChild("bad-request")).toBeDefined();
  });
});

describe("priority (RFC 6121 §4.7.2.3)", () => {
  it.each([
    ["<presence/>", 0],
    ["<presence><priority>10</priority></presence>", 10],
    ["<presence><priority>-5</priority></presence>", -5],
    ["<presence><priority> +7 </priority></presence>", 7],
    ["<presence><priority>300</priority></presence>", 127],
    ["<presence><priority>-999</priority></presence>", -128],
    ["<presence><priority>high</priority></presence>", 0],
    ["<presence><priority>1.5</priority></presence>", 0],
  ])("%s → %d", (xml, expected) => {
    expect(parsePriority(parseFrame(xml))).toBe(expected);
  });

  // the same values the offline module's flush decision is tested with
  it.each([
    ["5abc", 0], // not an integer: as if absent
    ["-5abc", 0],
    [" 5 ", 5], // xs:byte allows surrounding whitespace…
    ["+5", 5], // …and a leading '+'
    ["-129", -128], // out of range: clamped
    ["128", 127],
    ["", 0],
    ["-0", 0],
  ])("<priority>%s</priority> → %d", (text, expected) => {
    expect(parsePriority(parseFrame(`<presence><priority>${text}</priority></presence>`))).toBe(expected);
  });

  it("reads an absent element as 0", () => {
    expect(parsePriority(parseFrame("<presence><show>away</show></presence>"))).toBe(0);
  });

  it("stores the parsed priority in the registry", async () => {
    const t = await presenceHost();
    await goOnline(t, "alice@localhost/phone", "<presence><priority>-129</priority></presence>");
    expect(await t.host.registry.get("alice@localhost/phone")).toMatchObject({ priority: -128 });
  });
});

describe("inbound presence delivery (RFC 6121 §8.5)", () => {
  it("to a bare JID reaches every available resource, to a full JID only that one", async () => {
    const t = await presenceHost();
    const phone = await goOnline(t, "bob@localhost/phone");
    const pc = await goOnline(t, "bob@localhost/pc");
    const idle = await t.login("bob@localhost/idle");
    const alice = await goOnline(t, "alice@localhost/x");
    for (const s of [phone, pc, idle]) s.take();
    await alice.sendAsClient("<presence to='bob@localhost'><status>bare</status></presence>");
    for (const s of [phone, pc]) expect((await s.waitFor(presence(undefined, "alice@localhost/x"))).getChildText("status")).toBe("bare");
    expect(idle.take(presence(undefined))).toHaveLength(0);
    await alice.sendAsClient("<presence to='bob@localhost/pc'><status>full</status></presence>");
    await pc.waitFor((el) => el.getChildText("status") === "full");
    expect(phone.take((el) => el.getChildText("status") === "full")).toHaveLength(0);
  });
});

describe("remote contacts", () => {
  it("get a probe from the user's bare JID at initial presence and the broadcast to their bare JID", async () => {
    const t = await presenceHost();
    await t.store.roster.put("alice@localhost", item("romeo@remote.example", "both"));
    const routed: string[] = [];
    t.host.hooks.on("route/remote", (ev) => {
      routed.push(`${ev.stanza.attrs.type ?? "available"} ${ev.stanza.attrs.from} → ${ev.stanza.attrs.to}`);
      return true;
    });
    await goOnline(t, "alice@localhost/phone");
    expect(routed.sort()).toEqual(["available alice@localhost/phone → romeo@remote.example", "probe alice@localhost → romeo@remote.example"]);
  });
});

describe("purged sessions (cluster mode)", () => {
  it("tells contacts a resource of a dead node is unavailable", async () => {
    const { createTestHost } = await import("../testing/harness.js");
    const { rosterModule } = await import("../roster/index.js");
    const { presenceModule } = await import("./index.js");
    const t = await createTestHost([rosterModule, presenceModule]);
    const watcher = await t.login("watcher@localhost/w");
    await t.store.roster.put("ghost@localhost", { jid: "watcher@localhost", groups: [], subscription: "from", askOut: false, askIn: false, approved: false, inRoster: true });
    await watcher.sendAsClient("<presence/>");
    const info = { jid: "ghost@localhost/r", sessionId: "gone", nodeId: "dead-node", priority: 0, available: true, interested: false, since: 0 };
    await t.host.hooks.fire("session/purged", { info });
    const p = await watcher.waitFor((el) => el.name === "presence" && el.attrs.from === "ghost@localhost/r");
    expect(p.attrs.type).toBe("unavailable");
    await t.host.hooks.fire("session/purged", { info: { ...info, jid: "ghost@localhost/quiet", available: false } });
    expect(watcher.sent.filter((el) => el.attrs.from === "ghost@localhost/quiet")).toHaveLength(0);
  });
});
