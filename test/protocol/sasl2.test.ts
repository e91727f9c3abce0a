/**
 * XEP-0388 SASL2 with XEP-0386 Bind 2 and XEP-0198 inline, on raw TLS sockets in both modes (in a
 * cluster an inline resumption lands on the other edge than the dropped stream): SCRAM with and
 * without channel binding, PLAIN, the inline bind with stream management enabled in it, the
 * inline resumption with what was not acknowledged sent again, and the bad inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { RawConnection } from "../support/raw.js";
import { clientChannelBinding, scramClient, type ScramTestClient } from "../support/scram.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ limits: { authFailuresPerIp: 1000 }, sm: { resumeTimeoutSeconds: 60 } });
  for (const u of ["alice", "bob", "carol"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

const NS = "urn:xmpp:sasl:2";
const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");

/** A direct TLS stream (XEP-0368) on node `node`, opened up to its features. */
async function open(node = 0): Promise<{ raw: RawConnection; features: string }> {
  const raw = await RawConnection.open(ts.nodes[node % ts.nodes.length]!.ports.c2sTls, { tls: true });
  raw.open();
  const features = await raw.waitFor(/<\/stream:features>/);
  raw.buffer = "";
  return { raw, features };
}

/** <authenticate/> with SCRAM and the given inline children; resolves with the <success/> or <failure/> text. */
async function scram2(raw: RawConnection, mechanism: string, client: ScramTestClient, inline = ""): Promise<string> {
  raw.write(`<authenticate xmlns='${NS}' mechanism='${mechanism}'><initial-response>${b64(client.first())}</initial-response>${inline}</authenticate>`);
  const first = await raw.waitFor(/<challenge[^>]*>[^<]*<\/challenge>|<failure[\s\S]*<\/failure>/);
  if (/<failure/.test(first)) return first;
  const serverFirst = Buffer.from(/<challenge[^>]*>([^<]*)<\/challenge>/.exec(first)![1]!, "base64");
  raw.buffer = "";
  raw.write(`<response xmlns='${NS}'>${b64(client.final(serverFirst))}</response>`);
  return raw.waitFor(/<\/success>|<\/failure>/);
}

function userAgent(id: string): string {
  return `<user-agent id='${id}'><software>sasl2 test</software><device>vitest</device></user-agent>`;
}

