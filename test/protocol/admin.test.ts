/**
 * The admin commands (docs/admin.md) as an operator runs them: `switchboard` as a real
 * subprocess, finding the running server from SWITCHBOARD_* settings alone — the single node
 * through its HTTP port and the admin token in its data dir, a cluster (SB_TEST_MODE=cluster:
 * two edges on real Redis and NATS) through NATS, every edge answering.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient } from "../support/client.js";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

const repoRoot = resolve(import.meta.dirname, "../..");
const tsx = join(repoRoot, "node_modules/.bin/tsx");
const main = join(repoRoot, "packages/cli/src/main.ts");

let ts: TestServer;
let alice: TestClient;
let bob: TestClient;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The settings the CLI reads, as an operator would export them for this server. */
function serverEnv(): Record<string, string> {
  const base = { SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: ts.domain, SWITCHBOARD_DATA_DIR: ts.dataDir, SWITCHBOARD_LOG_LEVEL: "silent" };
  if (ts.mode === "cluster") {
    const cfg = ts.config;
    return { ...base, SWITCHBOARD_REDIS_URL: cfg.redisUrl!, SWITCHBOARD_NATS_URL: cfg.natsUrl!, SWITCHBOARD_CLUSTER_PREFIX: cfg.clusterPrefix };
  }
  return { ...base, SWITCHBOARD_BIND: "127.0.0.1", SWITCHBOARD_HTTP_PORT: String(ts.server.ports.http) };
}

function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SWITCHBOARD_")));
  return spawn(tsx, ["--conditions=source", main, ...args], { cwd: repoRoot, env: { ...clean, ...serverEnv(), ...env } });
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += String(c)));
    child.stderr!.on("data", (c) => (stderr += String(c)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

const quietFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A SASL PLAIN attempt on a node: the server's whole answer (<success/> or <failure>…</failure>). */
async function plainLogin(port: number, local: string, password: string): Promise<string> {
  const c = await RawConnection.open(port);
  try {
    await c.startTls();
    c.open();
    await c.waitFor(/<\/stream:features>/);
    c.buffer = "";
    c.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${local}\0${password}`).toString("base64")}</auth>`);
    return await c.waitFor(/<success[^>]*\/>|<\/success>|<\/failure>/);
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  // a short upgrade deadline on the HTTP port: the admin API's streams must outlive it
  ts = await startTestServer({ limits: { tlsHandshakeSeconds: 2 } });
  for (const u of ["alice", "bob", "carol", "dave", "erin"]) await ts.addUser(u);
  alice = await connect(ts, "alice", { resource: "a", node: ts.nodes[0] });
  bob = await connect(ts, "bob", { resource: "b", node: ts.nodes[ts.nodes.length - 1] });
  for (const c of [alice, bob]) await c.send(xml("presence"));
}, 60_000);

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await ts?.stop();
});

