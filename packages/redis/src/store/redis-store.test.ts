/**
 * Runs the shared Store contract and Redis-specific behaviour against a real Redis at
 * SWITCHBOARD_TEST_REDIS_URL (default redis://127.0.0.1:6379). When Redis is unreachable this
 * file fails rather than skips: CI starts Redis, and a silently skipped adapter suite is how a
 * broken cluster mode ships. Every store uses a fresh random prefix; all keys are removed after.
 */

import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { fakeCredentials, storeContract } from "../../../../test/contracts/store-contract.js";
import { accountIndexKey, banIndexKey, hashSlot, userKeys } from "./keys.js";
import { openRedisStore, RedisStore } from "./redis-store.js";

const REDIS_URL = process.env.SWITCHBOARD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const RUN_PREFIX = `sbtest-${randomUUID().slice(0, 8)}`;

const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3_000, retryStrategy: () => null });
// Top-level await: an unreachable Redis fails the whole file here.
await client.connect();
await client.ping();

let prefixCounter = 0;
const freshPrefix = () => `${RUN_PREFIX}-${++prefixCounter}`;
const extraClients: Redis[] = [];
function newClient(): Redis {
  const extra = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  extraClients.push(extra);
  return extra;
}

afterAll(async () => {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${RUN_PREFIX}*`, "COUNT", 1000);
    if (keys.length > 0) await client.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
  await Promise.all(extraClients.map((extra) => extra.quit()));
  await client.quit();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return found.sort();
}

const ALICE = "alice@example.com";
const rosterItem = (jid: string) => ({
  jid,
  groups: [],
  subscription: "none" as const,
  askOut: false,
  askIn: false,
  approved: false,
  inRoster: true,
});

storeContract("RedisStore (shared client)", () => new RedisStore(client, { prefix: freshPrefix() }));

describe("RedisStore key layout", () => {
  it("computes Redis Cluster hash slots like CLUSTER KEYSLOT", () => {
    // Reference values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(hashSlot("123456789")).toBe(0x31c3);
    expect(hashSlot("foo")).toBe(12182);
    expect(hashSlot("bar")).toBe(5061);
    expect(hashSlot("{user1000}.following")).toBe(hashSlot("user1000"));
    expect(hashSlot("foo{}{bar}")).not.toBe(hashSlot("bar"));
    expect(hashSlot("foo{{bar}}zap")).toBe(hashSlot("{bar"));
  });

  it("puts every key of a user in one hash slot tagged with the bare JID; only the indexes are global", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    const users = [ALICE, "we{ir}d@example.com"];
    for (const bare of users) {
      await store.accounts.create(bare, fakeCredentials(bare));
      await store.roster.put(bare, rosterItem("bob@example.com"));
      await store.offline.push(bare, "<message/>", 10);
      await store.vcard.set(bare, "<vCard xmlns='vcard-temp'/>");
      await store.blocklist.add(bare, ["spam@example.net"]);
      await store.lastActivity.set(bare, Date.now(), "gone");
      await store.privateXml.set(bare, [{ namespace: "storage:bookmarks", xml: "<storage xmlns='storage:bookmarks'/>" }], 10);
      await store.bans.set({ jid: bare, since: Date.now() });
      await store.push.put(bare, { jid: "push.example.net", node: "n" }, 10);
      await store.fastTokens.swap(bare, "agent", undefined, { current: { sealed: "x", mechanism: "HT-SHA-256-NONE", expiry: Date.now() + 60_000, count: 0 } });
      await store.pep.create(bare, "urn:xmpp:avatar:metadata", { accessModel: "presence", maxItems: 1, persistItems: true, notifyRetract: true }, 10);
      await store.pep.publish(bare, "urn:xmpp:avatar:metadata", { id: "a", xml: "<metadata xmlns='urn:xmpp:avatar:metadata'/>", publisher: bare, at: 1 }, 1);
      expect(await store.offline.claimDelivery!(bare, 60_000)).toBeDefined();
    }
    const keys = await keysUnder(prefix);
    expect(keys).toHaveLength(2 + 14 * users.length);
    expect(keys).toContain(accountIndexKey(prefix));
    expect(keys).toContain(banIndexKey(prefix));
    for (const bare of users) {
      const own = keys.filter((key) => key.startsWith(`${prefix}:{${bare}}:`));
      expect(own.sort()).toEqual(Object.values(userKeys(prefix, bare)).sort());
      expect(new Set(own.map(hashSlot)).size).toBe(1);
    }
    expect(hashSlot(userKeys(prefix, ALICE).account)).toBe(hashSlot(ALICE));
  });

  it("grants one offline delivery claim per user at a time, renewable and released only by its holder", async () => {
    const prefix = freshPrefix();
    const nodeA = new RedisStore(client, { prefix });
    const nodeB = new RedisStore(client, { prefix });
    const claim = await nodeA.offline.claimDelivery!(ALICE, 60_000);
    expect(claim).toBeDefined();
    expect(await nodeB.offline.claimDelivery!(ALICE, 60_000)).toBeUndefined();
    expect(await nodeB.offline.claimDelivery!("bob@example.com", 60_000)).toBeDefined();
    expect(await claim!.renew()).toBe(true);
    await claim!.release();
    const next = await nodeB.offline.claimDelivery!(ALICE, 150);
    expect(next).toBeDefined();
    // the first holder's late release must not free the new holder's claim
    await claim!.release();
    expect(await nodeA.offline.claimDelivery!(ALICE, 60_000)).toBeUndefined();
    // an expired claim can be taken, and its old holder learns on renew that it lost it
    await new Promise((r) => setTimeout(r, 250));
    const taken = await nodeA.offline.claimDelivery!(ALICE, 60_000);
    expect(taken).toBeDefined();
    expect(await next!.renew()).toBe(false);
    await taken!.release();
  });

  it("keeps only the roster version counter after deleting an account", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    await store.accounts.create(ALICE, fakeCredentials("a"));
    await store.roster.put(ALICE, rosterItem("bob@example.com"));
    await store.offline.push(ALICE, "<message/>", 10);
    await store.vcard.set(ALICE, "<vCard xmlns='vcard-temp'/>");
    await store.blocklist.add(ALICE, ["spam@example.net"]);
    await store.lastActivity.set(ALICE, Date.now());
    await store.privateXml.set(ALICE, [{ namespace: "storage:bookmarks", xml: "<storage xmlns='storage:bookmarks'/>" }], 10);
    await store.bans.set({ jid: ALICE, since: Date.now(), until: Date.now() + 60_000 });
    await store.fastTokens.swap(ALICE, "agent", undefined, { current: { sealed: "x", mechanism: "HT-SHA-256-NONE", expiry: Date.now() + 60_000, count: 0 } });
    await store.accounts.delete(ALICE);
    expect(await keysUnder(prefix)).toEqual([userKeys(prefix, ALICE).rosterVersion]);
  });

  it("lists blocked JIDs in blocking order", async () => {
    const store = new RedisStore(client, { prefix: freshPrefix() });
    await store.blocklist.add(ALICE, ["z@x", "a@x"]);
    await store.blocklist.add(ALICE, ["m@x", "z@x"]);
    await store.blocklist.remove(ALICE, ["a@x"]);
    await store.blocklist.add(ALICE, ["a@x"]);
    expect(await store.blocklist.list(ALICE)).toEqual(["z@x", "m@x", "a@x"]);
  });

  it("rejects a prefix that would change the hash tag", () => {
    expect(() => new RedisStore(client, { prefix: "sb{x}" })).toThrow(expect.objectContaining({ name: "InvalidKeyPrefixError" }));
  });
});

describe("RedisStore login read", () => {
  it("reads credentials, ban, roster and blocklist in one command, as the parts would", async () => {
    const store = new RedisStore(client, { prefix: freshPrefix() });
    const bare = "reader@example.com";
    expect(await store.readLogin(bare)).toEqual({ credentials: undefined, ban: undefined, roster: { version: 0, items: [] }, blocklist: [] });
    await store.accounts.create(bare, fakeCredentials("reader"));
    const item = { jid: "bob@example.com", groups: ["Friends"], subscription: "both" as const, askOut: false, askIn: false, approved: false, inRoster: true };
    await store.roster.put(bare, item);
    await store.blocklist.add(bare, ["b@example.com", "a@example.com"]);
    await store.bans.set({ jid: bare, since: 1, reason: "spam" });
    const monitor = await newClient().monitor();
    const sent: string[] = [];
    monitor.on("monitor", (_t: string, args: string[], source: string) => {
      if (source !== "lua" && args.some((a) => a.includes(store.prefix))) sent.push(args[0]!.toLowerCase());
    });
    const record = await store.readLogin(bare);
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    expect(sent).toHaveLength(1);
    expect(record).toEqual({
      credentials: await store.accounts.get(bare),
      ban: await store.bans.get(bare),
      roster: { version: await store.roster.version(bare), items: await store.roster.list(bare) },
      blocklist: await store.blocklist.list(bare),
    });
    expect(record.ban?.reason).toBe("spam");
    expect(await store.roster.snapshot!(bare)).toEqual(record.roster);
    // an ended ban the key still holds reads as none, like BanStore.get
    expect((await store.readLogin(bare, Date.now())).ban).toBeDefined();
    await store.bans.set({ jid: bare, since: 1, until: Date.now() + 60_000 });
    expect((await store.readLogin(bare, Date.now() + 120_000)).ban).toBeUndefined();
  });
});

describe("RedisStore bans", () => {
  it("a temporary ban expires in Redis at its until; a re-ban until unbanned clears the expiry", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    const key = userKeys(prefix, ALICE).ban;
    const until = Date.now() + 60_000;
    await store.bans.set({ jid: ALICE, since: Date.now(), until });
    expect(Number(await client.pexpiretime(key))).toBe(until);
    expect(await client.zscore(banIndexKey(prefix), ALICE)).toBe(String(until));
    await store.bans.set({ jid: ALICE, since: Date.now() });
    expect(await client.pttl(key)).toBe(-1);
    expect(await client.zscore(banIndexKey(prefix), ALICE)).toBe("inf");
  });

  it("forgets a ban Redis expired: get and list read none and list prunes the index", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    await store.bans.set({ jid: ALICE, since: Date.now(), until: Date.now() + 100 });
    await store.bans.set({ jid: "bob@example.com", since: Date.now() });
    expect(await store.bans.get(ALICE)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await client.exists(userKeys(prefix, ALICE).ban)).toBe(0);
    expect(await store.bans.get(ALICE)).toBeUndefined();
    expect((await store.bans.list()).map((ban) => ban.jid)).toEqual(["bob@example.com"]);
    expect(await client.zrange(banIndexKey(prefix), 0, -1)).toEqual(["bob@example.com"]);
  });

  it("a ban set with an until already past is not stored at all", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    await store.bans.set({ jid: ALICE, since: Date.now() - 10_000, until: Date.now() - 1 });
    expect(await client.exists(userKeys(prefix, ALICE).ban)).toBe(0);
    await store.bans.list();
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it("list skips an index entry whose ban key is gone (a crash between the two writes)", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    await client.zadd(banIndexKey(prefix), "+inf", "ghost@example.com");
    await store.bans.set({ jid: ALICE, since: 1 });
    expect(await store.bans.list()).toEqual([{ jid: ALICE, since: 1 }]);
    // An unban of the ghost cleans its entry.
    expect(await store.bans.delete("ghost@example.com")).toBe(false);
    expect(await client.zrange(banIndexKey(prefix), 0, -1)).toEqual([ALICE]);
  });
});

describe("RedisStore atomicity across connections", () => {
  it("50 concurrent pushes from 5 connections with cap 10 store exactly 10", async () => {
    const prefix = freshPrefix();
    const stores = Array.from({ length: 5 }, () => new RedisStore(newClient(), { prefix }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stores[i % 5]!.offline.push(ALICE, `<message id='${i}'/>`, 10)),
    );
    expect(results.filter(Boolean)).toHaveLength(10);
    expect(await stores[0]!.offline.count(ALICE)).toBe(10);
  });

  it("peek and remove running concurrently with pushes lose and duplicate nothing", async () => {
    const prefix = freshPrefix();
    const pusher = new RedisStore(newClient(), { prefix });
    const reader = new RedisStore(newClient(), { prefix });
    const sent = Array.from({ length: 300 }, (_, i) => `<message id='${i}'/>`);
    const delivered: string[] = [];
    const drain = async () => {
      const batch = await reader.offline.peek(ALICE, 7);
      delivered.push(...batch.map((stored) => stored.xml));
      await reader.offline.remove(ALICE, batch.map((stored) => stored.id));
      return batch.length;
    };
    let pushing = true;
    const pushes = (async () => {
      for (const xml of sent) expect(await pusher.offline.push(ALICE, xml, 1_000)).toBe(true);
      pushing = false;
    })();
    const reads = (async () => {
      while (pushing) await drain();
    })();
    await Promise.all([pushes, reads]);
    while ((await drain()) > 0);
    // Exactly the stanzas sent, each once, in arrival order.
    expect(delivered).toEqual(sent);
    expect(await reader.offline.count(ALICE)).toBe(0);
  });
});

describe("RedisStore offline list to stream migration", () => {
  /** The layout of earlier versions: a LIST of stanzas under the same key. */
  async function legacyQueue(prefix: string, stanzas: string[]): Promise<string> {
    const key = userKeys(prefix, ALICE).offline;
    await client.rpush(key, ...stanzas);
    return key;
  }

  it("peek converts a legacy list into a stream, keeping order, and remove then works", async () => {
    const prefix = freshPrefix();
    const key = await legacyQueue(prefix, ["<message id='1'/>", "<message id='2'/>", "<message id='3'/>"]);
    const store = new RedisStore(client, { prefix });
    expect(await store.offline.count(ALICE)).toBe(3);
    const stored = await store.offline.peek(ALICE);
    expect(stored.map((entry) => entry.xml)).toEqual(["<message id='1'/>", "<message id='2'/>", "<message id='3'/>"]);
    expect(await client.type(key)).toBe("stream");
    await store.offline.remove(ALICE, [stored[0]!.id]);
    expect((await store.offline.peek(ALICE)).map((entry) => entry.xml)).toEqual(["<message id='2'/>", "<message id='3'/>"]);
  });

  it("push converts a legacy list, appends after its stanzas and counts them against the cap", async () => {
    const prefix = freshPrefix();
    const key = await legacyQueue(prefix, ["<message id='old1'/>", "<message id='old2'/>"]);
    const store = new RedisStore(client, { prefix });
    expect(await store.offline.push(ALICE, "<message id='new'/>", 3)).toBe(true);
    expect(await client.type(key)).toBe("stream");
    expect(await store.offline.push(ALICE, "<message id='over'/>", 3)).toBe(false);
    expect((await store.offline.peek(ALICE)).map((entry) => entry.xml)).toEqual([
      "<message id='old1'/>",
      "<message id='old2'/>",
      "<message id='new'/>",
    ]);
  });

  it("remove on a not yet migrated list changes nothing instead of failing", async () => {
    const prefix = freshPrefix();
    const key = await legacyQueue(prefix, ["<message id='1'/>"]);
    const store = new RedisStore(client, { prefix });
    await store.offline.remove(ALICE, ["1-0"]);
    expect(await client.lrange(key, 0, -1)).toEqual(["<message id='1'/>"]);
  });

  it("account deletion removes a migrated stream", async () => {
    const prefix = freshPrefix();
    await legacyQueue(prefix, ["<message id='1'/>"]);
    const store = new RedisStore(client, { prefix });
    await store.accounts.create(ALICE, fakeCredentials("a"));
    await store.offline.peek(ALICE);
    await store.accounts.delete(ALICE);
    expect(await keysUnder(prefix)).toEqual([]);
  });
});

describe("RedisStore lifecycle", () => {
  it("keeps data across clients: a store opened later on a new connection sees everything", async () => {
    const prefix = freshPrefix();
    const first = openRedisStore(REDIS_URL, { prefix });
    await first.accounts.create(ALICE, fakeCredentials("a"));
    const version = await first.roster.put(ALICE, rosterItem("bob@example.com"));
    await first.offline.push(ALICE, "<message id='1'/>", 10);
    await first.vcard.set(ALICE, "<vCard xmlns='vcard-temp'/>");
    await first.blocklist.add(ALICE, ["spam@example.net"]);
    await first.close();
    expect(first.client.status).toBe("end");

    const second = openRedisStore(REDIS_URL, { prefix });
    try {
      expect(await second.accounts.get(ALICE)).toEqual(fakeCredentials("a"));
      expect(await second.accounts.list()).toEqual([ALICE]);
      expect(await second.roster.version(ALICE)).toBe(version);
      expect((await second.offline.peek(ALICE)).map((stored) => stored.xml)).toEqual(["<message id='1'/>"]);
      expect(await second.vcard.get(ALICE)).toBe("<vCard xmlns='vcard-temp'/>");
      expect(await second.blocklist.list(ALICE)).toEqual(["spam@example.net"]);
    } finally {
      await second.close();
    }
  });

  it("close() leaves a client it was given connected", async () => {
    const shared = newClient();
    const store = new RedisStore(shared, { prefix: freshPrefix() });
    await store.vcard.set(ALICE, "<vCard/>");
    await store.close();
    expect(await shared.ping()).toBe("PONG");
  });

  it("fails fast with a rejected promise, not a hang or crash, when Redis is unreachable", async () => {
    const errors: Error[] = [];
    const store = openRedisStore("redis://127.0.0.1:1", { prefix: freshPrefix(), onError: (e) => errors.push(e) });
    try {
      const started = Date.now();
      await expect(store.accounts.get(ALICE)).rejects.toBeInstanceOf(Error);
      await expect(store.offline.push(ALICE, "<message/>", 10)).rejects.toBeInstanceOf(Error);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(errors.length).toBeGreaterThan(0);
      expect(await store.checkDurability()).toMatchObject({ aof: false, fsync: "unknown", error: expect.any(String) });
    } finally {
      await store.close();
    }
  });

  it("checkDurability reports the server's appendonly and appendfsync settings", async () => {
    const [, appendonly] = (await client.config("GET", "appendonly")) as string[];
    const [, appendfsync] = (await client.config("GET", "appendfsync")) as string[];
    const report = await new RedisStore(client, { prefix: freshPrefix() }).checkDurability();
    expect(report).toEqual({ aof: appendonly === "yes", fsync: appendfsync });
  });
});

describe("RedisStore bulk import", () => {
  it("createMany imports 10,000 accounts in pipelined batches", async () => {
    const store = new RedisStore(client, { prefix: freshPrefix() });
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      bare: `user${String(i).padStart(5, "0")}@example.com`,
      credentials: fakeCredentials(String(i)),
    }));
    const started = performance.now();
    const results = await store.accounts.createMany(entries);
    const seconds = (performance.now() - started) / 1000;
    console.info(`createMany: ${entries.length} accounts in ${seconds.toFixed(3)} s = ${Math.round(entries.length / seconds)} accounts/s`);
    expect(results.every((result) => result === "created")).toBe(true);
    expect(await store.accounts.list()).toEqual(entries.map((entry) => entry.bare));
    expect(await store.accounts.createMany(entries.slice(0, 600))).toEqual(Array(600).fill("exists"));
  });
});

describe("RedisStore PEP", () => {
  it("keeps a verified caps hash for a month, under a key free of hash-tag braces", async () => {
    const prefix = freshPrefix();
    const store = new RedisStore(client, { prefix });
    await store.pep.capsPut("sha-1 {odd}/ver=", ["urn:x+notify"]);
    const keys = await client.keys(`${prefix}:caps:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toMatch(/[{}]/);
    const ttl = await client.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(29 * 86_400);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400);
    expect(await store.pep.capsGet("sha-1 {odd}/ver=")).toEqual(["urn:x+notify"]);
    await client.del(...keys);
  });
});
