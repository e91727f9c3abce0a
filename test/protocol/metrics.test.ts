/**
 * GET /metrics (docs/observability.md): Prometheus text from the OpenTelemetry metrics of a
 * running server, checked by Prometheus' own parser (promtool) and for the values real
 * traffic must have moved; refused to clients outside metrics.allowCidrs.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const PROMTOOL = "/usr/bin/promtool";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("alice");
  await ts.addUser("bob");
  await ts.addUser("carol");
});
afterAll(async () => ts?.stop());

const url = (server = ts.server) => `http://127.0.0.1:${server.ports.http}/metrics`;

/** `name{labels}` → value, from exposition text */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

function sum(all: Map<string, number>, name: string, ...labels: string[]): number {
  let total = 0;
  for (const [series, value] of all) {
    const [n, rest = ""] = series.split("{");
    if (n === name && labels.every((l) => rest.includes(l))) total += value;
  }
  return total;
}

describe("GET /metrics", () => {
  it("serves Prometheus text that counts logins, sessions, connections, stanzas, bytes and routing", async () => {
    const alice = await connect(ts, "alice", { resource: "a", node: ts.server });
    const bob = await connect(ts, "bob", { resource: "b", node: ts.server });
    await expect(connect(ts, "bob", { password: "wrong", node: ts.server })).rejects.toThrow();
    await alice.send(xml("message", { to: "bob@localhost/b", type: "chat" }, xml("body", {}, "counted")));
    await bob.waitFor((el) => el.getChildText("body") === "counted");
    // carol has no session: stored offline, then delivered when she comes
    await alice.send(xml("message", { to: "carol@localhost", type: "chat" }, xml("body", {}, "kept")));
    await expect.poll(async () => sum(samples(await (await fetch(url())).text()), "switchboard_offline_messages_total", 'event="stored"'), { timeout: 5_000 }).toBe(1);
    const carol = await connect(ts, "carol", { node: ts.server });
    await carol.send(xml("presence"));
    await carol.waitFor((el) => el.getChildText("body") === "kept");
    // counted once the store removed it, a moment after the client has it
    await expect.poll(async () => sum(samples(await (await fetch(url())).text()), "switchboard_offline_messages_total", 'event="delivered"'), { timeout: 5_000 }).toBe(1);
    await carol.stop();

    const res = await fetch(url());
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const all = samples(text);
    expect(sum(all, "switchboard_logins_total", 'result="ok"')).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^switchboard_muc_rooms \d+/m);
    if (ts.mode === "cluster") expect(text).toMatch(/^switchboard_bus_buffered_bytes 0$/m);
    expect(sum(all, "switchboard_logins_total", 'result="failed"', 'reason="not-authorized"')).toBe(1);
    expect(sum(all, "switchboard_sessions", 'state="active"')).toBe(2);
    // the refused login's connection closes a moment after its failure
    await expect.poll(async () => sum(samples(await (await fetch(url())).text()), "switchboard_connections", 'transport="tcp"'), { timeout: 5_000 }).toBe(2);
    expect(sum(all, "switchboard_connections_opened_total", 'transport="tcp"')).toBe(4);
    expect(sum(all, "switchboard_stanzas_total", 'direction="in"', 'kind="message"')).toBeGreaterThanOrEqual(1);
    expect(sum(all, "switchboard_stanzas_total", 'direction="out"', 'kind="message"')).toBeGreaterThanOrEqual(1);
    expect(sum(all, "switchboard_bytes_total", 'direction="in"')).toBeGreaterThan(50);
    expect(sum(all, "switchboard_bytes_total", 'direction="out"')).toBeGreaterThan(50);
    expect(sum(all, "switchboard_routing_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(sum(all, "switchboard_process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
    expect(text).toMatch(/^# HELP switchboard_event_loop_lag_seconds /m);
    // the node is on every series, as the resource's target_info
    expect(text).toContain(`service_instance_id="${ts.server.host.nodeId}"`);

    await Promise.all([alice.stop(), bob.stop()]);
    await expect.poll(async () => sum(samples(await (await fetch(url())).text()), "switchboard_connections", 'transport="tcp"'), { timeout: 5_000 }).toBe(0);
  });

  it.skipIf(!existsSync(PROMTOOL))(`is accepted by Prometheus' own parser (${PROMTOOL} check metrics)`, async () => {
    const text = await (await fetch(url())).text();
    // exits non-zero on a parse error or a lint problem, printing it
    const out = execFileSync(PROMTOOL, ["check", "metrics"], { input: text, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    expect(out).toBe("");
  });

  it("answers HEAD without a body and refuses other methods", async () => {
    const head = await fetch(url(), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    const post = await fetch(url(), { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });
});

/** one GET on a fresh connection (no pooled keep-alive socket from a server stopped before) */
function getStatus(target: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(target, { agent: false, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
  });
}

describe("metrics.allowCidrs", () => {
  it("refuses a client outside the list with 403 naming the address", async () => {
    const only10 = await startTestServer({ metrics: { allowCidrs: ["10.0.0.0/8"] } }, { mode: "embedded" });
    try {
      const res = await getStatus(url(only10.server));
      expect(res.status).toBe(403);
      expect(res.body).toBe("forbidden: 127.0.0.1 is not in metrics.allowCidrs\n");
      // the rest of the HTTP port is unaffected
      expect((await getStatus(`http://127.0.0.1:${only10.server.ports.http}/healthz`)).status).toBe(200);
    } finally {
      await only10.stop();
    }
  });

  it("behind a trusted proxy checks the address the proxy names, not the proxy's own", async () => {
    const proxied = await startTestServer({ http: { port: 0, trustForwardedFor: true } }, { mode: "embedded" });
    try {
      const publicClient = await getStatus(url(proxied.server), { "x-forwarded-for": "203.0.113.9" });
      expect(publicClient.status).toBe(403);
      expect(publicClient.body).toContain("203.0.113.9");
      const inCluster = await getStatus(url(proxied.server), { "x-forwarded-for": "10.1.2.3" });
      expect(inCluster.status).toBe(200);
    } finally {
      await proxied.stop();
    }
  });
});
