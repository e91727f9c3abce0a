import { describe, expect, it } from "vitest";
import { InProcessMetrics, noopMetrics } from "./metrics.js";

describe("metrics port", () => {
  it("counts per label set, with labels bound once for the hot path", () => {
    const m = new InProcessMetrics();
    const c = m.counter("stanzas_total", { help: "stanzas", labels: ["kind"] });
    const messages = c.with({ kind: "message" });
    messages.add();
    messages.add(2);
    c.add(1, { kind: "iq" });
    expect(m.value("stanzas_total", { kind: "message" })).toBe(3);
    expect(m.value("stanzas_total", { kind: "iq" })).toBe(1);
    expect(m.value("stanzas_total", { kind: "presence" })).toBe(0);
  });

  it("keeps gauges and cumulative histogram buckets", () => {
    const m = new InProcessMetrics();
    const g = m.gauge("connections", { help: "open connections" });
    g.set(5);
    g.add(-2);
    expect(m.value("connections")).toBe(3);
    const h = m.histogram("latency_seconds", { help: "latency", buckets: [0.01, 0.1, 1] });
    for (const v of [0.005, 0.05, 0.5, 5]) h.record(v);
    const sample = m.samples().find((s) => s.name === "latency_seconds")!;
    expect(sample.series.get("")).toEqual({ count: 4, sum: 5.555, buckets: [1, 2, 3] });
  });

  it("refuses one name used for two kinds, and the no-op counts nothing without failing", () => {
    const m = new InProcessMetrics();
    m.counter("x", { help: "x" });
    expect(() => m.gauge("x", { help: "x" })).toThrow(/is a counter/);
    noopMetrics.counter("y", { help: "y" }).with({ a: "b" }).add(3);
    noopMetrics.histogram("z", { help: "z" }).record(1);
  });
});
