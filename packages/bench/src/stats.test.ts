import { describe, expect, it } from "vitest";
import { LatencyHistogram, serverCpuMs, serverRssBytes } from "./stats.js";

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

describe("serverCpuMs", () => {
  it("agrees with process.cpuUsage() for this process and is undefined for one that does not exist", () => {
    const usage = process.cpuUsage();
    const before = serverCpuMs([process.pid])!;
    let x = 0;
    // a fixed amount of CPU, however busy the machine: 100 ms of this process's own time
    while (process.cpuUsage(usage).user + process.cpuUsage(usage).system < 100_000) x += Math.sqrt(x + 1);
    const after = serverCpuMs([process.pid])!;
    const spent = process.cpuUsage(usage);
    expect(x).toBeGreaterThan(0);
    // both count every thread of the process; /proc has 10 ms ticks
    expect(Math.abs(after - before - (spent.user + spent.system) / 1000)).toBeLessThanOrEqual(25);
    expect(serverCpuMs([2 ** 22 + 12345])).toBeUndefined();
  });
});
