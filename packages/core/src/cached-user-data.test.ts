import { describe, expect, it } from "vitest";
import { cacheUserData } from "./cached-user-data.js";
import { MemoryStanzaBus } from "./memory/bus.js";
import { MemoryStore } from "./memory/store.js";
import { silentLogger } from "./logger.js";
import type { BlockStore, LoginRecord, RosterItem, RosterStore, Store } from "./ports.js";

const item = (jid: string, subscription: RosterItem["subscription"] = "both"): RosterItem => ({ jid, groups: ["g"], subscription, askOut: false, askIn: false, approved: false, inRoster: true });

/** A shared store that counts what reaches it (Redis commands in cluster mode), with a one-step login read. */
class CountingStore extends MemoryStore {
  reads = 0;
  constructor() {
    super();
    const roster = this.roster;
    const blocklist = this.blocklist;
    const writable = this as { roster: RosterStore; blocklist: BlockStore };
    writable.roster = { ...bind(roster), list: (o) => (this.reads++, roster.list(o)), version: (o) => (this.reads++, roster.version(o)) };
    writable.blocklist = { ...bind(blocklist), list: (o) => (this.reads++, blocklist.list(o)) };
  }
  slowLogin?: Promise<void>;
  async readLogin(bare: string): Promise<LoginRecord> {
    const before = this.reads;
    const record: LoginRecord = {
      credentials: await this.accounts.get(bare),
      ban: await this.bans.get(bare),
      roster: { version: await this.roster.version(bare), items: await this.roster.list(bare) },
      blocklist: await this.blocklist.list(bare),
    };
    this.reads = before + 1; // in Redis, one script
    await this.slowLogin;
    return record;
  }
}
function bind<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = o;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const v = (o as Record<string, unknown>)[key];
      if (key !== "constructor" && !(key in out)) out[key] = typeof v === "function" ? (v as () => unknown).bind(o) : v;
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return out as T;
}

function twoNodes(inner: Store = new CountingStore()) {
  const bus = new MemoryStanzaBus();
  return { inner: inner as CountingStore, a: cacheUserData(inner, bus, "a", silentLogger), b: cacheUserData(inner, bus, "b", silentLogger) };
}

describe("cacheUserData", () => {
  it("reads a roster once per node, and a change on one node reaches the other's next read", async () => {
    const { inner, a, b } = twoNodes();
    await a.roster.put("alice@x", item("bob@x"));
    for (let i = 0; i < 10; i++) {
      expect((await a.roster.get("alice@x", "bob@x"))?.subscription).toBe("both");
      expect(await b.roster.list("alice@x")).toHaveLength(1);
    }
    expect(inner.reads).toBe(4); // list and version, once on each node
    await a.roster.put("alice@x", item("bob@x", "to"));
    expect((await b.roster.get("alice@x", "bob@x"))?.subscription).toBe("to");
    expect(await b.roster.version("alice@x")).toBe(2);
    await b.roster.remove("alice@x", "bob@x");
    expect(await a.roster.list("alice@x")).toEqual([]);
  });

  it("a login's read seeds roster and blocklist, so the login's own reads cost nothing", async () => {
    const { inner, a } = twoNodes();
    await a.roster.put("alice@x", item("bob@x"));
    await a.blocklist.add("alice@x", ["mallory@x"]);
    inner.reads = 0;
    const record = await a.readLogin!("alice@x");
    expect(record.roster.items.map((i) => i.jid)).toEqual(["bob@x"]);
    expect(record.blocklist).toEqual(["mallory@x"]);
    expect(await a.roster.version("alice@x")).toBe(1);
    expect(await a.roster.list("alice@x")).toHaveLength(1);
    expect(await a.blocklist.list("alice@x")).toEqual(["mallory@x"]);
    expect(inner.reads).toBe(1);
  });

  it("does not keep a login's read when the roster changed on another node meanwhile", async () => {
    const { inner, a, b } = twoNodes();
    let release!: () => void;
    inner.slowLogin = new Promise((r) => (release = r));
    const login = a.readLogin!("alice@x"); // reads an empty roster, answers late
    await new Promise((r) => setTimeout(r, 5));
    await b.roster.put("alice@x", item("bob@x"));
    release();
    expect((await login).roster.items).toEqual([]);
    expect((await a.roster.list("alice@x")).map((i) => i.jid)).toEqual(["bob@x"]);
  });

  it("drops a deleted account's lists on every node", async () => {
    const { a, b } = twoNodes();
    await a.accounts.create("alice@x", { salt: "", iterations: 1, storedKey: "", serverKey: "" } as never);
    await a.blocklist.add("alice@x", ["mallory@x"]);
    expect(await b.blocklist.list("alice@x")).toEqual(["mallory@x"]);
    await a.accounts.delete("alice@x");
    expect(await b.blocklist.list("alice@x")).toEqual([]);
  });

  it("returns copies that callers may change", async () => {
    const { a } = twoNodes();
    await a.roster.put("alice@x", item("bob@x"));
    (await a.roster.list("alice@x"))[0]!.groups.push("changed");
    expect((await a.roster.get("alice@x", "bob@x"))?.groups).toEqual(["g"]);
  });
});
