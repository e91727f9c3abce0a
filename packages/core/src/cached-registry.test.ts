import { describe, expect, it } from "vitest";
import { CachedSessionRegistry } from "./cached-registry.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemorySessionRegistry } from "./memory/registry.js";
import { silentLogger } from "./logger.js";
import type { SessionInfo } from "./ports.js";

/** Counts calls that reach the backing registry (Redis round trips in cluster mode). */
class CountingRegistry extends MemorySessionRegistry {
  reads = 0;
  override async list(bare: string): Promise<SessionInfo[]> {
    this.reads++;
    return super.list(bare);
  }
}

const info = (jid: string, nodeId = "a", sessionId = jid): SessionInfo => ({
  jid,
  sessionId,
  nodeId,
  priority: 0,
  available: true,
  interested: false,
  since: 0,
});

function twoNodes(opts = {}) {
  const backing = new CountingRegistry();
  const bus = new MemoryStanzaBus();
  const a = new CachedSessionRegistry(backing, bus, "a", silentLogger, opts);
  const b = new CachedSessionRegistry(backing, bus, "b", silentLogger, opts);
  return { backing, a, b };
}

describe("CachedSessionRegistry", () => {
  it("serves repeated lookups without reaching the backing registry", async () => {
    const { backing, a } = twoNodes();
    await a.bind(info("bob@x/1"));
    for (let i = 0; i < 100; i++) expect((await a.get("bob@x/1"))?.jid).toBe("bob@x/1");
    // the bind itself left the list in a's cache: not one read
    expect(backing.reads).toBe(0);
    expect(a.counters.hits).toBe(100);
  });

  it("keeps the list its own writes return, while the other nodes drop theirs", async () => {
    const { backing, a, b } = twoNodes();
    expect(await b.list("bob@x")).toEqual([]);
    await a.bind(info("bob@x/1"));
    await a.update("bob@x/1", "bob@x/1", { available: true, priority: 3 });
    await a.bind(info("bob@x/2"));
    expect((await a.list("bob@x")).map((s) => [s.jid, s.priority])).toEqual([["bob@x/1", 3], ["bob@x/2", 0]]);
    expect(backing.reads).toBe(1); // b's first read only
    expect(a.counters.writes).toBe(3);
    // b dropped its entry on each of a's writes and reads the user again
    expect((await b.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/1", "bob@x/2"]);
    expect(backing.reads).toBe(2);
    await a.unbind("bob@x/1", "bob@x/1");
    expect((await a.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/2"]);
    expect((await b.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/2"]);
    expect(backing.reads).toBe(3);
  });

  it("does not keep what its write returned when another node wrote the user meanwhile", async () => {
    const { backing, a, b } = twoNodes();
    const slowBind = backing.bindListed.bind(backing);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    backing.bindListed = async (i) => {
      const result = await slowBind(i);
      await gate; // the reply is late: b's write and notice overtake it
      return result;
    };
    const pending = a.bind(info("bob@x/1"));
    await new Promise((r) => setTimeout(r, 5));
    backing.bindListed = slowBind;
    await b.bind(info("bob@x/2", "b"));
    release();
    await pending;
    // a's reply listed only bob@x/1; kept, it would hide b's session from a
    expect((await a.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/1", "bob@x/2"]);
    expect(backing.reads).toBe(1);
  });

  it("drops its entry when a write fails, since it may have applied", async () => {
    const { backing, a } = twoNodes();
    await a.bind(info("bob@x/1"));
    backing.updateListed = async (jid, sessionId, patch) => {
      await backing.update(jid, sessionId, patch);
      throw new Error("reply lost");
    };
    await expect(a.update("bob@x/1", "bob@x/1", { priority: 5 })).rejects.toThrow("reply lost");
    expect((await a.get("bob@x/1"))?.priority).toBe(5);
    expect(backing.reads).toBe(1);
  });

  it("drops another node's entry when a user binds, updates or unbinds", async () => {
    const { a, b } = twoNodes();
    expect(await b.list("bob@x")).toEqual([]);
    await a.bind(info("bob@x/1"));
    expect((await b.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/1"]);
    await a.update("bob@x/1", "bob@x/1", { priority: 7 });
    expect((await b.get("bob@x/1"))?.priority).toBe(7);
    await a.unbind("bob@x/1", "bob@x/1");
    expect(await b.get("bob@x/1")).toBeUndefined();
  });

  it("does not cache a read that raced with an invalidation", async () => {
    const { backing, a, b } = twoNodes();
    const slowList = backing.list.bind(backing);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    backing.list = async (bare) => {
      const result = await slowList(bare);
      await gate;
      return result;
    };
    const pending = b.list("bob@x"); // reads the old state (no sessions)
    await new Promise((r) => setTimeout(r, 5));
    backing.list = slowList;
    await a.bind(info("bob@x/1")); // invalidates while b's read is in flight
    release();
    expect(await pending).toEqual([]);
    expect((await b.list("bob@x")).map((s) => s.jid)).toEqual(["bob@x/1"]);
  });

  it("expires entries after the TTL and flushes on bus reconnect", async () => {
    let t = 0;
    const { backing, a } = twoNodes({ ttlMs: 1000, now: () => t });
    await a.list("bob@x");
    t = 999;
    await a.list("bob@x");
    expect(backing.reads).toBe(1);
    t = 1000;
    await a.list("bob@x");
    expect(backing.reads).toBe(2);
    a.clear();
    await a.list("bob@x");
    expect(backing.reads).toBe(3);
  });

  it("returns copies that callers may change", async () => {
    const { a } = twoNodes();
    await a.bind(info("bob@x/1"));
    const got = (await a.get("bob@x/1"))!;
    got.priority = 99;
    expect((await a.get("bob@x/1"))?.priority).toBe(0);
  });
});