describe("XEP-0388 SASL2", () => {
  it("offers <authentication/> with the mechanisms and what may be done inline", async () => {
    const { raw, features } = await open();
    expect(features).toMatch(
      /<authentication xmlns="urn:xmpp:sasl:2"><mechanism>SCRAM-SHA-256-PLUS<\/mechanism><mechanism>SCRAM-SHA-1-PLUS<\/mechanism><mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><mechanism>PLAIN<\/mechanism><inline>/,
    );
    expect(features).toContain(
      '<inline><fast xmlns="urn:xmpp:fast:0"><mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-ENDP</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast><sm xmlns="urn:xmpp:sm:3"/><bind xmlns="urn:xmpp:bind:0"><inline><feature var="urn:xmpp:sm:3"/><feature var="urn:xmpp:carbons:2"/><feature var="urn:xmpp:csi:0"/></inline></bind></inline>',
    );
    raw.close();
  });

  it("logs in with SCRAM-SHA-256: <additional-data/> with the server signature, the bare JID, then features without a restart", async () => {
    const { raw } = await open();
    const client = scramClient("SCRAM-SHA-256", "alice", "secret");
    const success = await scram2(raw, "SCRAM-SHA-256", client, userAgent("d2b0f5e4-1c7a-4d0e-9a53-1f7f5d1b8a01"));
    const data = /<additional-data>([^<]+)<\/additional-data>/.exec(success)?.[1];
    expect(Buffer.from(data ?? "", "base64").toString()).toBe(client.expectedServerFinal);
    expect(success).toContain("<authorization-identifier>alice@localhost</authorization-identifier>");
    // no stream restart: the features follow on the same stream, and binding works on it
    await raw.waitFor(/<stream:features[^>]*><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
    raw.buffer = "";
    raw.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>classic</resource></bind></iq>");
    await raw.waitFor(/<jid>alice@localhost\/classic<\/jid>/);
    raw.close();
  });

  it("logs in with SCRAM-SHA-256-PLUS (tls-exporter) and binds inline: resource <tag>.<random>", async () => {
    const { raw } = await open();
    const client = scramClient("SCRAM-SHA-256-PLUS", "alice", "secret", { gs2Header: "p=tls-exporter,,", cbData: clientChannelBinding(raw.tlsSocket!, "tls-exporter") });
    const success = await scram2(raw, "SCRAM-SHA-256-PLUS", client, `${userAgent("a1")}<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind>`);
    const jid = /<authorization-identifier>([^<]+)<\/authorization-identifier>/.exec(success)?.[1];
    expect(jid).toMatch(/^alice@localhost\/phone\.[0-9a-f]{8}$/);
    expect(success).toContain('<bound xmlns="urn:xmpp:bind:0"/>');
    // bound: stanzas flow at once
    raw.buffer = "";
    raw.write("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await raw.waitFor(/id="p1"/);
    expect(raw.buffer).toContain('type="result"');
    raw.close();
  });

  it("logs in with PLAIN over TLS and binds inline", async () => {
    const { raw } = await open(1);
    raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    const success = await raw.waitFor(/<\/success>|<\/failure>/);
    expect(success).toMatch(/<authorization-identifier>bob@localhost\/sb\.[0-9a-f]{8}<\/authorization-identifier><bound xmlns="urn:xmpp:bind:0"\/>/);
    raw.close();
  });

  it("delivers between two inline-bound sessions on different edges", async () => {
    const a = await open(0);
    const b = await open(1);
    a.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>a</tag></bind></authenticate>`);
    b.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>b</tag></bind></authenticate>`);
    const bobJid = /<authorization-identifier>([^<]+)</.exec(await b.raw.waitFor(/<\/success>/))![1]!;
    await a.raw.waitFor(/<\/success>/);
    a.raw.write(`<message to='${bobJid}' type='chat'><body>over sasl2</body></message>`);
    await b.raw.waitFor(/<body>over sasl2<\/body>/);
    a.raw.close();
    b.raw.close();
  });
});

describe("XEP-0280 carbons inline in Bind 2", () => {
  it("enables carbons with <enable/> inside <bind/>: the resource gets copies of what another resource receives", async () => {
    const inlined = await open(0);
    inlined.raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>carbons</tag><enable xmlns='urn:xmpp:carbons:2'/></bind></authenticate>`,
    );
    expect(await inlined.raw.waitFor(/<\/success>/)).toContain('<bound xmlns="urn:xmpp:bind:0"/>');
    // copies go to available resources (XEP-0280 §6)
    inlined.raw.write("<presence/>");
    await inlined.raw.waitFor(/<presence[^>]*from="alice@localhost\/carbons/);
    const plain = await open(1);
    plain.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>other</tag></bind></authenticate>`);
    const otherJid = /<authorization-identifier>([^<]+)</.exec(await plain.raw.waitFor(/<\/success>/))![1]!;
    const bob = await open(1);
    bob.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    await bob.raw.waitFor(/<\/success>/);
    bob.raw.write(`<message to='${otherJid}' type='chat'><body>copy me</body></message>`);
    await plain.raw.waitFor(/copy me/);
    const copy = await inlined.raw.waitFor(/<received xmlns="urn:xmpp:carbons:2">[\s\S]*copy me/);
    expect(copy).toContain("<forwarded");
    for (const c of [inlined, plain, bob]) c.raw.close();
  });
});

describe("XEP-0352 client state inline in Bind 2", () => {
  it("starts inactive with <inactive/> inside <bind/>: a chat state waits for the next message with a body", async () => {
    const phone = await open(0);
    phone.raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0carol\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>pocket</tag><inactive xmlns='urn:xmpp:csi:0'/></bind></authenticate>`,
    );
    const jid = /<authorization-identifier>([^<]+)</.exec(await phone.raw.waitFor(/<\/success>/))![1]!;
    phone.raw.buffer = "";
    const bob = await open(1);
    bob.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    await bob.raw.waitFor(/<\/success>/);
    bob.raw.write(`<message to='${jid}' type='chat' id='cs1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    await new Promise((r) => setTimeout(r, 700));
    expect(phone.raw.buffer).not.toContain("cs1"); // held while inactive
    bob.raw.write(`<message to='${jid}' type='chat' id='b1'><body>wake up</body></message>`);
    const got = await phone.raw.waitFor(/id="b1"/);
    expect(got.indexOf('id="cs1"')).toBeGreaterThanOrEqual(0);
    expect(got.indexOf('id="cs1"')).toBeLessThan(got.indexOf('id="b1"'));
    phone.raw.close();
    bob.raw.close();
  });
});

