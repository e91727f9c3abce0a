import { describe, expect, it } from "vitest";
import { LatencyHistogram, serverRssBytes } from "./stats.js";

describe("LatencyHistogram", () => {
  it("reports quantiles within the bucket precision and the exact max", () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i * 1000); // 1 µs .. 1 ms
    expect(h.count).toBe(1000);
    expect(h.quantileNs(0.5) / 500_000).toBeCloseTo(1, 1);
    expect(h.quantileNs(0.99) / 990_000).toBeCloseTo(1, 1);
    expect(h.maxNs).toBe(1_000_000);
    expect(h.quantileNs(1)).toBeLessThanOrEqual(1_000_000);
  });

  it("is 0 when empty", () => {
    expect(new LatencyHistogram().quantileNs(0.5)).toBe(0);
  });
});

describe("serverRssBytes", () => {
  it("reads this process's RSS and ignores a vanished pid", () => {
    expect(serverRssBytes([process.pid])).toBeGreaterThan(1_000_000);
    expect(serverRssBytes([2 ** 30])).toBe(0);
  });
});
