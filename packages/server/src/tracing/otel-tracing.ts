/**
 * The tracing port backed by OpenTelemetry (docs/observability.md "Traces"): one
 * TracerProvider per process exporting over OTLP/HTTP in batches, on only when the standard
 * variables ask for it — `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * set and `OTEL_TRACES_EXPORTER` not `none`. The encoding is the standard
 * `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`: `http/protobuf` unless it says `http/json`, as the
 * OpenTelemetry specification has it; protobuf is also the cheaper one to write (about a third
 * of the bytes, no intermediate objects). Sampling: sampling.ts.
 *
 * Nothing is registered globally (no global tracer provider, no context manager): spans are
 * made from the parent the core hands over, so no async-context bookkeeping runs for stanzas
 * that are not traced, and several nodes in one test process keep their own providers.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Span as OtelSpan, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { BusHeaders, Span, SpanKind as PortSpanKind, SpanValue, Tracing } from "@switchboard/core";
import { ThreadSpanExporter } from "./export-thread.js";
import { RootSampling, samplingFromEnv } from "./sampling.js";

export interface OtelTracingOptions {
  /** `service.instance.id` of the resource (the node id) */
  nodeId: string;
  /** tracing.sampleRatio: the root ratio unless OTEL_TRACES_SAMPLER says otherwise */
  sampleRatio: number;
  /** where the OTEL_* variables are read (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** told about a sampler setting that was not taken */
  warn?: (message: string) => void;
}

const KINDS: Record<PortSpanKind, SpanKind> = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };

/** One SDK span behind the port's. */
class SdkSpan implements Span {
  constructor(readonly inner: OtelSpan) {}
  set(key: string, value: SpanValue): void {
    this.inner.setAttribute(key, value);
  }
  event(name: string, attributes: Record<string, SpanValue>): void {
    this.inner.addEvent(name, attributes);
  }
  end(status?: "ok" | "error", message?: string): void {
    if (status === "error") this.inner.setStatus({ code: SpanStatusCode.ERROR, message });
    this.inner.end();
  }
}

export class OtelTracing implements Tracing {
  readonly enabled = true;
  /** how sampling was chosen, for the start-up log line */
  readonly sampling: string;
  readonly url: string;
  /** the OTLP encoding: `http/protobuf` or `http/json` */
  readonly protocol: OtlpProtocol;
  /** whether batches are encoded and sent in a worker thread (export-thread.ts) */
  exportThread = false;
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly root: RootSampling;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(opts: OtelTracingOptions) {
    const env = opts.env ?? process.env;
    const choice = samplingFromEnv(env, opts.sampleRatio, opts.warn ?? (() => {}));
    this.sampling = choice.description;
    this.root = new RootSampling(choice.rootBound);
    this.url = otlpTracesUrl(env);
    this.protocol = otlpTracesProtocol(env, opts.warn ?? (() => {}));
    const resource = { "service.name": env.OTEL_SERVICE_NAME || "switchboard", "service.instance.id": opts.nodeId };
    const exporter = this.exporter(env, resource, opts.warn ?? (() => {}));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resource),
      sampler: choice.sampler,
      idGenerator: this.root,
      // The standard OTEL_BSP_* variables, read from the same environment as the rest.
      spanProcessors: [new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: positive(env.OTEL_BSP_SCHEDULE_DELAY, 5_000),
        maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 2_048),
        maxExportBatchSize: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
        exportTimeoutMillis: positive(env.OTEL_BSP_EXPORT_TIMEOUT, 30_000),
      })],
    });
    this.tracer = this.provider.getTracer("switchboard");
  }

  /** Encoding and sending in a worker thread (export-thread.ts), else here on the main thread. */
  private exporter(env: NodeJS.ProcessEnv, resource: Record<string, string>, warn: (message: string) => void): SpanExporter {
    if (env.SWITCHBOARD_TRACING_EXPORT_THREAD !== "0") {
      try {
        const threaded = new ThreadSpanExporter({ protocol: this.protocol, url: this.url, resource, scope: "switchboard", env });
        this.exportThread = true;
        return threaded;
      } catch (err) {
        warn(`OTLP export thread could not start (${(err as Error).message}); exporting traces on the main thread`);
      }
    }
    return this.protocol === "http/json" ? new JsonTraceExporter({ url: this.url }) : new ProtobufTraceExporter({ url: this.url });
  }

  startStanza(name: string): Span | undefined {
    if (!this.root.sample()) return undefined;
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    return span.isRecording() ? new SdkSpan(span) : undefined;
  }

  startChild(parent: Span, name: string, kind: PortSpanKind = "internal"): Span {
    return new SdkSpan(this.tracer.startSpan(name, { kind: KINDS[kind] }, trace.setSpan(ROOT_CONTEXT, (parent as SdkSpan).inner)));
  }

  inject(span: Span, into: BusHeaders): void {
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, (span as SdkSpan).inner), into, defaultTextMapSetter);
  }

  startFromCarrier(headers: BusHeaders, name: string, kind: PortSpanKind = "consumer"): Span | undefined {
    if (headers.traceparent === undefined) return undefined;
    const context = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    if (!trace.getSpanContext(context)) return undefined;
    const span = this.tracer.startSpan(name, { kind: KINDS[kind] }, context);
    return span.isRecording() ? new SdkSpan(span) : undefined;
  }

  /** Exports what has ended so far (tests; shutdown does it too). */
  async flush(): Promise<void> {
    await this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => {});
  }
}

/** The standard variables: an endpoint set and the traces exporter not turned off. */
export function otlpTracesWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_TRACES_EXPORTER ?? "").split(",").map((s) => s.trim()).includes("none")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}

export type OtlpProtocol = "http/protobuf" | "http/json";

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `http/protobuf`
 * (the specification's default). gRPC is not built in: it is said, and protobuf over HTTP used
 * (a Collector takes it on its 4318 port, not on gRPC's 4317).
 */
export function otlpTracesProtocol(env: NodeJS.ProcessEnv, warn: (message: string) => void): OtlpProtocol {
  const name = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || "http/protobuf").toLowerCase();
  if (name === "http/protobuf" || name === "http/json") return name;
  warn(`OTLP protocol ${name} is not supported here (http/protobuf and http/json are); exporting traces as http/protobuf — point the endpoint at the Collector's OTLP/HTTP port (4318)`);
  return "http/protobuf";
}

/** The signal-specific endpoint as given, else the base endpoint with the traces path (OTLP/HTTP spec). */
export function otlpTracesUrl(env: NodeJS.ProcessEnv): string {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return specific;
  return `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "").trim().replace(/\/+$/, "")}/v1/traces`;
}

/**
 * The process's tracing: the OpenTelemetry adapter when the OTEL_* variables configure an
 * exporter, else undefined (the Host's default traces nothing and costs one branch per stanza).
 */
export function tracingFromEnv(opts: OtelTracingOptions): OtelTracing | undefined {
  return otlpTracesWanted(opts.env ?? process.env) ? new OtelTracing(opts) : undefined;
}

function positive(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text?.trim() && Number.isFinite(n) && n > 0 ? n : fallback;
}
