/**
 * Federation with Debian's ejabberd on loopback (RFC 6120 s2s over STARTTLS, XEP-0220 dialback
 * via mod_s2s_dialback, self-signed certificates both ways): the interop cases
 * (test/support/interop-cases.ts). We reach ejabberd through s2s.routes; ejabberd reaches us by
 * an SRV record of a DNS of the test's own on loopback, the only name server its Erlang
 * resolver knows (test/support/ejabberd.ts), so no query leaves the machine — checked at the end.
 * Skipped, with a warning, where ejabberd is not installed (.ci/run installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, connectTo } from "../support/client.js";
import { Ejabberd, ejabberdInstalled } from "../support/ejabberd.js";
import { FakeDns } from "../support/fake-dns.js";
import { interopCases } from "../support/interop-cases.js";
import { freePort } from "../support/processes.js";
import { TEST_MODE, startTestServer, type TestServer } from "../support/server.js";

const installed = ejabberdInstalled();
if (!installed) console.warn("interop-ejabberd: /usr/sbin/ejabberdctl (or erl, openssl, the ejabberd user) is missing, skipping; apt-get install ejabberd");

let dns: FakeDns;
let ejabberd: Ejabberd;
let ts: TestServer;

beforeAll(async () => {
  if (!installed) return;
  dns = await FakeDns.start();
  ejabberd = await Ejabberd.prepare("ejabberd.test", dns.port);
  const s2sPorts = [await freePort(), await freePort()];
  ts = await startTestServer({ domain: "sb.test" }, { perNode: (i) => ({ s2s: { port: s2sPorts[i], routes: { "ejabberd.test": `127.0.0.1:${ejabberd.ports.s2s}`, "conference.ejabberd.test": `127.0.0.1:${ejabberd.ports.s2s}` } } }) });
  for (const u of ["sam", "tess", "uma", "vic"]) await ts.addUser(u);
  // the target is a name its resolver has in inetrc (see ejabberd.ts): it resolves the SRV target without a query
  dns.records.srv["_xmpp-server._tcp.sb.test"] = { target: "localhost", port: s2sPorts[0]! };
  dns.records.srv["_xmpp-server._tcp.conference.sb.test"] = { target: "localhost", port: s2sPorts[0]! };
  dns.records.a["sb.test"] = "127.0.0.1";
  await ejabberd.start(["pam", "quinn", "rita", "stan"]);
}, 90_000);

afterAll(async () => {
  await ejabberd?.stop();
  await ts?.stop();
  await dns?.close();
});

describe.skipIf(!installed)(`federation with ejabberd (${TEST_MODE})`, () => {
  interopCases(() => ({
    ourDomain: "sb.test",
    theirDomain: "ejabberd.test",
    ours: (local, resource) => connect(ts, local, { resource }),
    theirs: (local) => connectTo(`xmpp://127.0.0.1:${ejabberd.ports.c2s}`, "ejabberd.test", local, { resource: "r" }),
    ourUsers: ["sam", "tess", "uma", "vic"],
    theirUsers: ["pam", "quinn", "rita", "stan"],
  }));

  it("asked its DNS about our test domain only", () => {
    expect(dns.asked.length).toBeGreaterThan(0);
    expect(dns.asked.filter((q) => !q.split(" ")[0]!.endsWith(".sb.test"))).toEqual([]);
  });
});
