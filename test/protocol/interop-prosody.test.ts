/**
 * Federation with Debian's Prosody on loopback (RFC 6120 s2s over STARTTLS, XEP-0220 dialback,
 * self-signed certificates both ways): the interop cases (test/support/interop-cases.ts). We
 * reach Prosody through s2s.routes; Prosody reaches us at sb.test:5269 through a hosts file of
 * its own resolver, our server bound to a loopback address of its own (test/support/prosody.ts).
 * Skipped, with a warning, where Prosody is not installed (.ci/run installs it).
 */
import { afterAll, beforeAll, describe } from "vitest";
import { connectTo } from "../support/client.js";
import { interopCases } from "../support/interop-cases.js";
import { Prosody, loopbackWithFreePort, prosodyInstalled } from "../support/prosody.js";
import { freePort } from "../support/processes.js";
import { TEST_MODE, startTestServer, type TestServer } from "../support/server.js";

const installed = prosodyInstalled();
if (!installed) console.warn("interop-prosody: /usr/bin/prosody (or prosodyctl, openssl) is missing, skipping; apt-get install prosody lua-unbound");

let prosody: Prosody;
let ts: TestServer;
let address: string;

beforeAll(async () => {
  if (!installed) return;
  // Prosody finds sb.test at its address on the standard port: the first node listens there.
  address = await loopbackWithFreePort(5269);
  prosody = await Prosody.prepare("prosody.test", { "sb.test": address, "conference.sb.test": address });
  const s2sPorts = [5269, await freePort()];
  ts = await startTestServer({ domain: "sb.test", bind: address }, { perNode: (i) => ({ s2s: { port: s2sPorts[i], routes: { "prosody.test": `127.0.0.1:${prosody.ports.s2s}`, "conference.prosody.test": `127.0.0.1:${prosody.ports.s2s}` } } }) });
  for (const u of ["sam", "tess", "uma", "vic"]) await ts.addUser(u);
  await prosody.start(["pam", "quinn", "rita", "stan"]);
}, 60_000);

afterAll(async () => {
  await prosody?.stop();
  await ts?.stop();
});

describe.skipIf(!installed)(`federation with Prosody (${TEST_MODE})`, () => {
  interopCases(() => ({
    ourDomain: "sb.test",
    theirDomain: "prosody.test",
    // our clients on the nodes in turn (they listen on the test's own loopback address)
    ours: (local, resource) => connectTo(`xmpp://${address}:${ts.nextNode().ports.c2s}`, "sb.test", local, { resource }),
    theirs: (local) => connectTo(`xmpp://127.0.0.1:${prosody.ports.c2s}`, "prosody.test", local, { resource: "r" }),
    ourUsers: ["sam", "tess", "uma", "vic"],
    theirUsers: ["pam", "quinn", "rita", "stan"],
  }));
});
