import { describe, expect, it } from "vitest";
import { InvalidatedCache } from "./invalidated-cache.js";
import { MemoryStanzaBus } from "./memory/bus.js";

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("InvalidatedCache", () => {
  it("shares one load between concurrent reads and serves later ones from memory", async () => {
    let loads = 0;
    const cache = new InvalidatedCache({ load: async (k) => (loads++, `v:${k}`) });
    expect(await Promise.all([cache.get("a"), cache.get("a")])).toEqual(["v:a", "v:a"]);
    expect(await cache.get("a")).toBe("v:a");
    expect(loads).toBe(1);
    expect(cache.counters).toMatchObject({ hits: 1, misses: 2 });
  });

  it("does not cache a value loaded before an invalidation that arrived during the load", async () => {
    const first = deferred<string>();
    let version = 0;
    const cache = new InvalidatedCache({ load: () => (++version === 1 ? first.promise : Promise.resolve("new")) });
    const racing = cache.get("k");
    cache.invalidate("k"); // the writer changed it while we were reading the old value
    first.resolve("old");
    expect(await racing).toBe("old");
    expect(await cache.get("k")).toBe("new");
  });

  it("expires entries after the TTL and drops the oldest past its bound", async () => {
    let t = 0;
    let loads = 0;
    const cache = new InvalidatedCache({ load: async (k) => (loads++, k), ttlMs: 100, maxEntries: 2, now: () => t });
    await cache.get("a");
    t = 150;
    await cache.get("a");
    expect(loads).toBe(2);
    await cache.get("b");
    await cache.get("c");
    expect(cache.size).toBe(2);
    expect(cache.peek("a")).toBeUndefined();
  });

  it("past its bound, spares an entry read since it was placed once, and drops one never read", async () => {
    const cache = new InvalidatedCache({ load: async (k: string) => k, maxEntries: 3 });
    for (const k of ["a", "b", "c"]) await cache.get(k);
    expect(cache.peek("a")).toBe("a"); // a is the oldest, but read
    await cache.get("d"); // b goes: the oldest never read
    expect([cache.peek("b"), cache.peek("a"), cache.peek("c"), cache.peek("d")]).toEqual([undefined, "a", "c", "d"]);
    // every entry read: each gets one second chance, then the oldest goes anyway
    await cache.get("e");
    expect(cache.size).toBe(3);
    expect(cache.peek("e")).toBe("e");
  });

  it("follows invalidation notices on the bus, ignoring malformed ones", async () => {
    const bus = new MemoryStanzaBus();
    let loads = 0;
    const cache = new InvalidatedCache({ load: async (k) => (loads++, k) });
    const off = cache.follow(bus, "registry.invalidate", (m) => m.bares);
    await cache.get("a@x");
    await bus.publishControl({ type: "registry.invalidate", origin: "n2", bares: ["a@x"] });
    await bus.publishControl({ type: "registry.invalidate", origin: "n2", bares: 5 } as never);
    await cache.get("a@x");
    expect(loads).toBe(2);
    off();
    await bus.publishControl({ type: "registry.invalidate", origin: "n2", bares: ["a@x"] });
    await cache.get("a@x");
    expect(loads).toBe(2);
  });
});
