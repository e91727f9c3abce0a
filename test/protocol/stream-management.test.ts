/**
 * XEP-0198 stream management on raw sockets, in both modes (SB_TEST_MODE=cluster: two edges;
 * a resumption then lands on the other edge than the dropped stream): the feature, enabling,
 * acks both ways, resumption with retransmission and delay stamps, detached sessions and their
 * expiry, and every bad input §6 names, each followed by a check that others are still served.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { connect } from "../support/client.js";

let ts: TestServer;
let other = 0;

beforeAll(async () => {
  ts = await startTestServer({ sm: { resumeTimeoutSeconds: 60 } });
  for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]) await ts.addUser(u);
});
afterAll(async () => {
  await ts?.stop();
});

/** ports of the node a new connection should use: alternating edges in cluster mode */
function port(node = other++): number {
  return ts.nodes[node % ts.nodes.length]!.ports.c2s;
}

async function bound(user: string, resource: string, node?: number): Promise<RawConnection> {
  const c = await RawConnection.open(port(node));
  await c.login(user, "secret", resource);
  return c;
}

async function smEnabled(user: string, resource: string, node?: number): Promise<{ c: RawConnection; id: string }> {
  const c = await bound(user, resource, node);
  c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  const reply = await c.waitFor(/<enabled [^>]*\/>/);
  const id = /id="([^"]+)"/.exec(reply)![1]!;
  c.buffer = "";
  return { c, id };
}

/** a stanza exchange between two fresh users: the server still serves others */
async function othersStillServed(): Promise<void> {
  const a = await bound("frank", `check${other}`);
  const b = await bound("grace", `check${other}`);
  const body = `still served ${Date.now()}`;
  a.write(`<message to='grace@localhost/check${other - 1}' type='chat'><body>${body}</body></message>`);
  await b.waitFor(new RegExp(body));
  a.close();
  b.close();
}

function countOf(re: RegExp, text: string): number {
  return text.match(new RegExp(re.source, "g"))?.length ?? 0;
}

