/**
 * The edges behind a real HAProxy (Debian's package), as docker-compose runs them: the client
 * ports' server options are read from infra/haproxy/haproxy.cfg (send-proxy-v2), health checks
 * go to /readyz on the HTTP port as there. A client not written here (@xmpp/client) logs in
 * through it over STARTTLS and direct TLS, and the per-IP login throttle counts the clients'
 * own addresses (127.0.0.2 and 127.0.0.3), not HAProxy's.
 *
 * .ci/run installs haproxy; where it is missing the test is skipped and says so.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTo, xml, type TestClient } from "../support/client.js";
import { freePort, signalAndWait, track, waitForPort } from "../support/processes.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const HAPROXY = "/usr/sbin/haproxy";
const hasHaproxy = existsSync(HAPROXY);
if (!hasHaproxy) console.warn("haproxy test: /usr/sbin/haproxy not installed (apt install haproxy); skipped");

/** Options after `edge:<port>` on the deployment's server-template line for that port. */
function deployedServerOptions(port: number): string {
  const cfg = readFileSync(new URL("../../infra/haproxy/haproxy.cfg", import.meta.url), "utf8");
  const line = cfg.split("\n").find((l) => new RegExp(`^\\s*server-template\\s+\\S+\\s+\\d+\\s+edge:${port}\\b`).test(l));
  if (!line) throw new Error(`infra/haproxy/haproxy.cfg has no server-template for edge:${port}`);
  return line.replace(/#.*/, "").trim().split(/\s+/).slice(4).join(" ");
}

describe.skipIf(!hasHaproxy)("behind HAProxy with the deployment's PROXY settings", () => {
  let ts: TestServer;
  let haproxy: ChildProcess | undefined;
  let dir: string;
  let fe: number;
  let feTls: number;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    ts = await startTestServer({ c2s: { port: 0, tlsPort: 0, proxyProtocol: true }, limits: { authFailuresPerIp: 3 } });
    for (const u of ["hx-alice", "hx-bob", "hx-victim"]) await ts.addUser(u, "secret");
    [fe, feTls] = [await freePort(), await freePort()];
    dir = mkdtempSync(join(tmpdir(), "sb-haproxy-"));
    const backend = (name: string, port: "c2s" | "c2sTls", deployedPort: number) => [
      `backend ${name}`,
      "  balance leastconn",
      "  option httpchk",
      "  http-check send meth GET uri /readyz",
      "  http-check expect status 200",
      // the health check on the HTTP port, as `default-server check port 5280` in the deployment
      ...ts.nodes.map((n, i) => `  server edge${i} 127.0.0.1:${n.ports[port]} ${deployedServerOptions(deployedPort)} check port ${n.ports.http} inter 300 rise 1`),
    ];
    const cfg = [
      "global",
      "  maxconn 1000",
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "  timeout check 2s",
      "frontend c2s",
      `  bind 127.0.0.1:${fe}`,
      "  default_backend edges_c2s",
      "frontend c2s_tls",
      `  bind 127.0.0.1:${feTls}`,
      "  default_backend edges_c2s_tls",
      ...backend("edges_c2s", "c2s", 5222),
      ...backend("edges_c2s_tls", "c2sTls", 5223),
      "",
    ].join("\n");
    writeFileSync(join(dir, "haproxy.cfg"), cfg);
    haproxy = track(spawn(HAPROXY, ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "ignore", "pipe"] }));
    let stderr = "";
    haproxy.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitForPort(fe).catch((err: Error) => {
      throw new Error(`${err.message}; haproxy said: ${stderr}`);
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.stop();
    await signalAndWait(haproxy, "SIGTERM");
    if (dir) rmSync(dir, { recursive: true, force: true });
    await ts?.stop();
  });

  /** the first check must pass before HAProxy routes: retry the login for a moment */
  async function login(service: string, local: string, resource: string): Promise<TestClient> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const c = await connectTo(service, ts.domain, local, { resource });
        clients.push(c);
        return c;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  it("serves a real client over STARTTLS and direct TLS through the balancer", async () => {
    const alice = await login(`xmpp://127.0.0.1:${fe}`, "hx-alice", "a");
    const bob = await login(`xmpps://127.0.0.1:${feTls}`, "hx-bob", "b");
    await alice.send(xml("message", { to: "hx-bob@localhost/b", type: "chat" }, xml("body", {}, "through haproxy")));
    const got = await bob.waitFor((el) => el.getChildText("body") === "through haproxy");
    expect(got.attrs.from).toBe("hx-alice@localhost/a");
  });

  it("throttles failed logins per client address behind it, across the edges", async () => {
    const attempt = async (localAddress: string, password: string) => {
      const conn = await RawConnection.open(fe, { localAddress });
      try {
        return await conn.loginOutcome("hx-victim", password);
      } finally {
        conn.close();
      }
    };
    // HAProxy spreads the attempts over the edges (leastconn); the allowance is the cluster's
    for (let i = 0; i < 3; i++) expect(await attempt("127.0.0.2", "wrong")).toBe("not-authorized");
    await new Promise((r) => setTimeout(r, 100)); // hits travel between edges over the bus
    expect(await attempt("127.0.0.2", "secret")).toBe("temporary-auth-failure");
    expect(await attempt("127.0.0.3", "secret")).toBe("success");
  });
});