describe("SASL2 over WebSocket (RFC 7395)", () => {
  it("logs in with PLAIN behind a TLS proxy, then the post-auth features arrive as a frame without a new <open/>", async () => {
    const url = `ws://127.0.0.1:${ts.nodes[1 % ts.nodes.length]!.ports.http}${ts.config.http.websocketPath}`;
    const ws = new WebSocket(url, "xmpp", { headers: { "x-forwarded-proto": "https" } });
    const frames: string[] = [];
    ws.on("message", (d: Buffer) => frames.push(d.toString()));
    const next = async (re: RegExp) => {
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const hit = frames.find((f) => re.test(f));
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no frame ${re}: ${frames.join(" ")}`);
    };
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>");
    const features = await next(/<authentication/);
    expect(features).not.toContain("-PLUS"); // the proxy's TLS is not ours to bind to
    ws.send(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response></authenticate>`);
    expect(await next(/<success/)).toContain("<authorization-identifier>alice@localhost</authorization-identifier>");
    expect(await next(/<stream:features[\s\S]*urn:ietf:params:xml:ns:xmpp-bind/)).toBeTruthy();
    ws.send("<iq xmlns='jabber:client' type='set' id='wb'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>ws</resource></bind></iq>");
    expect(await next(/<jid>alice@localhost\/ws<\/jid>/)).toBeTruthy();
    ws.close();
  });
});

describe("XEP-0198 inline in SASL2 and Bind 2", () => {
  it("enables stream management inside <bound/> and resumes inline, on the other edge, with the unacknowledged stanza", async () => {
    const { raw } = await open(0);
    raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0carol\0secret")}</initial-response>${userAgent("c1")}<bind xmlns='urn:xmpp:bind:0'><tag>mobile</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind></authenticate>`,
    );
    const success = await raw.waitFor(/<\/success>/);
    const jid = /<authorization-identifier>([^<]+)</.exec(success)![1]!;
    expect(success).toMatch(/<bound xmlns="urn:xmpp:bind:0"><enabled xmlns="urn:xmpp:sm:3" id="[^"]+" resume="true" max="\d+"\/><\/bound>/);
    const previd = /<enabled[^>]* id="([^"]+)"/.exec(success)![1]!;
    raw.buffer = "";

    // a message reaches carol and is never acknowledged; the connection drops
    const bob = await open(1);
    bob.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    await bob.raw.waitFor(/<\/success>/);
    bob.raw.write(`<message to='${jid}' type='chat'><body>keep me</body></message>`);
    await raw.waitFor(/keep me/);
    raw.close();
    await new Promise((r) => setTimeout(r, 300));

    // inline resumption on the other edge: <resumed/> inside <success/>, then the stanza again
    const again = await open(1);
    again.raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0carol\0secret")}</initial-response>${userAgent("c1")}<resume xmlns='urn:xmpp:sm:3' previd='${previd}' h='0'/><bind xmlns='urn:xmpp:bind:0'><tag>mobile</tag></bind></authenticate>`,
    );
    const resumed = await again.raw.waitFor(/<\/success>[\s\S]*keep me/);
    expect(resumed).toMatch(new RegExp(`<authorization-identifier>${jid.replace(/[.]/g, "\\.")}</authorization-identifier><resumed xmlns="urn:xmpp:sm:3" h="0" previd="${previd}"/></success>`));
    expect(resumed).not.toContain("<bound");
    expect(resumed.indexOf("</success>")).toBeLessThan(resumed.indexOf("keep me"));
    again.raw.close();
    bob.raw.close();
  });

  it("keeps stream management working after the inline enable: the server asks for acks and answers <r/>", async () => {
    const { raw } = await open(0);
    raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'><tag>acks</tag><enable xmlns='urn:xmpp:sm:3'/></bind></authenticate>`,
    );
    const jid = /<authorization-identifier>([^<]+)</.exec(await raw.waitFor(/<\/success>/))![1]!;
    raw.buffer = "";
    const bob = await open(1);
    bob.raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0bob\0secret")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    await bob.raw.waitFor(/<\/success>/);
    // sm.ackEvery is 5: the fifth unacknowledged stanza brings the server's <r/>
    for (let i = 1; i <= 5; i++) bob.raw.write(`<message to='${jid}' type='chat'><body>ack me ${i}</body></message>`);
    await raw.waitFor(/ack me 5[\s\S]*<r xmlns="urn:xmpp:sm:3"\/>/);
    raw.write("<a xmlns='urn:xmpp:sm:3' h='5'/><r xmlns='urn:xmpp:sm:3'/>");
    await raw.waitFor(/<a xmlns="urn:xmpp:sm:3" h="0"\/>/);
    raw.close();
    bob.raw.close();
  });

  it("answers an inline resume of an unknown session with <failed/> in <success/> and binds anew", async () => {
    const { raw } = await open(1);
    raw.write(
      `<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response><resume xmlns='urn:xmpp:sm:3' previd='made-up' h='0'/><bind xmlns='urn:xmpp:bind:0'><tag>fresh</tag></bind></authenticate>`,
    );
    const success = await raw.waitFor(/<\/success>/);
    expect(success).toMatch(/<authorization-identifier>alice@localhost\/fresh\.[0-9a-f]{8}<\/authorization-identifier><failed xmlns="urn:xmpp:sm:3"><item-not-found[^>]*\/><\/failed><bound xmlns="urn:xmpp:bind:0"\/><\/success>/);
    raw.close();
  });
});

