/**
 * Issue 10 item 2, "cheaper logins": what one cluster login costs Redis, counted on Redis itself
 * (a redis-server used by nothing else, like hot-path.test.ts), so nothing in the process can hide
 * a call. A login here is what a real client does after a reconnect: connect, STARTTLS, SCRAM,
 * bind, roster get, blocklist get, initial presence — for a user with contacts online on this
 * edge and on the other one.
 *
 * What is counted: commands clients sent (MONITOR, minus what Lua scripts run inside Redis, which
 * is part of the one command that ran them), in two parts: the login's own reads and writes
 * (store and session registry: the budget) and the limiter's (the failed-login check per IP and
 * the per-user stanza and byte rate leases, redis/limiter: printed, owned by the limits work).
 * What is not: the nodes' background work, recognised by its keys — heartbeats and liveness
 * sweeps (node keys, the node set), the sweep of expired stream-management sessions
 * (`sm:detached`) and of MUC workers (`…:workers`), the PING that measures Redis' latency.
 * The breakdown of all three, and INFO commandstats' delta, is printed so a change shows where
 * it went.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { RosterItem } from "@switchboard/core";
import { connect, xml, type Element, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** the login budget of issue 10: account + ban, registry write, roster, blocklist, presence */
const MAX_LOGIN_COMMANDS = 5;

let ts: TestServer;
let redis: Redis;
const online: TestClient[] = [];

interface Seen {
  command: string;
  keys: string;
}

/**
 * Timers every node runs whatever its clients do: liveness heartbeats and sweeps
 * (redis/registry/liveness.ts: node keys and the node set only), the deadline sweep of detached
 * stream-management sessions (redis/resumption), the MUC worker sweep (redis/muc) and the
 * Redis round-trip probe (server/backends.ts: a PING every 5 s).
 */
function isBackground(seen: Seen): boolean {
  if (seen.command === "ping") return true;
  if (/:node:\{[^}]*\}:sessions/.test(seen.keys)) return false; // the login's own index write
  return /:node:\{[^}]*\}:(alive|purge|epoch)|:nodes\b|:sm:detached\b|:workers\b/.test(seen.keys);
}

/** the limiter's buckets (redis/limiter/keys: `<prefix>:{<key>}:limit:<policy>`) */
function isLimiter(seen: Seen): boolean {
  return /:limit:/.test(seen.keys);
}

async function commandStats(): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const stats = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) stats.set(m[1]!, Number(m[2]));
  return stats;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, calls] of after) {
    const d = calls - (before.get(name) ?? 0);
    if (d > 0 && name !== "info" && name !== "monitor") out[name] = d;
  }
  return out;
}

function tally(list: Seen[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) out[s.command] = (out[s.command] ?? 0) + 1;
  return out;
}

/** Runs `body` while MONITOR records what clients send; returns login and background commands. */
async function recorded(body: () => Promise<void>): Promise<{ login: Seen[]; limiter: Seen[]; background: Seen[]; stats: Record<string, number> }> {
  const monitor = await redis.monitor();
  const seen: Seen[] = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (source === "lua") return; // run by a script: part of its EVALSHA
    const [command = "", ...rest] = args;
    seen.push({ command: command.toLowerCase(), keys: rest.join(" ") });
  });
  const before = await commandStats();
  await body();
  // what the login's last writes set off reaches Redis within a beat; a quiet moment catches it
  await new Promise((r) => setTimeout(r, 1_500));
  const stats = delta(before, await commandStats());
  monitor.disconnect();
  const ours = seen.filter((s) => !isBackground(s) && s.command !== "info");
  return { login: ours.filter((s) => !isLimiter(s)), limiter: ours.filter(isLimiter), background: seen.filter(isBackground), stats };
}