describe("XEP-0198 stream management", () => {
  it("is offered after authentication, not before", async () => {
    const c = await RawConnection.open(port());
    await c.startTls();
    c.open();
    const before = await c.waitFor(/<\/stream:features>/);
    // SASL2 (XEP-0388) lists what may be done inline with authentication, <sm/> among it; the
    // stream feature itself is not offered before authentication.
    expect(before.replace(/<authentication xmlns="urn:xmpp:sasl:2">[\s\S]*<\/authentication>/, "")).not.toContain("urn:xmpp:sm:3");
    c.close();
    const d = await RawConnection.open(port());
    await d.authenticate("alice", "secret");
    expect(d.buffer).toMatch(/<sm xmlns="urn:xmpp:sm:3"\/>/);
    d.close();
  });

  it("enable answers <enabled id resume max/>; without resume no id", async () => {
    const c = await bound("alice", "enable");
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const reply = await c.waitFor(/<enabled [^>]*\/>/);
    expect(reply).toMatch(/<enabled xmlns="urn:xmpp:sm:3" id="[^"]+" resume="true" max="60"\/>/);
    const d = await bound("alice", "plain");
    d.write("<enable xmlns='urn:xmpp:sm:3'/>");
    const plain = await d.waitFor(/<enabled [^>]*\/>/);
    expect(plain).not.toMatch(/ id=/);
    expect(plain).not.toMatch(/resume=/);
    c.close();
    d.close();
  });

  it("the client's <r/> is answered with the stanzas it sent; the server asks after sm.ackEvery stanzas", async () => {
    const { c } = await smEnabled("bob", "acks");
    const sender = await bound("carol", "acks");
    c.write("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    c.write("<presence/>");
    c.write("<r xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<a xmlns="urn:xmpp:sm:3" h="2"\/>/);
    // the ping's result and the self-presence, then 4 messages: the server asks after the 5th
    // (or the 6th, when two arrived in one write batch)
    for (let i = 1; i <= 4; i++) sender.write(`<message to='bob@localhost/acks' type='chat'><body>n${i}</body></message>`);
    await c.waitFor(/<r xmlns="urn:xmpp:sm:3"\/>/);
    const seen = c.buffer.slice(0, c.buffer.indexOf("<r xmlns"));
    const stanzas = countOf(/<message /, seen) + countOf(/<presence /, seen) + countOf(/<iq /, seen);
    expect(stanzas, seen).toBeGreaterThanOrEqual(5);
    expect(stanzas).toBeLessThanOrEqual(6);
    c.write("<a xmlns='urn:xmpp:sm:3' h='5'/>");
    c.write("<r xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<a xmlns="urn:xmpp:sm:3" h="2"\/>/);
    expect(c.closed).toBe(false);
    c.close();
    sender.close();
  });

  it("a new bind of a detached session's resource gets its bind result before what that session held", async () => {
    const { c } = await smEnabled("erin", "rebind", 0);
    c.close(); // dropped: detached, resumable
    const bob = await bound("bob", "rebind-sender", 0);
    await new Promise((r) => setTimeout(r, 300));
    bob.write("<message to='erin@localhost/rebind' type='chat'><body>held for rebind</body></message>");
    await new Promise((r) => setTimeout(r, 300));
    const d = await RawConnection.open(port(0));
    await d.authenticate("erin", "secret");
    d.buffer = "";
    d.write("<iq type='set' id='rb'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>rebind</resource></bind></iq>");
    await d.waitFor(/held for rebind/, 5000);
    // RFC 6120 §7: the client learns its JID before any stanza reaches it
    expect(d.buffer.indexOf("id=\"rb\"")).toBeGreaterThanOrEqual(0);
    expect(d.buffer.indexOf("id=\"rb\"")).toBeLessThan(d.buffer.indexOf("held for rebind"));
    d.close();
    bob.close();
    await othersStillServed();
  });

  it("<enable/> before bind or twice is <failed><unexpected-request/></failed> and the stream goes on", async () => {
    const c = await RawConnection.open(port());
    await c.authenticate("dave", "secret");
    c.buffer = "";
    c.write("<enable xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/);
    c.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>twice</resource></bind></iq>");
    await c.waitFor(/<jid>dave@localhost\/twice<\/jid>/);
    c.buffer = "";
    c.write("<enable xmlns='urn:xmpp:sm:3'/>");
    await c.waitFor(/<enabled /);
    c.buffer = "";
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    await c.waitFor(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request/);
    c.write("<iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>");
    await c.waitFor(/id="after"/);
    expect(c.closed).toBe(false);
    c.close();
    await othersStillServed();
  });

  it("<resume/> before authentication is <failed><unexpected-request/></failed>", async () => {
    const c = await RawConnection.open(port());
    await c.startTls();
    c.open();
    await c.waitFor(/<\/stream:features>/);
    c.buffer = "";
    c.write("<resume xmlns='urn:xmpp:sm:3' h='0' previd='abc'/>");
    await c.waitFor(/<failed xmlns="urn:xmpp:sm:3"><unexpected-request/);
    expect(c.closed).toBe(false);
    c.close();
    await othersStillServed();
  });

  it("a previd that is unknown, another user's or of a session already resumed and ended is <failed><item-not-found/></failed>", async () => {
    const { c, id } = await smEnabled("erin", "mine");
    c.close();
    const notFound = /<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><\/failed>/;
    for (const previd of ["made-up", `${id.split(".")[0]}.AAAAAAAAAAAAAAAA`]) {
      const r = await RawConnection.open(port());
      await r.authenticate("erin", "secret");
      r.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${previd}'/>`);
      await r.waitFor(notFound);
      // the stream goes on: bind is still possible
      r.write("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
      await r.waitFor(/<jid>erin@localhost\//);
      r.close();
    }
    const thief = await RawConnection.open(port());
    await thief.authenticate("dave", "secret");
    thief.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await thief.waitFor(notFound);
    thief.close();
    const first = await RawConnection.open(port());
    await first.authenticate("erin", "secret");
    first.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await first.waitFor(/<resumed xmlns="urn:xmpp:sm:3" h="0" previd="[^"]+"\/>/);
    // the resumed session ends with a clean close: its id is used up
    first.write("</stream:stream>");
    await first.waitClosed();
    const again = await RawConnection.open(port());
    await again.authenticate("erin", "secret");
    again.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await again.waitFor(notFound);
    again.close();
    await othersStillServed();
  });

  it("an 'h' above what was sent, in <a/> or <resume/>, is undefined-condition with <handled-count-too-high/>", async () => {
    const { c } = await smEnabled("dave", "toohigh");
    c.write("<a xmlns='urn:xmpp:sm:3' h='7'/>");
    await c.waitFor(/<stream:error[^>]*><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*<handled-count-too-high xmlns="urn:xmpp:sm:3" h="7" send-count="\d+"\/>/s);
    await c.waitClosed();

    const { c: d, id } = await smEnabled("dave", "toohigh2");
    d.close();
    const r = await RawConnection.open(port());
    await r.authenticate("dave", "secret");
    r.write(`<resume xmlns='urn:xmpp:sm:3' h='1000' previd='${id}'/>`);
    await r.waitFor(/<undefined-condition .*<handled-count-too-high xmlns="urn:xmpp:sm:3" h="1000"/s);
    await r.waitClosed();
    await othersStillServed();
  });

  it("a missing or non-numeric 'h' is the stream error bad-format", async () => {
    for (const bad of ["<a xmlns='urn:xmpp:sm:3'/>", "<a xmlns='urn:xmpp:sm:3' h='many'/>", "<a xmlns='urn:xmpp:sm:3' h='4294967296'/>"]) {
      const { c } = await smEnabled("carol", "badh");
      c.write(bad);
      await c.waitFor(/<stream:error[^>]*><bad-format xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await c.waitClosed();
    }
    await othersStillServed();
  });

  it("after a drop, resumption sends what the client had not acknowledged and what came meanwhile, stamped; contacts see nothing", async () => {
    const { c, id } = await smEnabled("alice", "phone", 0);
    c.write("<presence/>");
    await c.waitFor(/<presence /);
    const contact = await bound("bob", "desk", 1);
    contact.write("<presence/>");
    for (let i = 1; i <= 3; i++) contact.write(`<message to='alice@localhost/phone' type='chat' id='m${i}'><body>before ${i}</body></message>`);
    await c.waitFor(/before 3/);
    c.write("<a xmlns='urn:xmpp:sm:3' h='2'/>"); // self-presence and message 1
    await new Promise((r) => setTimeout(r, 100));
    c.close(); // no </stream:stream>: resumable
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 1; i <= 2; i++) contact.write(`<message to='alice@localhost/phone' type='chat' id='d${i}'><body>detached ${i}</body></message>`);
    await new Promise((r) => setTimeout(r, 300));

    // the other edge in cluster mode
    const r = await RawConnection.open(port(1));
    await r.authenticate("alice", "secret");
    r.buffer = "";
    r.write(`<resume xmlns='urn:xmpp:sm:3' h='2' previd='${id}'/>`);
    await r.waitFor(/<resumed xmlns="urn:xmpp:sm:3" h="1" previd="[^"]+"\/>/);
    await r.waitFor(/detached 2/);
    const got = r.buffer;
    expect(got).not.toContain("before 1");
    for (const body of ["before 2", "before 3", "detached 1", "detached 2"]) expect(countOf(new RegExp(body), got)).toBe(1);
    expect(got.indexOf("before 2")).toBeLessThan(got.indexOf("detached 1"));
    expect(got).toMatch(/<delay xmlns="urn:xmpp:delay" from="localhost" stamp="\d{4}-\d\d-\d\dT[^"]+Z"\/>/);
    // the resumed stream goes on: it is bound and counts from the old counters
    r.write("<r xmlns='urn:xmpp:sm:3'/>");
    await r.waitFor(/<a xmlns="urn:xmpp:sm:3" h="1"\/>/);
    contact.write("<message to='alice@localhost/phone' type='chat'><body>after resume</body></message>");
    await r.waitFor(/after resume/);
    expect(contact.buffer).not.toMatch(/<presence [^>]*from="alice@localhost\/phone"[^>]*type="unavailable"/);
    r.close();
    contact.close();
  });

  it("a second connection resuming while the first is still attached takes over; the first gets <conflict/>", async () => {
    const { c, id } = await smEnabled("carol", "twice", 0);
    const r = await RawConnection.open(port(1));
    await r.authenticate("carol", "secret");
    r.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await r.waitFor(/<resumed /);
    await c.waitFor(/<conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await c.waitClosed();
    const sender = await bound("bob", "conflict");
    sender.write("<message to='carol@localhost/twice' type='chat'><body>to the new stream</body></message>");
    await r.waitFor(/to the new stream/);
    r.close();
    sender.close();
  });
});

describe("stream management with a client not written here (@xmpp/client)", () => {
  it("its session is resumed after a network drop: same resource, nothing lost, nothing twice", async () => {
    const alice = await connect(ts, "alice", { resource: "xmppjs", reconnect: true });
    const sm = alice.xmpp.streamManagement;
    expect(sm.enabled).toBe(true);
    const id = sm.id;
    expect(id).not.toBe("");
    const bob = await bound("bob", "xmppjs-peer");
    bob.write("<message to='alice@localhost/xmppjs' type='chat'><body>j1</body></message>");
    await alice.waitFor((el) => el.getChildText("body") === "j1");
    const resumed = new Promise<void>((resolve) => alice.xmpp.on("online", () => resolve()));
    await alice.xmpp.disconnect(); // the TCP connection ends without a stream close: a drop
    bob.write("<message to='alice@localhost/xmppjs' type='chat'><body>j2</body></message>");
    await alice.waitFor((el) => el.getChildText("body") === "j2", 8000);
    // resumed, not a new session: the same id and resource, no second "online"
    const again = await Promise.race([resumed.then(() => "new session"), new Promise((r) => setTimeout(() => r("resumed"), 300))]);
    expect(again).toBe("resumed");
    expect(alice.xmpp.streamManagement.id).toBe(id);
    expect(alice.xmpp.jid?.toString()).toBe("alice@localhost/xmppjs");
    expect(alice.received.filter((el) => el.getChildText("body") === "j1")).toHaveLength(1);
    alice.xmpp.reconnect.stop();
    await alice.stop();
    bob.close();
  });
});

describe("stream management: sessions that end", () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startTestServer({ sm: { resumeTimeoutSeconds: 2 } });
    for (const u of ["alice", "bob"]) await short.addUser(u);
  });
  afterAll(async () => {
    await short?.stop();
  });

  async function login(user: string, resource: string, node = 0): Promise<RawConnection> {
    const c = await RawConnection.open(short.nodes[node % short.nodes.length]!.ports.c2s);
    await c.login(user, "secret", resource);
    return c;
  }

  /** mutual presence subscription between two logged-in users (RFC 6121 §3) */
  async function befriend(a: RawConnection, aUser: string, b: RawConnection, bUser: string): Promise<void> {
    for (const [from, fromUser, to, toUser] of [[a, aUser, b, bUser], [b, bUser, a, aUser]] as const) {
      from.write(`<presence to='${toUser}@localhost' type='subscribe'/>`);
      await to.waitFor(new RegExp(`<presence [^>]*from="${fromUser}@localhost"[^>]*type="subscribe"|<presence [^>]*type="subscribe"[^>]*from="${fromUser}@localhost"`));
      to.write(`<presence to='${fromUser}@localhost' type='subscribed'/>`);
      await from.waitFor(/type="subscribed"/);
    }
  }

  it("on expiry, the unacknowledged and queued messages go to offline storage and contacts get unavailable", async () => {
    const contact = await login("bob", "desk", 1);
    const c = await login("alice", "phone", 0);
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const id = /id="([^"]+)"/.exec(await c.waitFor(/<enabled [^>]*\/>/))![1];
    for (const party of [contact, c]) party.write("<presence/>");
    await befriend(c, "alice", contact, "bob");
    await contact.waitFor(/<presence [^>]*from="alice@localhost\/phone"(?![^>]*type=)/);
    contact.write("<message to='alice@localhost/phone' type='chat'><body>unacked one</body></message>");
    await c.waitFor(/unacked one/);
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    contact.write("<message to='alice@localhost/phone' type='chat'><body>queued one</body></message>");
    await contact.waitFor(/<presence [^>]*from="alice@localhost\/phone"[^>]*type="unavailable"|<presence [^>]*type="unavailable"[^>]*from="alice@localhost\/phone"/, 8000);
    // a late resumption is told how many stanzas the session had handled (presence, subscribe, subscribed)
    const late = await RawConnection.open(short.nodes[1 % short.nodes.length]!.ports.c2s);
    await late.authenticate("alice", "secret");
    late.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await late.waitFor(/<failed xmlns="urn:xmpp:sm:3" h="3"><item-not-found/);
    late.close();
    const back = await login("alice", "laptop", 1);
    back.write("<presence/>");
    await back.waitFor(/queued one/, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(countOf(/unacked one/, back.buffer)).toBe(1);
    expect(countOf(/queued one/, back.buffer)).toBe(1);
    back.close();
    contact.close();
  });

  it("a stream closed with </stream:stream> cannot be resumed; its unacknowledged messages go to offline storage", async () => {
    const c = await login("alice", "closing", 0);
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const id = /id="([^"]+)"/.exec(await c.waitFor(/<enabled [^>]*\/>/))![1];
    const contact = await login("bob", "closer", 1);
    contact.write("<message to='alice@localhost/closing' type='chat'><body>never acked</body></message>");
    await c.waitFor(/never acked/);
    c.write("</stream:stream>");
    await c.waitClosed();
    const r = await RawConnection.open(short.nodes[1 % short.nodes.length]!.ports.c2s);
    await r.authenticate("alice", "secret");
    r.write(`<resume xmlns='urn:xmpp:sm:3' h='0' previd='${id}'/>`);
    await r.waitFor(/<failed xmlns="urn:xmpp:sm:3"><item-not-found/);
    r.close();
    const back = await login("alice", "again", 0);
    back.write("<presence/>");
    await back.waitFor(/never acked/, 5000);
    back.close();
    contact.close();
  });
});