describe("switchboard admin commands", () => {
  it("lists every session with its node, address, transport, stream management and traffic", async () => {
    for (let i = 0; i < 20; i++) await alice.send(xml("message", { to: "bob@localhost", type: "chat" }, xml("body", {}, `hi ${i}`)));
    await bob.waitFor((el) => el.getChildText("body") === "hi 19");
    const run = await cli(["sessions", "--json"]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const rows = JSON.parse(run.stdout) as Array<Record<string, unknown>>;
    const a = rows.find((r) => r.jid === "alice@localhost/a")!;
    expect(a).toMatchObject({ node: ts.nodes[0]!.host.nodeId, ip: "127.0.0.1", transport: "tcp", sm: true });
    expect(a.stanzasIn as number).toBeGreaterThanOrEqual(21);
    expect(a.bytesIn as number).toBeGreaterThan(0);
    expect(Date.parse(a.since as string)).toBeGreaterThan(Date.now() - 120_000);
    const b = rows.find((r) => r.jid === "bob@localhost/b")!;
    expect(b.node).toBe(ts.nodes.at(-1)!.host.nodeId);
    expect(b.stanzasOut as number).toBeGreaterThanOrEqual(20);

    const one = await cli(["sessions", "bob@localhost", "--json"]);
    expect((JSON.parse(one.stdout) as Array<{ jid: string }>).map((r) => r.jid)).toEqual(["bob@localhost/b"]);
    const text = await cli(["sessions"]);
    expect(text.stdout).toMatch(/^JID\s+NODE\s+IP\s+TRANSPORT/);
    expect(text.stdout).toContain("alice@localhost/a");

    const top = await cli(["top", "--by", "stanzas", "--limit", "1", "--json"]);
    expect(top.status).toBe(0);
    // alice sent 20 messages, bob got them: both heavy; the sum in + out decides
    const [first] = JSON.parse(top.stdout) as Array<{ jid: string; sessions: number }>;
    expect(["alice@localhost", "bob@localhost"]).toContain(first!.jid);
    expect(first!.sessions).toBe(1);
  }, 60_000);

  it("kicks a resource with policy-violation and the reason; a JID with no session is an error", async () => {
    const dave = await RawConnection.open(ts.nodes.at(-1)!.ports.c2s);
    await dave.login("dave", "secret", "d");
    const run = await cli(["kick", "dave@localhost/d", "--reason", "please stop"]);
    expect(run.stdout).toContain("kicked 1 session of dave@localhost/d");
    expect(run.status).toBe(0);
    const closing = await dave.waitFor(/<\/stream:stream>|<stream:error>/);
    await dave.waitClosed().catch(() => {});
    expect(dave.buffer + closing).toMatch(/<policy-violation /);
    expect(dave.buffer + closing).toContain("please stop");

    const none = await cli(["kick", "nobody@localhost"]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("nobody@localhost has no session to kick");
  }, 60_000);

  it("bans: kicked, refused at login with account-disabled on every node until unbanned", async () => {
    const carol = await RawConnection.open(ts.nodes[0]!.ports.c2s);
    await carol.login("carol", "secret", "c");
    const ban = await cli(["ban", "carol@localhost", "--for", "2h", "--reason", "spam", "--json"]);
    expect(ban.stderr).toBe("");
    const row = JSON.parse(ban.stdout) as { jid: string; until: string; reason: string; kicked: number };
    expect(row).toMatchObject({ jid: "carol@localhost", reason: "spam", kicked: 1 });
    expect(Date.parse(row.until) - Date.now()).toBeGreaterThan(7_100_000);
    await carol.waitClosed();
    for (const node of ts.nodes) {
      const outcome = await plainLogin(node.ports.c2s, "carol", "secret");
      expect(outcome).toMatch(/<account-disabled\/>/);
      expect(outcome).toContain("spam");
      expect(outcome).toContain(row.until);
    }
    // a wrong password learns nothing about the ban
    expect(await plainLogin(ts.nodes[0]!.ports.c2s, "carol", "wrong")).toMatch(/<not-authorized\/>/);

    const unban = await cli(["unban", "carol@localhost"]);
    expect(unban.stdout).toContain("unbanned carol@localhost");
    expect(await plainLogin(ts.nodes[0]!.ports.c2s, "carol", "secret")).toMatch(/<success/);
    const twice = await cli(["unban", "carol@localhost"]);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain("carol@localhost is not banned");
    const unknown = await cli(["ban", "ghost@localhost"]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("no account ghost@localhost");
  }, 60_000);

  it("taps a user live from every node, bodies redacted on request; a user with no session is waited for", async () => {
    const tap = spawnCli(["tap", "dave@localhost", "--json", "--redact-bodies", "--for", "20s"]);
    let out = "";
    let err = "";
    tap.stdout!.on("data", (c) => (out += String(c)));
    tap.stderr!.on("data", (c) => (err += String(c)));
    const exited = new Promise<number | null>((r) => tap.on("close", r));
    await expect.poll(() => err, { timeout: 15_000 }).toContain("dave@localhost has no session now; waiting");
    // the tap's interest reached every node before dave comes
    await expect.poll(() => ts.nodes.every((n) => n.host.tap.isWatched("dave@localhost")), { timeout: 10_000 }).toBe(true);
    const dave = await connect(ts, "dave", { resource: "d2", node: ts.nodes.at(-1) });
    await dave.send(xml("presence"));
    await alice.send(xml("message", { to: "dave@localhost/d2", type: "chat" }, xml("body", {}, "secret words")));
    await dave.send(xml("message", { to: "alice@localhost", type: "chat" }, xml("body", {}, "reply")));
    await dave.waitFor((el) => el.getChildText("body") === "secret words");
    await expect.poll(() => out.split("\n").filter(Boolean).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    tap.kill("SIGINT");
    expect(await exited).toBe(0);
    const events = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { direction: string; node: string; jid: string; size: number; xml: string; time: string });
    const delivered = events.find((e) => e.direction === "out" && e.xml.includes("<message"));
    expect(delivered).toMatchObject({ jid: "dave@localhost/d2", node: ts.nodes.at(-1)!.host.nodeId });
    expect(delivered!.xml).toContain("<body>[12 bytes]</body>");
    expect(delivered!.xml).not.toContain("secret words");
    expect(events.some((e) => e.direction === "in" && e.xml.includes("[5 bytes]"))).toBe(true);
    // the tap stopped: nobody publishes dave's traffic any more
    await expect.poll(() => ts.nodes.some((n) => n.host.tap.isWatched("dave@localhost")), { timeout: 10_000 }).toBe(false);
    await dave.stop();
  }, 60_000);

  it("the HTTP API's tap streams past the HTTP port's upgrade deadline (limits.tlsHandshakeSeconds)", async () => {
    const token = readFileSync(join(ts.dataDir, "admin-token"), "utf8").trim();
    const stop = new AbortController();
    const res = await fetch(`http://127.0.0.1:${ts.server.ports.http}/admin/tap?jid=erin@localhost`, { headers: { authorization: `Bearer ${token}` }, signal: stop.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson");
    let text = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
      } catch {
        // aborted at the end
      }
    })();
    await quietFor(3_000); // longer than the 2 s deadline an idle HTTP connection gets
    const erin = await connect(ts, "erin", { resource: "e", node: ts.nodes.at(-1) });
    await erin.send(xml("presence"));
    await expect.poll(() => text, { timeout: 10_000 }).toContain('"jid":"erin@localhost/e"');
    stop.abort();
    await reading;
    await erin.stop();
  }, 30_000);

  it("lists recent alerts of every node", async () => {
    ts.nodes.at(-1)!.host.alerts.raise({ rule: "test-rule", subject: "bob@localhost", message: "raised by the test" });
    const run = await cli(["alerts", "--json"]);
    expect(run.status).toBe(0);
    const alerts = JSON.parse(run.stdout) as Array<{ rule: string; node: string; subject: string }>;
    expect(alerts).toContainEqual(expect.objectContaining({ rule: "test-rule", subject: "bob@localhost", node: ts.nodes.at(-1)!.host.nodeId }));
  }, 30_000);
});

describe("admin commands: bad input", () => {
  it("a malformed duration or JID is a usage error (exit 2) before any server is asked", async () => {
    const duration = await cli(["ban", "bob@localhost", "--for", "ten minutes"]);
    expect(duration.status).toBe(2);
    expect(duration.stderr).toContain("--for must be a duration");
    const jid = await cli(["kick", "bob@elsewhere.example"]);
    expect(jid.status).toBe(2);
    expect(jid.stderr).toContain('domain "elsewhere.example" is not the configured domain "localhost"');
    const by = await cli(["top", "--by", "cpu"]);
    expect(by.status).toBe(2);
  }, 30_000);

  it("an unreachable server is one clear line and exit 1", async () => {
    const env: Record<string, string> = ts.mode === "cluster" ? { SWITCHBOARD_NATS_URL: "nats://127.0.0.1:1" } : { SWITCHBOARD_HTTP_PORT: "1" };
    const run = await cli(["sessions"], env);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/cannot reach/);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  }, 30_000);

  it.skipIf(process.env.SB_TEST_MODE === "cluster")("the HTTP admin API refuses a missing or wrong token", async () => {
    const wrong = await cli(["sessions"], { SWITCHBOARD_ADMIN_TOKEN: "not-the-token" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("wrong admin token");
    const elsewhere = mkdtempSync(join(tmpdir(), "sb-no-token-"));
    const missing = await cli(["sessions"], { SWITCHBOARD_DATA_DIR: elsewhere });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no admin token: ${join(elsewhere, "admin-token")} (admin.tokenFile) does not exist`);
    const res = await fetch(`http://127.0.0.1:${ts.server.ports.http}/admin/sessions`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toContain("admin token");
  }, 30_000);
});