async function login(local: string, node: number): Promise<TestClient> {
  const c = await connect(ts, local, { resource: "phone", node: ts.nodes[node], resumable: false });
  await c.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
  await c.iq(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
  await c.send(xml("presence"));
  return c;
}

function contact(jid: string): RosterItem {
  return { jid, groups: [], subscription: "both", askOut: false, askIn: false, approved: false, inRoster: true };
}

beforeAll(async () => {
  ts = await startTestServer({}, { mode: "cluster", localBackends: true });
  redis = new Redis(ts.backends!.redisUrl);
  const store = ts.server.host.store;
  const contacts = ["bob", "carol", "dave", "erin"];
  for (const u of ["alice", ...contacts]) await ts.addUser(u);
  for (const u of contacts) {
    await store.roster.put("alice@localhost", contact(`${u}@localhost`));
    await store.roster.put(`${u}@localhost`, contact("alice@localhost"));
  }
  // two contacts online on alice's edge, two on the other one
  for (const [u, node] of [["bob", 0], ["carol", 0], ["dave", 1], ["erin", 1]] as const) {
    const c = await connect(ts, u, { resource: "r", node: ts.nodes[node], resumable: false });
    await c.send(xml("presence"));
    online.push(c);
  }
  // a first login of alice warms what any edge keeps between logins (scripts loaded, leases)
  const first = await login("alice", 0);
  await first.waitFor((el) => el.name === "presence" && el.attrs.from === "erin@localhost/r", 10_000);
  await first.stop();
  await new Promise((r) => setTimeout(r, 1_000));
}, 60_000);

afterAll(async () => {
  for (const c of online) await c.stop();
  redis?.disconnect();
  await ts?.stop();
});

const CONTACTS = ["bob", "carol", "dave", "erin"];

/** One login of alice on edge 0, recorded; prints the breakdown under `label`. */
async function measuredLogin(label: string): Promise<Seen[]> {
  let alice: TestClient | undefined;
  for (const c of online) c.received.length = 0;
  const { login: used, limiter, background, stats } = await recorded(async () => {
    alice = await login("alice", 0);
    // the login is over once the contacts' presence reached alice and hers reached them
    for (const from of CONTACTS) {
      await alice.waitFor((el) => el.name === "presence" && el.attrs.from === `${from}@localhost/r`, 10_000);
    }
    for (const c of online) await c.waitFor((el) => el.name === "presence" && el.attrs.from === "alice@localhost/phone" && el.attrs.type === undefined, 10_000);
  });
  console.log(
    `${label}: ${used.length} Redis commands ${JSON.stringify(tally(used))}\n` +
      `  in order: ${used.map((s) => `${s.command} ${s.keys.slice(0, 80)}`).join("\n            ")}\n` +
      `  limiter (not in the budget): ${limiter.length} ${JSON.stringify(tally(limiter))}\n` +
      `  background meanwhile (not counted): ${background.length} ${JSON.stringify(tally(background))}\n` +
      `  commandstats delta (scripts' inner commands included): ${JSON.stringify(stats)}`,
  );
  await alice?.stop();
  // the logout's own writes (unavailable presence, unbind, last activity) must not reach the next measurement
  await new Promise((r) => setTimeout(r, 1_500));
  expect(used.length).toBeGreaterThan(0); // MONITOR saw the login at all
  return used;
}

it(`a cluster login costs at most ${MAX_LOGIN_COMMANDS} Redis commands`, async () => {
  const used = await measuredLogin("login cost");
  expect(used.length).toBeLessThanOrEqual(MAX_LOGIN_COMMANDS);
}, 60_000);

it("on an edge that knows none of the user's contacts yet (its session cache dropped, as after a restart), each contact's sessions are read once more, nothing else", async () => {
  (ts.nodes[0]!.host.registry as unknown as { clear(): void }).clear();
  const used = await measuredLogin("login cost, cold session cache");
  const contactReads = used.filter((s) => s.command === "hvals" && CONTACTS.some((c) => s.keys.includes(`{${c}@localhost}:sessions`)));
  expect(contactReads.length).toBeLessThanOrEqual(CONTACTS.length);
  expect(used.length - contactReads.length).toBeLessThanOrEqual(MAX_LOGIN_COMMANDS);
}, 60_000);

it("with interest kept by each session, not in the registry, list pushes reach exactly the resources that fetched the list, on either edge", async () => {
  await ts.addUser("frank");
  const [phone, tablet, laptop, bot] = await Promise.all(
    (["phone", "tablet", "laptop", "bot"] as const).map((resource, i) => connect(ts, "frank", { resource, node: ts.nodes[i < 2 ? 0 : 1], resumable: false })),
  );
  try {
    const rosterGet = () => xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" }));
    await phone!.iq(rosterGet());
    await laptop!.iq(rosterGet());
    await laptop!.iq(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })));
    const isPush = (ns: string) => (el: Element) =>
      el.name === "iq" && el.attrs.type === "set" && (el.getChild("query", ns) !== undefined || el.getChild("block", ns) !== undefined);
    await phone!.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "zed@localhost", name: "Zed" }))));
    await phone!.waitFor(isPush("jabber:iq:roster"), 10_000); // this edge, interested
    await laptop!.waitFor(isPush("jabber:iq:roster"), 10_000); // the other edge, interested
    await phone!.iq(xml("iq", { type: "set" }, xml("block", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "spam@localhost" }))));
    await laptop!.waitFor(isPush("urn:xmpp:blocking"), 10_000);
    // neither the stream beside the writer nor the one on the other edge asked for either list
    await tablet!.expectNone(isPush("jabber:iq:roster"), 500);
    await bot!.expectNone(isPush("jabber:iq:roster"), 500);
    await bot!.expectNone(isPush("urn:xmpp:blocking"), 10);
    await phone!.expectNone(isPush("urn:xmpp:blocking"), 10);
  } finally {
    for (const c of [phone, tablet, laptop, bot]) await c?.stop();
  }
}, 60_000);
