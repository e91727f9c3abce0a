/**
 * Personal eventing with a client not written here: Debian's python3-slixmpp (its xep_0115,
 * xep_0163, xep_0084 and xep_0172 plugins) publishes an avatar and a nickname and receives the
 * notifications on the contact's side, the two accounts on different edges in cluster mode
 * (test/interop/slixmpp_pep.py prints each step's outcome as JSON). Skipped, and says so, where
 * python3-slixmpp is not installed, like interop-slixmpp.test.ts.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.js";
import { runPython, slixmppPython, type ScriptRun } from "../support/slixmpp.js";

const script = fileURLToPath(new URL("../interop/slixmpp_pep.py", import.meta.url));
const python = slixmppPython("interop-slixmpp-pep");

function run(args: string[]): Promise<ScriptRun> {
  return runPython(python!, script, args);
}

describe.skipIf(!python)("slixmpp personal eventing (XEP-0163, XEP-0084, XEP-0172)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer();
    await ts.addUser("pep-alice", "alice secret");
    await ts.addUser("pep-bob", "bob secret");
  }, 60_000);
  afterAll(() => ts?.stop());

  it("publishes an avatar and a nickname that the contact is notified of, and fetches the avatar data", async () => {
    const [a, b] = [ts.nodes[0]!, ts.nodes[ts.nodes.length - 1]!];
    const { code, stdout, stderr } = await run(["127.0.0.1", String(a.ports.c2s), String(b.ports.c2s), "pep-alice@localhost", "alice secret", "pep-bob@localhost", "bob secret"]);
    expect(code, stderr).toBe(0);
    const r = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(r.login).toEqual({ subscription: "both" });
    expect(r.avatar).toEqual({ from: "pep-alice@localhost", id: expect.stringMatching(/^[0-9a-f]{40}$/), bytes: 1032, data_matches: true });
    expect(r.nick).toEqual({ from: "pep-alice@localhost", nick: "Alice Interop" });
  }, 120_000);
});
