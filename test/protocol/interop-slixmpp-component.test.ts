/**
 * Interop with a component not written here: Debian's python3-slixmpp runs an XEP-0114 component
 * (ComponentXMPP: its own handshake, namespaces and disco plugin) that a slixmpp client talks to
 * through Switchboard; in cluster mode the component is on the first edge and the client on the
 * last (test/interop/slixmpp_component.py prints each step's outcome as JSON). Skipped, saying
 * so, where python3-slixmpp is not installed.
 */
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/component.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { runPython, slixmppPython, type ScriptRun } from "../support/slixmpp.js";

const script = fileURLToPath(new URL("../interop/slixmpp_component.py", import.meta.url));
const python = slixmppPython("interop-slixmpp-component");

const COMPONENT = { domain: "echo.localhost", secret: "interop secret" };

function run(args: string[]): Promise<ScriptRun> {
  return runPython(python!, script, args);
}

describe.skipIf(!python)("slixmpp ComponentXMPP (a component not written here)", () => {
  let ts: TestServer;
  beforeAll(async () => {
    const ports = [await freePort(), await freePort()];
    ts = await startTestServer({}, { perNode: (i) => ({ components: { port: ports[i]!, hosts: [COMPONENT] } }) });
    await ts.addUser("sli-user", "user secret");
  }, 60_000);
  afterAll(() => ts?.stop());

  it("handshakes, gets a client's message and answers it, answers disco, and is refused with a wrong secret", async () => {
    const [componentNode, clientNode] = [ts.nodes[0]!, ts.nodes[ts.nodes.length - 1]!];
    const { code, stdout, stderr } = await run([
      "127.0.0.1",
      String(componentNode.ports.components),
      String(clientNode.ports.c2s),
      COMPONENT.domain,
      COMPONENT.secret,
      "sli-user@localhost",
      "user secret",
    ]);
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(out).toEqual({
      handshake: { ok: true },
      echo: { body: "echo: hello component", from: "bot@echo.localhost" },
      disco: { identities: [["component", "generic"]] },
      wrong_secret: { condition: "not-authorized" },
    });
  }, 100_000);
});
