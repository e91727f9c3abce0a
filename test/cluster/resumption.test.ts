/**
 * Stream management across edges on real processes (two `switchboard start --role edge`, one
 * redis-server, one nats-server): a session survives the edge that held it. After kill -9 of
 * that edge it resumes on the other one with every stanza it had not acknowledged and every one
 * sent to it meanwhile — including those in flight to the dead edge, which their senders route
 * again (core bus-ledger.ts) — and nothing it acknowledged is sent again. On SIGTERM the edge
 * turns unready at once, cuts stream-managed connections without closing their streams, closes
 * the others with <system-shutdown/>, and exits within shutdown.drainSeconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deriveCredentials } from "@switchboard/sasl";
import { RedisStore } from "@switchboard/redis";
import { Redis } from "ioredis";
import { startBackends, type TestBackends } from "../support/backends.js";
import { EdgeProcess } from "../support/edge-process.js";
import { RawConnection } from "../support/raw.js";

let backends: TestBackends;
let edges: EdgeProcess[] = [];
let redis: Redis;
const open: RawConnection[] = [];

beforeAll(async () => {
  backends = await startBackends({ local: true });
  redis = new Redis(backends.redisUrl, { maxRetriesPerRequest: 1 });
  const store = new RedisStore(redis, { prefix: backends.prefix });
  for (const u of ["alice", "bob", "carol", "dave", "erin"]) {
    await store.accounts.create(`${u}@localhost`, deriveCredentials("secret", { iterations: 256 }));
  }
  const common = { redisUrl: backends.redisUrl, natsUrl: backends.natsUrl, prefix: backends.prefix, env: { SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: "5" } };
  edges = await Promise.all([EdgeProcess.start({ ...common, nodeId: "edge-a" }), EdgeProcess.start({ ...common, nodeId: "edge-b" })]);
}, 120_000);

afterAll(async () => {
  for (const c of open) c.close();
  for (const e of edges) await e.stop();
  redis?.disconnect();
  await backends?.stop();
});

async function login(edge: EdgeProcess, user: string, resource: string, sm: "resume" | "none" = "resume"): Promise<{ c: RawConnection; id?: string }> {
  const c = await RawConnection.open(edge.ports.c2s);
  open.push(c);
  await c.login(user, "secret", resource);
  if (sm === "none") return { c };
  c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  const id = /id="([^"]+)"/.exec(await c.waitFor(/<enabled [^>]*\/>/))![1];
  c.buffer = "";
  return { c, id };
}

async function resume(edge: EdgeProcess, user: string, id: string, h: number): Promise<RawConnection> {
  const r = await RawConnection.open(edge.ports.c2s);
  open.push(r);
  await r.authenticate(user, "secret");
  r.buffer = "";
  r.write(`<resume xmlns='urn:xmpp:sm:3' h='${h}' previd='${id}'/>`);
  await r.waitFor(/<resumed |<failed /, 10_000);
  if (!/<resumed /.test(r.buffer)) throw new Error(`resumption failed: ${r.buffer}`);
  return r;
}

const bodies = (text: string, prefix: string) => [...text.matchAll(new RegExp(`<body>(${prefix}\\d+)</body>`, "g"))].map((m) => m[1]!);

describe("stream management across edges", () => {
  it("after kill -9 of its edge, a session resumes on the other edge with everything unacknowledged and sent meanwhile", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const { c: alice, id } = await login(a, "alice", "phone");
    const { c: bob } = await login(b, "bob", "desk");
    for (let i = 1; i <= 6; i++) bob.write(`<message to='alice@localhost/phone' type='chat'><body>k${i}</body></message>`);
    await alice.waitFor(/k6</);
    alice.write("<a xmlns='urn:xmpp:sm:3' h='2'/>"); // k1 and k2 handled
    await new Promise((r) => setTimeout(r, 600)); // the ack reaches Redis, k3–k6 are stored
    // the server tells alice it handled 3 of hers: a resumption after the crash must say so too
    for (let i = 1; i <= 3; i++) alice.write(`<message to='bob@localhost/desk' type='chat'><body>from-alice${i}</body></message>`);
    alice.write("<r xmlns='urn:xmpp:sm:3'/>");
    await alice.waitFor(/<a xmlns="urn:xmpp:sm:3" h="3"\/>/);
    await a.kill();
    // sent while the edge is dead and not yet purged (in flight to it, or held for it), then after
    let n = 7;
    const sender = setInterval(() => bob.write(`<message to='alice@localhost/phone' type='chat'><body>k${n++}</body></message>`), 200);
    await new Promise((r) => setTimeout(r, 8000)); // past the purge (≤ 6 s after the death)
    clearInterval(sender);
    bob.write("<r xmlns='urn:xmpp:sm:3'/>");
    const last = n - 1;
    const r = await resume(b, "alice", id!, 2);
    expect(r.buffer).toMatch(/<resumed [^>]*h="3"/);
    await r.waitFor(new RegExp(`<body>k${last}</body>`), 10_000);
    await new Promise((res) => setTimeout(res, 300));
    const got = bodies(r.buffer, "k");
    const expected = Array.from({ length: last - 2 }, (_, i) => `k${i + 3}`);
    for (const body of expected) expect(got, `missing ${body}`).toContain(body);
    expect(got).not.toContain("k1");
    expect(got).not.toContain("k2");
    const duplicates = got.length - new Set(got).size;
    console.log(`kill -9: ${expected.length} stanzas to resend, ${got.length} received after resumption, ${duplicates} duplicates`);
    // the session is alive on edge b: a new message arrives directly
    bob.write("<message to='alice@localhost/phone' type='chat'><body>live</body></message>");
    await r.waitFor(/<body>live<\/body>/);
    await a.launch();
  }, 60_000);

  it("on SIGTERM the edge drains: unready at once, stream-managed clients cut without a stream close, others get <system-shutdown/>", async () => {
    const [a, b] = edges as [EdgeProcess, EdgeProcess];
    const { c: carol, id } = await login(a, "carol", "laptop");
    const { c: dave } = await login(a, "dave", "plain", "none");
    const { c: erin } = await login(b, "erin", "desk");
    erin.write("<message to='carol@localhost/laptop' type='chat'><body>d1</body></message>");
    await carol.waitFor(/<body>d1</).catch(async (err) => {
      const nodes = await redis.smembers(`${backends.prefix}:nodes`);
      const keys = await redis.keys(`${backends.prefix}:node*`);
      throw new Error(`${err.message}\nnodes ${nodes} keys ${keys}\nerin: ${erin.buffer}\nedge a:\n${a.output.slice(-3000)}\nedge b:\n${b.output.slice(-3000)}`);
    });
    const startedAt = Date.now();
    const exit = a.terminate();
    // /readyz turns false at once (or the port is already closed)
    await expect.poll(async () => (await a.readyz()).status, { timeout: 1000, interval: 20 }).not.toBe(200);
    // the server asks for acks before it lets go
    await carol.waitFor(/<r xmlns="urn:xmpp:sm:3"\/>/, 3000);
    carol.write("<a xmlns='urn:xmpp:sm:3' h='1'/>");
    await carol.waitClosed(6000);
    expect(carol.buffer).not.toContain("</stream:stream>");
    expect(carol.buffer).not.toContain("<stream:error");
    await dave.waitFor(/<system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, 6000);
    expect(await exit).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(5000 + 2000);
    erin.write("<message to='carol@localhost/laptop' type='chat'><body>d2</body></message>");
    const r = await resume(b, "carol", id!, 1);
    await r.waitFor(/<body>d2<\/body>/, 5000);
    expect(bodies(r.buffer, "d")).toEqual(["d2"]);
    await a.launch();
  }, 60_000);
});
