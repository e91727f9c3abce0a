import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { OtelMetrics, otlpMetricsUrl, otlpMetricsWanted } from "./otel-metrics.js";

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe("OtelMetrics", () => {
  it("keeps counters and gauges per label set, and serialises them with the histograms as Prometheus text", async () => {
    const m = new OtelMetrics({ nodeId: "n1", env: {} });
    cleanup.push(() => m.shutdown());
    const c = m.counter("t_things_total", { help: "things", labels: ["kind"] });
    const bound = c.with({ kind: "a" });
    bound.add();
    bound.add(2);
    c.add(5, { kind: "b", stray: "ignored" });
    m.gauge("t_level", { help: "level" }).set(7);
    m.histogram("t_seconds", { help: "time", buckets: [0.1, 1] }).record(0.5);
    m.observe("t_observed", { help: "read at collection", labels: ["state"] }, () => [[3, { state: "x" }]]);
    expect(m.value("t_things_total", { kind: "a" })).toBe(3);
    const text = await m.prometheusText();
    expect(text).toContain('t_things_total{kind="a"} 3');
    expect(text).toContain('t_things_total{kind="b"} 5');
    expect(text).not.toContain("stray");
    expect(text).toContain("t_level 7");
    expect(text).toContain('t_seconds_bucket{le="1"} 1');
    expect(text).toContain('t_observed{state="x"} 3');
    expect(text).toContain('service_instance_id="n1"');
  });

  it("refuses a name defined twice with another kind, and shares one of the same kind", () => {
    const m = new OtelMetrics({ nodeId: "n1", env: {} });
    cleanup.push(() => m.shutdown());
    const a = m.counter("t_shared_total", { help: "x" });
    const b = m.counter("t_shared_total", { help: "x" });
    a.add();
    b.add();
    expect(m.value("t_shared_total")).toBe(2);
    expect(() => m.gauge("t_shared_total", { help: "x" })).toThrow(/is a counter, not a gauge/);
    m.histogram("t_h", { help: "x" });
    expect(() => m.histogram("t_h", { help: "x" })).toThrow(/defined twice/);
  });

  it("reads the standard OTLP variables", () => {
    expect(otlpMetricsWanted({})).toBe(false);
    expect(otlpMetricsWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "" })).toBe(false);
    expect(otlpMetricsWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBe(true);
    expect(otlpMetricsWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_METRICS_EXPORTER: "none" })).toBe(false);
    expect(otlpMetricsUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toBe("http://c:4318/v1/metrics");
    expect(otlpMetricsUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://m:9/x" })).toBe("http://m:9/x");
  });

  it("pushes over OTLP/HTTP to the endpoint OTEL_EXPORTER_OTLP_ENDPOINT names", async () => {
    const bodies: string[] = [];
    const receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        if (req.url === "/v1/metrics") bodies.push(body);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const port = (receiver.address() as AddressInfo).port;
    const m = new OtelMetrics({ nodeId: "otlp-node", env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_METRIC_EXPORT_INTERVAL: "200" } });
    cleanup.push(() => m.shutdown());
    expect(m.otlp).toBe(true);
    m.counter("t_pushed_total", { help: "pushed", labels: ["kind"] }).add(4, { kind: "k" });
    await expect.poll(() => bodies.some((b) => b.includes("t_pushed_total")), { timeout: 5_000 }).toBe(true);
    const body = bodies.find((b) => b.includes("t_pushed_total"))!;
    expect(body).toContain("otlp-node");
  });
});