describe("SASL2 bad input", () => {
  const failureOf = async (payload: string): Promise<string> => {
    const { raw } = await open();
    raw.write(payload);
    const text = await raw.waitFor(/<\/failure>/);
    raw.close();
    return /<failure xmlns="urn:xmpp:sasl:2"><([a-z-]+) xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/.exec(text)?.[1] ?? text;
  };

  it("refuses an unknown mechanism with <invalid-mechanism/>", async () => {
    expect(await failureOf(`<authenticate xmlns='${NS}' mechanism='X-MADE-UP'><initial-response>AA==</initial-response></authenticate>`)).toBe("invalid-mechanism");
  });

  it("refuses malformed base64 with <incorrect-encoding/>", async () => {
    expect(await failureOf(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>not*base64!</initial-response></authenticate>`)).toBe("incorrect-encoding");
  });

  it("refuses a wrong password with <not-authorized/> and a text", async () => {
    const { raw } = await open();
    raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0wrong")}</initial-response><bind xmlns='urn:xmpp:bind:0'/></authenticate>`);
    const text = await raw.waitFor(/<\/failure>/);
    expect(text).toMatch(/<failure xmlns="urn:xmpp:sasl:2"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
    // still unauthenticated: a stanza now ends the stream
    raw.write("<message to='bob@localhost'><body>x</body></message>");
    await raw.waitFor(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/);
    raw.close();
  });

  it("refuses a <response/> without an exchange, an empty user-agent id, and answers <abort/> with <aborted/>", async () => {
    expect(await failureOf(`<response xmlns='${NS}'>AA==</response>`)).toBe("malformed-request");
    expect(await failureOf(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>AA==</initial-response><user-agent id=''/></authenticate>`)).toBe("malformed-request");
    const { raw } = await open();
    raw.write(`<authenticate xmlns='${NS}' mechanism='SCRAM-SHA-256'/>`);
    await raw.waitFor(/<challenge xmlns="urn:xmpp:sasl:2"\/>/);
    raw.write(`<abort xmlns='${NS}'/>`);
    await raw.waitFor(/<failure xmlns="urn:xmpp:sasl:2"><aborted xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/><\/failure>/);
    raw.close();
  });

  it("refuses a Bind 2 request before authentication with a not-authorized stream error", async () => {
    const { raw } = await open();
    raw.write("<bind xmlns='urn:xmpp:bind:0'><tag>early</tag></bind>");
    await raw.waitFor(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/);
    await raw.waitClosed();
  });

  it("refuses a second <authenticate/> once authenticated (the stream is past SASL)", async () => {
    const { raw } = await open();
    raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response></authenticate>`);
    await raw.waitFor(/<\/stream:features>/);
    raw.write(`<authenticate xmlns='${NS}' mechanism='PLAIN'><initial-response>${b64("\0alice\0secret")}</initial-response></authenticate>`);
    await raw.waitFor(/<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/);
    await raw.waitClosed();
  });
});
