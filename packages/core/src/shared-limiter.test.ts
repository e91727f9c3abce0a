import { describe, expect, it } from "vitest";
import { MemoryStanzaBus } from "./memory/bus.js";
import { silentLogger } from "./logger.js";
import { SharedLimiter } from "./shared-limiter.js";

function cluster(n: number, now = () => 0) {
  const bus = new MemoryStanzaBus();
  const nodes = Array.from({ length: n }, (_, i) => new SharedLimiter(bus, `node-${i}`, silentLogger, now));
  for (const node of nodes) {
    node.define("auth", { limit: 3, intervalMs: 60_000, keyedBy: "ip", scope: "cluster" });
    node.define("stanzas", { limit: 3, intervalMs: 60_000, keyedBy: "bare" });
  }
  return { bus, nodes };
}

// MemoryStanzaBus delivers control notices before publishControl's promise settles
const settle = () => new Promise((r) => setImmediate(r));

describe("SharedLimiter", () => {
  it("counts a key's hits on every node against one allowance for cluster-scoped policies", async () => {
    const { nodes } = cluster(3);
    const [a, b, c] = nodes as [SharedLimiter, SharedLimiter, SharedLimiter];
    expect(a.hit("auth", "198.51.100.7").allowed).toBe(true);
    expect(b.hit("auth", "198.51.100.7").allowed).toBe(true);
    await settle();
    expect(c.peek("auth", "198.51.100.7").remaining).toBe(1);
    expect(c.hit("auth", "198.51.100.7").allowed).toBe(true);
    await settle();
    for (const node of nodes) expect(node.hit("auth", "198.51.100.7").allowed).toBe(false);
    // another key is untouched
    expect(a.peek("auth", "198.51.100.8").remaining).toBe(3);
  });

  it("keeps node-scoped policies local and ignores notices for them or from itself", async () => {
    const { bus, nodes } = cluster(2);
    const [a, b] = nodes as [SharedLimiter, SharedLimiter];
    for (let i = 0; i < 3; i++) expect(a.hit("stanzas", "u@x").allowed).toBe(true);
    await settle();
    expect(a.hit("stanzas", "u@x").allowed).toBe(false);
    expect(b.peek("stanzas", "u@x").remaining).toBe(3);
    // a forged notice for a node-scoped policy, a malformed one and one echoing b's own id: no effect
    await bus.publishControl({ type: "limiter.hit", origin: "elsewhere", policy: "stanzas", key: "u@x", cost: 3 });
    await bus.publishControl({ type: "limiter.hit", origin: "elsewhere", policy: "auth", key: 5, cost: "x" });
    await bus.publishControl({ type: "limiter.hit", origin: "node-1", policy: "auth", key: "k", cost: 2 });
    expect(b.peek("stanzas", "u@x").remaining).toBe(3);
    expect(b.peek("auth", "k").remaining).toBe(3);
    expect(a.peek("auth", "k").remaining).toBe(1);
  });

  it("refills with time like the local limiter", async () => {
    let t = 0;
    const { nodes } = cluster(2, () => t);
    const [a, b] = nodes as [SharedLimiter, SharedLimiter];
    for (let i = 0; i < 3; i++) a.hit("auth", "ip");
    await settle();
    expect(b.hit("auth", "ip").allowed).toBe(false);
    t += 20_000; // a third of the window: one token back
    expect(b.hit("auth", "ip").allowed).toBe(true);
    expect(b.hit("auth", "ip").allowed).toBe(false);
  });
});
