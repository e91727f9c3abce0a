/**
 * Smoke run of every load scenario against a real embedded Switchboard, so the load generator
 * (its SCRAM client, STARTTLS, binding, pacing and counting) never rots unnoticed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadClient, LoadClientError, runScenario, type ChatResult, type IdleResult, type StormResult, type Target } from "../../packages/bench/src/index.js";
import { startTestServer, type TestServer } from "../support/server.js";

const USERS = 30;
let ts: TestServer;
let target: Target;

beforeAll(async () => {
  ts = await startTestServer({}, { mode: "embedded" });
  for (let i = 0; i < USERS; i++) await ts.addUser(`load${i}`, "secret");
  target = {
    name: "switchboard",
    endpoints: [{ host: "127.0.0.1", port: ts.server.ports.c2s }],
    domain: ts.domain,
    userPrefix: "load",
    password: "secret",
    serverPids: [process.pid],
  };
}, 30_000);

afterAll(async () => {
  await ts?.stop();
});

describe("load client", () => {
  it("logs in over STARTTLS with SCRAM-SHA-1 and gets a full JID", async () => {
    const client = await LoadClient.connect({ host: "127.0.0.1", port: ts.server.ports.c2s, domain: ts.domain, username: "load0", password: "secret", resource: "r1" });
    expect(client.jid).toBe("load0@localhost/r1");
    await client.close();
  });

  it("with stream management, takes a stanza that comes between bind and <enabled/> without failing or counting it", async () => {
    const opts = { host: "127.0.0.1", port: ts.server.ports.c2s, domain: ts.domain, username: "load1", password: "secret", resource: "sm", streamManagement: "resume" as const };
    const first = await LoadClient.connect(opts);
    first.drop(); // detached: what is sent to it now waits in its queue
    const sender = await LoadClient.connect({ ...opts, username: "load2", resource: "s", streamManagement: undefined });
    await new Promise((r) => setTimeout(r, 200));
    sender.sendChat("load1@localhost/sm", "waiting");
    await new Promise((r) => setTimeout(r, 200));
    // a new bind of the resource ends the detached session: its queue is routed to the new
    // stream at once, often before <enabled/> is out
    const bodies: string[] = [];
    const closed: string[] = [];
    const second = await LoadClient.connect({ ...opts, onStanza: (el) => void bodies.push(el.getChildText("body") ?? ""), onClose: (err) => void closed.push(err.kind) });
    await expect.poll(() => bodies, { timeout: 5000 }).toContain("waiting");
    // counting started at <enabled/>: after 5 more the server asks for an ack, and an 'h' that
    // counted the early one would be too high (a stream error)
    for (let i = 0; i < 5; i++) sender.sendChat("load1@localhost/sm", `after${i}`);
    await expect.poll(() => bodies, { timeout: 5000 }).toContain("after4");
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toEqual([]);
    for (const c of [second, sender]) await c.close();
  });

  it("reports a wrong password as an auth failure", async () => {
    const attempt = LoadClient.connect({ host: "127.0.0.1", port: ts.server.ports.c2s, domain: ts.domain, username: "load1", password: "wrong" });
    await expect(attempt).rejects.toMatchObject({ name: "LoadClientError", kind: "auth" });
  });

  it("reports a refused connection as a connect failure", async () => {
    const err = await LoadClient.connect({ host: "127.0.0.1", port: 1, domain: ts.domain, username: "load0", password: "secret" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoadClientError);
    expect((err as LoadClientError).kind).toBe("connect");
  });
});

describe("scenarios", () => {
  it("refuses a target that is not on loopback", () => {
    expect(() => runScenario({ ...target, endpoints: [{ host: "10.1.2.3", port: 5222 }] }, { scenario: "storm", clients: 1, concurrency: 1, timeoutSeconds: 1 })).toThrow(/loopback/);
  });

  it("idle: holds 20 connections and measures the server's RSS", async () => {
    const r = (await runScenario(target, { scenario: "idle", connections: 20, rampPerSecond: 200, holdSeconds: 0.2 })) as IdleResult;
    expect(r.failures).toEqual({});
    expect(r.online).toBe(20);
    expect(r.secondsToOnline).toBeGreaterThan(0);
    expect(r.rssBeforeBytes).toBeGreaterThan(0);
    expect(Number.isFinite(r.bytesPerConnection)).toBe(true);
  }, 20_000);

  it("storm: 30 clients all log in", async () => {
    const r = (await runScenario(target, { scenario: "storm", clients: 30, concurrency: 10, timeoutSeconds: 15 })) as StormResult;
    expect(r.failures).toEqual({});
    expect(r.succeeded).toBe(30);
    expect(r.loginsPerSecond).toBeGreaterThan(0);
    expect(r.secondsUntilAllOnline).toBeGreaterThan(0);
    // the server runs in this process here: 30 TLS logins cost it measurable CPU
    expect(r.serverCpuMsPerLogin).toBeGreaterThan(0);
  }, 20_000);

  it("chat: 10 users deliver at 200 msg/s with measured latencies", async () => {
    const r = (await runScenario(target, { scenario: "chat", users: 10, rates: [200], stepSeconds: 2 })) as ChatResult;
    expect(r.failures).toEqual({});
    expect(r.steps).toHaveLength(1);
    const step = r.steps[0]!;
    expect(step.sentPerSecond).toBeGreaterThan(150);
    expect(step.deliveredPerSecond).toBeGreaterThanOrEqual(0.95 * step.sentPerSecond);
    expect(step.lost).toBeLessThanOrEqual(0.05 * step.sentPerSecond * 2);
    expect(step.latencyMs.p50).toBeGreaterThan(0);
    expect(step.latencyMs.p99).toBeGreaterThanOrEqual(step.latencyMs.p50);
    expect(step.latencyMs.max).toBeGreaterThanOrEqual(step.latencyMs.p99);
    expect(r.saturationPerSecond).toBe(step.deliveredPerSecond);
    // read from /proc around the step (the server is this process here)
    expect(step.serverCpuUsPerMessage).toBeGreaterThan(0);
  }, 20_000);

  it("stops on abort and closes what it opened", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop now")), 300);
    const started = Date.now();
    await expect(runScenario(target, { scenario: "idle", connections: 10, rampPerSecond: 100, holdSeconds: 60 }, { signal: controller.signal })).rejects.toThrow("stop now");
    expect(Date.now() - started).toBeLessThan(5000);
  }, 10_000);
});
