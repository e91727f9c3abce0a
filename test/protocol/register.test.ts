/** XEP-0077 in-band registration over a real stream (enabled by configuration; off by default). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { RawConnection } from "../support/raw.js";

let ts: TestServer;
let off: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ registration: { enabled: true, perIpPerHour: 3 } });
  off = await startTestServer();
});
afterAll(async () => {
  await ts?.stop();
  await off?.stop();
});

async function register(server: TestServer, username: string, password: string, answer = /<iq[^>]*id="reg1"[\s\S]*?(<\/iq>|\/>)/): Promise<string> {
  const raw = await RawConnection.open(server.server.ports.c2s);
  await raw.startTls();
  raw.open();
  const features = await raw.waitFor(/<\/stream:features>/);
  raw.write(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${username}</username><password>${password}</password></query></iq>`);
  const out = await raw.waitFor(answer);
  raw.close();
  return features + out;
}

describe("in-band registration (XEP-0077)", () => {
  it("creates an account before authentication, which can then log in", async () => {
    const out = await register(ts, "newbie", "fresh-pass");
    expect(out).toContain('<register xmlns="http://jabber.org/features/iq-register"/>');
    expect(out).toMatch(/id="reg1"[^>]*type="result"|type="result"[^>]*id="reg1"/);
    const c = await connect(ts, "newbie", { password: "fresh-pass" });
    expect(c.jid).toMatch(/^newbie@localhost\//);
    await c.send(xml("presence"));
    await c.stop();
  });

  it("refuses an existing username with conflict", async () => {
    const out = await register(ts, "newbie", "other");
    expect(out).toContain("<conflict");
  });

  it("is off by default: the stream neither offers it nor accepts it", async () => {
    // as in ejabberd and Prosody without their registration module: a stanza before
    // authentication ends the stream with <not-authorized/> (RFC 6120 §6.4)
    const out = await register(off, "sneaky", "pw", /<\/stream:stream>/);
    expect(out).not.toContain("iq-register");
    expect(out).toContain("<not-authorized");
    expect(await off.server.host.store.accounts.exists("sneaky@localhost")).toBe(false);
  });
});
