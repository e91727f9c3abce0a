/**
 * Server-to-client pings (XEP-0199 §3), turned on by an operator with modules.ping.keepaliveSeconds:
 * a client that stays silent and does not answer is closed with <connection-timeout/>, one that
 * answers stays; with the option off (the default) nobody is pinged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ modules: { ping: { keepaliveSeconds: 1, timeoutSeconds: 1 } } });
  for (const u of ["mute", "polite"]) await ts.addUser(u);
});
afterAll(async () => {
  await ts?.stop();
});

describe("keepalive pings (modules.ping.keepaliveSeconds)", () => {
  it("closes a silent client that does not answer, and keeps one that does", async () => {
    const mute = await RawConnection.open(ts.server.ports.c2s);
    await mute.login("mute", "secret", "m");
    const polite = await RawConnection.open(ts.server.ports.c2s);
    await polite.login("polite", "secret", "p");
    const ping = await polite.waitFor(/<iq [^>]*type="get"[^>]*>\s*<ping xmlns="urn:xmpp:ping"\/>/, 4000);
    const id = /<iq [^>]*id="([^"]+)"/.exec(ping.slice(ping.lastIndexOf("<iq ")))![1];
    polite.write(`<iq type='result' id='${id}' to='localhost'/>`);
    await mute.waitFor(/<connection-timeout/, 5000);
    await mute.waitClosed(3000);
    expect(polite.closed).toBe(false);
    polite.close();
  });
});
