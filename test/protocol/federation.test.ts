/**
 * Federation between two Switchboards on loopback (RFC 6120 server-to-server streams over
 * STARTTLS, XEP-0220 Server Dialback with self-signed certificates, s2s.routes): messages both
 * ways, RFC 6121 subscriptions and presence across domains, and the errors a sender gets when
 * the remote cannot take a stanza.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element } from "../support/client.js";
import { startFederatedPair, type FederatedPair } from "../support/federation.js";
import { freePort } from "../support/processes.js";
import { createInstant, join } from "../support/muc.js";

let pair: FederatedPair;

beforeAll(async () => {
  const dead = await freePort(); // nothing listens there
  pair = await startFederatedPair({ extraRoutes: { "dead.test": `127.0.0.1:${dead}` } });
  for (const u of ["alice", "carol", "erin"]) await pair.a.addUser(u);
  for (const u of ["bob", "dave", "frank", "gina"]) await pair.b.addUser(u);
  await pair.a.addUser("hank");
  await pair.a.addUser("oscar");
  await pair.b.addUser("pia");
});
afterAll(async () => pair?.stop());

const isChat = (body: string) => (el: Element) => el.is("message") && el.getChildText("body") === body;
const errorCondition = (el: Element) => el.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name;

describe("federation between two servers", () => {
  it("carries messages both ways with the senders' addresses", async () => {
    const alice = await connect(pair.a, "alice", { resource: "pc" });
    const bob = await connect(pair.b, "bob", { resource: "phone" });
    await bob.send(xml("presence")); // available: a message to the bare JID is delivered live
    await alice.send(xml("message", { to: "bob@b.test", type: "chat", id: "m1" }, xml("body", {}, "hello from a")));
    const got = await bob.waitFor(isChat("hello from a"), 15_000);
    expect(got.attrs.from).toBe("alice@a.test/pc");
    await bob.send(xml("message", { to: "alice@a.test/pc", type: "chat" }, xml("body", {}, "hello from b")));
    expect((await alice.waitFor(isChat("hello from b"), 15_000)).attrs.from).toBe("bob@b.test/phone");
    // order kept on one stream (RFC 6120 §10.1)
    for (let i = 0; i < 50; i++) await alice.send(xml("message", { to: "bob@b.test/phone", type: "chat" }, xml("body", {}, `n${i}`)));
    await bob.waitFor(isChat("n49"), 15_000);
    const seen = bob.received.filter((el) => el.getChildText("body")?.startsWith("n")).map((el) => el.getChildText("body"));
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    await Promise.all([alice.stop(), bob.stop()]);
  });

  it("subscribes across domains, probes at login and tells the contact of a logout (RFC 6121)", async () => {
    const carol = await connect(pair.a, "carol", { resource: "c" });
    await carol.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    await carol.send(xml("presence"));
    const dave = await connect(pair.b, "dave", { resource: "d" });
    await dave.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    await dave.send(xml("presence"));

    await carol.send(xml("presence", { to: "dave@b.test", type: "subscribe" }));
    const request = await dave.waitFor((el) => el.is("presence") && el.attrs.type === "subscribe", 15_000);
    expect(request.attrs.from).toBe("carol@a.test");
    await dave.send(xml("presence", { to: "carol@a.test", type: "subscribed" }));
    await carol.waitFor((el) => el.is("presence") && el.attrs.type === "subscribed" && el.attrs.from === "dave@b.test", 15_000);
    // the roster push says carol now has a subscription "to" dave
    await carol.waitFor((el) => el.is("iq") && el.getChild("query")?.getChild("item")?.attrs.subscription === "to", 15_000);
    // dave is online: carol hears his presence (the server probes after subscribed, RFC 6121 §3.1.6)
    await carol.waitFor((el) => el.is("presence") && el.attrs.from === "dave@b.test/d" && !el.attrs.type, 15_000);

    // carol logs in again: the probe at login brings dave's presence back
    await carol.stop();
    const again = await connect(pair.a, "carol", { resource: "c2" });
    await again.send(xml("presence"));
    await again.waitFor((el) => el.is("presence") && el.attrs.from === "dave@b.test/d" && !el.attrs.type, 15_000);
    // dave logs out: carol is told
    await dave.stop();
    await again.waitFor((el) => el.is("presence") && el.attrs.from === "dave@b.test/d" && el.attrs.type === "unavailable", 15_000);
    await again.stop();
  });

  it("bounces to the sender what a remote cannot take: an unknown user, an unreachable server", async () => {
    const erin = await connect(pair.a, "erin", { resource: "e" });
    await erin.send(xml("message", { to: "nobody@b.test", type: "chat", id: "ghost" }, xml("body", {}, "anyone?")));
    const noUser = await erin.waitFor((el) => el.is("message") && el.attrs.id === "ghost", 15_000);
    expect(noUser.attrs.type).toBe("error");
    expect(noUser.attrs.from).toBe("nobody@b.test");
    expect(errorCondition(noUser)).toBe("service-unavailable");

    await erin.send(xml("message", { to: "someone@dead.test", type: "chat", id: "dead" }, xml("body", {}, "hello?")));
    const dead = await erin.waitFor((el) => el.is("message") && el.attrs.id === "dead", 15_000);
    expect(dead.attrs.type).toBe("error");
    expect(errorCondition(dead)).toBe("remote-server-not-found");
    // an IQ too, at once while the domain is in its backoff
    const iqError = await erin.iq(xml("iq", { type: "get", to: "dead.test" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }))).then(
      () => undefined,
      (e: { condition?: string }) => e.condition,
    );
    expect(iqError).toBe("remote-server-not-found");
    await erin.stop();
  });

  it("answers an IQ across domains (disco#info of the remote server)", async () => {
    const frank = await connect(pair.b, "frank", { resource: "f" });
    const info = await frank.iq(xml("iq", { type: "get", to: "a.test" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })), 15_000);
    expect(info.attrs.from).toBe("a.test");
    expect(info.getChild("query")?.getChildren("identity").some((i) => i.attrs.category === "server")).toBe(true);
    await frank.stop();
  });

  it("restores presence both ways after the remote server restarts (RFC 6121 §4.3 probes, §4.2 broadcast)", async () => {
    const hank = await connect(pair.a, "hank", { resource: "h" });
    await hank.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    await hank.send(xml("presence"));
    let gina = await connect(pair.b, "gina", { resource: "g" });
    await gina.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    await gina.send(xml("presence"));
    // a mutual subscription
    await hank.send(xml("presence", { to: "gina@b.test", type: "subscribe" }));
    await gina.waitFor((el) => el.is("presence") && el.attrs.type === "subscribe", 15_000);
    await gina.send(xml("presence", { to: "hank@a.test", type: "subscribed" }));
    await gina.send(xml("presence", { to: "hank@a.test", type: "subscribe" }));
    await hank.waitFor((el) => el.is("presence") && el.attrs.type === "subscribe", 15_000);
    await hank.send(xml("presence", { to: "gina@b.test", type: "subscribed" }));
    await hank.waitFor((el) => el.is("presence") && el.attrs.from === "gina@b.test/g" && !el.attrs.type, 15_000);
    // b.test has taken hank's answer once his presence reaches gina (RFC 6121 §3.1.5): only then
    // may it restart (a stanza in flight on a stream that closes is lost: no XEP-0198 on s2s yet)
    await gina.waitFor((el) => el.is("presence") && el.attrs.from === "hank@a.test/h" && !el.attrs.type, 15_000);

    // b.test goes away with gina on it, and comes back
    await gina.stop();
    await hank.waitFor((el) => el.is("presence") && el.attrs.from === "gina@b.test/g" && el.attrs.type === "unavailable", 15_000);
    await pair.b.restart();
    hank.received.length = 0;
    gina = await connect(pair.b, "gina", { resource: "g2" });
    await gina.send(xml("presence", {}, xml("status", {}, "back")));
    // her login probes hank across the new streams and broadcasts her presence to him
    await gina.waitFor((el) => el.is("presence") && el.attrs.from === "hank@a.test/h" && !el.attrs.type, 20_000);
    await hank.waitFor((el) => el.is("presence") && el.attrs.from === "gina@b.test/g2" && el.getChildText("status") === "back", 20_000);
    // and a message still goes through both ways
    await hank.send(xml("message", { to: "gina@b.test/g2", type: "chat" }, xml("body", {}, "welcome back")));
    await gina.waitFor(isChat("welcome back"), 20_000);
    // nothing addressed to someone else reached her
    expect(gina.received.filter((el) => el.attrs.to && !el.attrs.to.startsWith("gina@b.test")).map(String)).toEqual([]);
    await Promise.all([hank.stop(), gina.stop()]);
  }, 60_000);

  it("lets a remote user join a room here and talk in it (XEP-0045 across domains, the service on a stream of its own)", async () => {
    const pia = await connect(pair.b, "pia", { resource: "p" });
    const room = "lounge@conference.b.test";
    expect((await createInstant(pia, room, "pia")).attrs.type).toBeUndefined();
    const oscar = await connect(pair.a, "oscar", { resource: "o" });
    const self = await join(oscar, room, "oscar", [], 15_000);
    expect(self.attrs.type).toBeUndefined();
    await pia.waitFor((el) => el.is("presence") && el.attrs.from === `${room}/oscar`, 15_000);
    await oscar.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hello room")));
    const heard = await pia.waitFor((el) => el.is("message") && el.attrs.type === "groupchat" && el.getChildText("body") === "hello room", 15_000);
    expect(heard.attrs.from).toBe(`${room}/oscar`);
    await pia.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "welcome")));
    await oscar.waitFor((el) => el.is("message") && el.attrs.from === `${room}/pia` && el.getChildText("body") === "welcome", 15_000);
    // b.test's MUC service reached a.test on a stream of its own, authenticated for conference.b.test
    const locals = pair.b.nodes.flatMap((n) => n.s2s!.remote.streams().filter((st) => st.domain === "a.test").map((st) => st.local));
    expect(locals).toContain("conference.b.test");
    await Promise.all([pia.stop(), oscar.stop()]);
  });
});
