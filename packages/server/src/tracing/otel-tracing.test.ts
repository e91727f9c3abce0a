import { ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { OtelTracing, otlpTracesProtocol, otlpTracesUrl, otlpTracesWanted, tracingFromEnv } from "./otel-tracing.js";
import { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.js";
import { RootSampling, ratioBound, samplingFromEnv } from "./sampling.js";

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  cleanup.push(() => r.close());
  return r;
}

function tracing(r: OtlpReceiver, nodeId: string, sampleRatio: number, env: NodeJS.ProcessEnv = {}): OtelTracing {
  const t = new OtelTracing({ nodeId, sampleRatio, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: r.url, ...env } });
  cleanup.push(() => t.shutdown());
  return t;
}

/** n stanzas through the root decision; the sampled ones end at once. */
function stanzas(t: OtelTracing, n: number): number {
  let sampled = 0;
  for (let i = 0; i < n; i++) {
    const span = t.startStanza("c2s.message");
    if (span) (sampled++, span.end());
  }
  return sampled;
}

describe("the OpenTelemetry tracing adapter", () => {
  it("is on only when the standard variables configure an OTLP endpoint", () => {
    expect(otlpTracesWanted({})).toBe(false);
    expect(otlpTracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBe(false);
    expect(otlpTracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })).toBe(true);
    expect(otlpTracesWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    expect(otlpTracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toBe("http://c:4318/v1/traces");
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:9/x" })).toBe("http://t:9/x");
    expect(tracingFromEnv({ nodeId: "n", sampleRatio: 1, env: {} })).toBeUndefined();
  });

  it("samples by tracing.sampleRatio unless OTEL_TRACES_SAMPLER says otherwise, and says what it did not take", () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(samplingFromEnv({}, 0.01, warn)).toMatchObject({ rootBound: ratioBound(0.01), description: "parentbased_traceidratio 0.01 (tracing.sampleRatio)" });
    expect(samplingFromEnv({}, 0.01, warn).sampler.toString()).toBe("ParentBased{root=TraceIdRatioBased{0.01}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}");
    expect(samplingFromEnv({ OTEL_TRACES_SAMPLER: "always_on" }, 0, warn).rootBound).toBe(2 ** 32);
    expect(samplingFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_always_off" }, 1, warn).rootBound).toBe(0);
    expect(samplingFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" }, 0, warn)).toMatchObject({ rootBound: ratioBound(0.5), description: "traceidratio 0.5" });
    expect(warnings).toEqual([]);
    expect(samplingFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, 0, warn).rootBound).toBe(2 ** 32);
    expect(samplingFromEnv({ OTEL_TRACES_SAMPLER: "jaeger_remote" }, 0.25, warn).rootBound).toBe(ratioBound(0.25));
    expect(warnings).toEqual([expect.stringMatching(/OTEL_TRACES_SAMPLER_ARG=2 is not a probability/), expect.stringMatching(/OTEL_TRACES_SAMPLER=jaeger_remote is not supported/)]);
  });

  it("takes the root decision the SDK's ratio sampler takes, on the trace id it draws", () => {
    const ratio = 0.3;
    const root = new RootSampling(ratioBound(ratio));
    const sdk = new TraceIdRatioBasedSampler(ratio);
    let sampled = 0;
    for (let i = 0; i < 20_000; i++) {
      if (!root.sample()) continue;
      sampled++;
      const id = root.generateTraceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(sdk.shouldSample(ROOT_CONTEXT, id).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    }
    // 6,000 expected; ±5 standard deviations (≈ 65 each)
    expect(sampled).toBeGreaterThan(5_675);
    expect(sampled).toBeLessThan(6_325);
    expect(root.generateTraceId()).not.toBe(root.generateTraceId()); // nothing pending: random ids
  });

  it("exports nothing at ratio 0, and every stanza at ratio 1", async () => {
    const r = await receiver();
    const off = tracing(r, "zero", 0);
    expect(stanzas(off, 1_000)).toBe(0);
    await off.flush();
    // OTEL_TRACES_SAMPLER wins over tracing.sampleRatio
    const forcedOff = tracing(r, "forced-off", 1, { OTEL_TRACES_SAMPLER: "always_off" });
    expect(stanzas(forcedOff, 100)).toBe(0);
    await forcedOff.flush();
    expect(r.spans).toEqual([]);
    const on = tracing(r, "one", 1);
    expect(stanzas(on, 10)).toBe(10);
    await on.flush();
    await r.waitFor((spans) => spans.length === 10);
    expect(new Set(r.spans.map((s) => s.resource["service.instance.id"]))).toEqual(new Set(["one"]));
  });

  // The export thread (the default) and the main-thread exporter must put the same spans on the wire.
  for (const [protocol, thread] of [["http/protobuf", true], ["http/json", true], ["http/protobuf", false], ["http/json", false]] as const) {
    it(`continues a trace on another node from the headers it was sent with (${protocol}, ${thread ? "export thread" : "main thread"})`, async () => {
      const r = await receiver();
      const env = { ...(protocol === "http/json" ? { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" } : {}), ...(thread ? {} : { SWITCHBOARD_TRACING_EXPORT_THREAD: "0" }) };
      const a = tracing(r, "edge-a", 1, env);
      const b = tracing(r, "edge-b", 0, env); // parent-based: the sender's decision holds
      expect(a.protocol).toBe(protocol);
      expect([a.exportThread, b.exportThread]).toEqual([thread, thread]);
      const root = a.startStanza("c2s.message")!;
      root.set("switchboard.route", "message/full");
      root.event("deliver", { "switchboard.target.node": "edge-a", "switchboard.delivery": "written" });
      const publish = a.startChild(root, "bus.publish", "producer");
      const headers: Record<string, string> = {};
      a.inject(publish, headers);
      expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(b.startFromCarrier({}, "bus.receive")).toBeUndefined();
      const received = b.startFromCarrier(headers, "bus.receive")!;
      expect(received).toBeDefined();
      received.set("switchboard.delivery", "written");
      for (const span of [received, publish]) span.end();
      root.end("error", "bounced");
      await a.flush();
      await b.flush();
      const spans = await r.waitFor((s) => s.length === 3);
      expect(new Set(r.contentTypes)).toEqual(new Set([protocol === "http/json" ? "application/json" : "application/x-protobuf"]));
      const by = Object.fromEntries(spans.map((s) => [s.name, s]));
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
      expect(spans[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(by["c2s.message"]).toMatchObject({ parentSpanId: "", kind: SpanKind.SERVER + 1, status: 2, attributes: { "switchboard.route": "message/full" }, resource: { "service.instance.id": "edge-a", "service.name": "switchboard" } });
      expect(by["c2s.message"]!.events).toEqual([{ name: "deliver", attributes: { "switchboard.target.node": "edge-a", "switchboard.delivery": "written" } }]);
      expect(by["bus.publish"]).toMatchObject({ parentSpanId: by["c2s.message"]!.spanId, kind: SpanKind.PRODUCER + 1 });
      expect(by["bus.receive"]).toMatchObject({ parentSpanId: by["bus.publish"]!.spanId, kind: SpanKind.CONSUMER + 1, attributes: { "switchboard.delivery": "written" }, resource: { "service.instance.id": "edge-b" } });
    });
  }

  it("exports protobuf unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says http/json, and says what it does not speak", () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    expect(otlpTracesProtocol({}, warn)).toBe("http/protobuf");
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }, warn)).toBe("http/json");
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" }, warn)).toBe("http/protobuf");
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: " HTTP/JSON " }, warn)).toBe("http/json");
    expect(warnings).toEqual([]);
    expect(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, warn)).toBe("http/protobuf");
    expect(warnings).toEqual([expect.stringMatching(/OTLP protocol grpc is not supported here .*4318/)]);
  });
});
