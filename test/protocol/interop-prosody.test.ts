/**
 * Federation with Debian's Prosody on loopback (RFC 6120 s2s over STARTTLS, XEP-0220 dialback,
 * self-signed certificates both ways): messages both ways, RFC 6121 subscriptions and presence
 * both ways, and a message to a user Prosody does not have coming back as an error. We reach
 * Prosody through s2s.routes; Prosody reaches us at sb.test:5269 through a hosts file of its own
 * resolver, our server bound to a loopback address of its own (test/support/prosody.ts). Skipped, with a warning, where Prosody is not installed (.ci/run installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTo, xml, type Element, type TestClient } from "../support/client.js";
import { Prosody, loopbackWithFreePort, prosodyInstalled } from "../support/prosody.js";
import { freePort } from "../support/processes.js";
import { TEST_MODE, startTestServer, type TestServer } from "../support/server.js";

const installed = prosodyInstalled();
if (!installed) console.warn("interop-prosody: /usr/bin/prosody (or prosodyctl, openssl) is missing, skipping; apt-get install prosody");

let prosody: Prosody;
let ts: TestServer;
let address: string;

beforeAll(async () => {
  if (!installed) return;
  // Prosody finds sb.test at its address on the standard port: the first node listens there.
  address = await loopbackWithFreePort(5269);
  prosody = await Prosody.prepare("prosody.test", { "sb.test": address });
  const s2sPorts = [5269, await freePort()];
  ts = await startTestServer({ domain: "sb.test", bind: address }, { perNode: (i) => ({ s2s: { port: s2sPorts[i], routes: { "prosody.test": `127.0.0.1:${prosody.ports.s2s}` } } }) });
  for (const u of ["sam", "tess", "uma"]) await ts.addUser(u);
  await prosody.start(["pam", "quinn", "rita"]);
}, 60_000);

afterAll(async () => {
  await prosody?.stop();
  await ts?.stop();
});

/** a client of ours, on the nodes in turn (they listen on the test's own loopback address) */
const atSwitchboard = (local: string, resource: string) => connectTo(`xmpp://${address}:${ts.nextNode().ports.c2s}`, "sb.test", local, { resource });
const atProsody = (local: string) => connectTo(`xmpp://127.0.0.1:${prosody.ports.c2s}`, "prosody.test", local, { resource: "r" });
const isChat = (body: string) => (el: Element) => el.is("message") && el.getChildText("body") === body;
const presenceFrom = (from: string, type?: string) => (el: Element) => el.is("presence") && el.attrs.from === from && el.attrs.type === type;

async function online(client: TestClient): Promise<TestClient> {
  await client.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
  await client.send(xml("presence"));
  return client;
}

describe.skipIf(!installed)(`federation with Prosody (${TEST_MODE})`, () => {
  it("carries messages both ways", async () => {
    const sam = await online(await atSwitchboard("sam", "s"));
    const pam = await online(await atProsody("pam"));
    await sam.send(xml("message", { to: "pam@prosody.test", type: "chat" }, xml("body", {}, "hi prosody")));
    expect((await pam.waitFor(isChat("hi prosody"), 20_000)).attrs.from).toBe("sam@sb.test/s");
    await pam.send(xml("message", { to: "sam@sb.test/s", type: "chat" }, xml("body", {}, "hi switchboard")));
    expect((await sam.waitFor(isChat("hi switchboard"), 20_000)).attrs.from).toBe("pam@prosody.test/r");
    await Promise.all([sam.stop(), pam.stop()]);
  });

  it("subscribes and exchanges presence both ways", async () => {
    const tess = await online(await atSwitchboard("tess", "t"));
    const quinn = await online(await atProsody("quinn"));
    // tess → quinn
    await tess.send(xml("presence", { to: "quinn@prosody.test", type: "subscribe" }));
    await quinn.waitFor(presenceFrom("tess@sb.test", "subscribe"), 20_000);
    await quinn.send(xml("presence", { to: "tess@sb.test", type: "subscribed" }));
    await tess.waitFor(presenceFrom("quinn@prosody.test", "subscribed"), 20_000);
    await tess.waitFor(presenceFrom("quinn@prosody.test/r"), 20_000);
    // quinn → tess
    await quinn.send(xml("presence", { to: "tess@sb.test", type: "subscribe" }));
    await tess.waitFor(presenceFrom("quinn@prosody.test", "subscribe"), 20_000);
    await tess.send(xml("presence", { to: "quinn@prosody.test", type: "subscribed" }));
    await quinn.waitFor(presenceFrom("tess@sb.test/t"), 20_000);
    // a status change reaches the other side; a logout is seen
    await tess.send(xml("presence", {}, xml("show", {}, "away")));
    await quinn.waitFor((el) => presenceFrom("tess@sb.test/t")(el) && el.getChildText("show") === "away", 20_000);
    await quinn.stop();
    await tess.waitFor(presenceFrom("quinn@prosody.test/r", "unavailable"), 20_000);
    await tess.stop();
  });

  it("returns an error for a user Prosody does not have", async () => {
    const uma = await online(await atSwitchboard("uma", "u"));
    await uma.send(xml("message", { to: "nobody@prosody.test", type: "chat", id: "lost" }, xml("body", {}, "anyone?")));
    const error = await uma.waitFor((el) => el.is("message") && el.attrs.id === "lost", 20_000);
    expect(error.attrs.type).toBe("error");
    expect(error.attrs.from).toBe("nobody@prosody.test");
    expect(error.getChild("error")?.getChild("service-unavailable")).toBeDefined();
    await uma.stop();
  });
});
