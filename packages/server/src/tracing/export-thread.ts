/**
 * The OTLP exporter in a worker thread (docs/observability.md "Traces"). Encoding a batch of
 * spans (protobuf or JSON) and sending it costs ~25 µs a span, all at once: a batch of 512
 * held the event loop 15–40 ms in a microbenchmark (`export-stall.bench.ts`), long enough at tens of
 * thousands of stanzas a second to push a node near saturation into a backlog. Here the main
 * thread only copies each ended span into a plain record (a few fields, no encoding) and posts
 * the batch; the thread rebuilds what the OpenTelemetry serializer reads and hands it to the
 * SDK's own OTLP exporter, so retries, `OTEL_EXPORTER_OTLP_*` headers, timeouts and
 * compression behave exactly as in the SDK.
 *
 * The thread is plain JavaScript evaluated from a string (no TypeScript loader in it, the same
 * under tsx, vitest and a build) and loads the exporter packages by the paths this module
 * resolves, as the Redis heartbeat worker does. If it cannot start, the caller exports on the
 * main thread instead.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { OtlpProtocol } from "./otel-tracing.js";

/** What crosses to the thread for one span: structured-clonable, nothing the serializer does not read. */
interface SpanRecord {
  name: string;
  kind: number;
  ctx: { traceId: string; spanId: string; traceFlags: number };
  parent?: { traceId: string; spanId: string; traceFlags: number; isRemote?: boolean };
  start: [number, number];
  end: [number, number];
  attributes: ReadableSpan["attributes"];
  events: ReadableSpan["events"];
  status: ReadableSpan["status"];
}

function toRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext;
  return {
    name: span.name,
    kind: span.kind,
    ctx: { traceId: ctx.traceId, spanId: ctx.spanId, traceFlags: ctx.traceFlags },
    ...(parent ? { parent: { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.traceFlags, isRemote: parent.isRemote } } : {}),
    start: span.startTime,
    end: span.endTime,
    attributes: span.attributes,
    events: span.events,
    status: span.status,
  };
}

const THREAD_SOURCE = `
const { parentPort, workerData: d } = require("node:worker_threads");
const { OTLPTraceExporter } = require(d.exporterPath);
const { resourceFromAttributes } = require(d.resourcesPath);
const exporter = new OTLPTraceExporter({ url: d.url });
const resource = resourceFromAttributes(d.resource);
const scope = { name: d.scope };
const hr = (t) => t[0] * 1e9 + t[1];
const revive = (r) => ({
  name: r.name, kind: r.kind, spanContext: () => r.ctx, parentSpanContext: r.parent,
  startTime: r.start, endTime: r.end, duration: [0, Math.max(0, hr(r.end) - hr(r.start))], ended: true,
  attributes: r.attributes, droppedAttributesCount: 0, events: r.events, droppedEventsCount: 0,
  links: [], droppedLinksCount: 0, status: r.status, resource, instrumentationScope: scope,
});
parentPort.on("message", (m) => {
  if (m.type === "spans") {
    exporter.export(m.spans.map(revive), (res) =>
      parentPort.postMessage({ type: "done", id: m.id, ok: res.code === 0, error: res.error ? String(res.error.message || res.error) : undefined }));
  } else if (m.type === "flush") {
    exporter.forceFlush().catch(() => {}).finally(() => parentPort.postMessage({ type: "flushed", id: m.id }));
  } else if (m.type === "shutdown") {
    exporter.shutdown().catch(() => {}).finally(() => { parentPort.postMessage({ type: "closed" }); parentPort.close(); });
  }
});
`;

export interface ExportThreadOptions {
  protocol: OtlpProtocol;
  url: string;
  /** the resource's attributes (service.name, service.instance.id) */
  resource: Record<string, string>;
  scope: string;
  /** the OTEL_* variables the SDK exporter reads in the thread (headers, timeout, compression) */
  env: NodeJS.ProcessEnv;
}

type Result = Parameters<SpanExporter["export"]>[1] extends (r: infer R) => void ? R : never;

/** A SpanExporter for the BatchSpanProcessor whose encoding and sending run in a worker thread. */
export class ThreadSpanExporter implements SpanExporter {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, (result: Result) => void>();
  private readonly flushes = new Map<number, () => void>();
  private closed?: Promise<void>;

  /** Throws when the thread cannot be made (the caller then exports on the main thread). */
  constructor(opts: ExportThreadOptions) {
    const require = createRequire(import.meta.url);
    const exporterPath = require.resolve(opts.protocol === "http/json" ? "@opentelemetry/exporter-trace-otlp-http" : "@opentelemetry/exporter-trace-otlp-proto");
    const env = Object.fromEntries(Object.entries(opts.env).filter(([k]) => k.startsWith("OTEL_")));
    this.worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { exporterPath, resourcesPath: require.resolve("@opentelemetry/resources"), url: opts.url, resource: opts.resource, scope: opts.scope },
      env,
      // the thread needs none of the process's loaders or flags
      execArgv: [],
    });
    this.worker.unref();
    this.worker.on("message", (m: { type: string; id?: number; ok?: boolean; error?: string }) => {
      if (m.type === "done" && m.id !== undefined) {
        const done = this.pending.get(m.id);
        this.pending.delete(m.id);
        done?.(m.ok ? { code: 0 } : { code: 1, error: new Error(m.error ?? "OTLP export failed") });
      } else if (m.type === "flushed" && m.id !== undefined) {
        this.flushes.get(m.id)?.();
        this.flushes.delete(m.id);
      }
    });
    // A thread that died fails what it held; the processor reports failed exports itself.
    this.worker.on("error", (err) => this.failAll(err));
    this.worker.on("exit", () => this.failAll(new Error("OTLP export thread exited")));
  }

  export(spans: ReadableSpan[], resultCallback: (result: Result) => void): void {
    if (this.closed) return resultCallback({ code: 1, error: new Error("exporter shut down") });
    const id = this.nextId++;
    this.pending.set(id, resultCallback);
    this.worker.postMessage({ type: "spans", id, spans: spans.map(toRecord) });
  }

  /** Resolves once the thread has sent everything posted so far. */
  async forceFlush(): Promise<void> {
    if (this.closed) return;
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.flushes.set(id, resolve);
      this.worker.postMessage({ type: "flush", id });
    });
  }

  shutdown(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate(), 5_000);
      this.worker.once("exit", () => (clearTimeout(timer), resolve()));
      this.worker.postMessage({ type: "shutdown" });
    });
    return this.closed;
  }

  private failAll(err: Error): void {
    for (const done of this.pending.values()) done({ code: 1, error: err });
    this.pending.clear();
    for (const resolve of this.flushes.values()) resolve();
    this.flushes.clear();
  }
}
