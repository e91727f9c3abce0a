/**
 * The metrics port backed by OpenTelemetry (docs/observability.md): one MeterProvider per
 * process with a Prometheus reader (GET /metrics, endpoint.ts) and, when the standard
 * `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set (and
 * `OTEL_METRICS_EXPORTER` is not `none`), a periodic OTLP/HTTP exporter.
 *
 * Hot path: counters and gauges are plain numbers per label set, made once (`with()` binds a
 * series), and reach OpenTelemetry only when the metrics are collected, through observable
 * instruments; a count is one addition, not an attribute hash per stanza. Histograms are
 * OpenTelemetry histograms with the port's bucket bounds.
 */
import { type Attributes, type Meter, type ObservableResult } from "@opentelemetry/api";
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from "@opentelemetry/sdk-metrics";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { DEFAULT_BUCKETS, type Counter, type Gauge, type Histogram, type HistogramOptions, type InstrumentOptions, type Labels, type Metrics, type Observation } from "@switchboard/core";

/** One label set's number, kept by the adapter and read at collection. */
interface Cell {
  value: number;
  attributes: Attributes;
}

/** The cells of one instrument, by label set (a key made from the declared label names). */
class Cells {
  private readonly byKey = new Map<string, Cell>();
  constructor(private readonly labels: readonly string[]) {}

  cell(labels: Labels | undefined): Cell {
    const key = labels ? this.labels.map((l) => labels[l] ?? "").join("\u0000") : "";
    let c = this.byKey.get(key);
    if (!c) {
      const attributes: Attributes = {};
      // Only the declared labels: a stray one would make a series nobody asked for.
      if (labels) for (const l of this.labels) if (labels[l] !== undefined) attributes[l] = labels[l];
      this.byKey.set(key, (c = { value: 0, attributes }));
    }
    return c;
  }

  peek(labels: Labels | undefined): number {
    const key = labels ? this.labels.map((l) => labels[l] ?? "").join("\u0000") : "";
    return this.byKey.get(key)?.value ?? 0;
  }

  report(result: ObservableResult): void {
    for (const c of this.byKey.values()) result.observe(c.value, c.attributes);
  }
}

export interface OtelMetricsOptions {
  /** `service.instance.id` of the resource (the node id) */
  nodeId: string;
  env?: NodeJS.ProcessEnv;
}

export class OtelMetrics implements Metrics {
  readonly prometheus: PrometheusExporter;
  /** true when an OTLP exporter pushes the metrics too */
  readonly otlp: boolean;
  private readonly provider: MeterProvider;
  private readonly meter: Meter;
  private readonly names = new Set<string>();
  /** no prefix, no timestamps, target info kept (the resource: node id), no scope labels */
  private readonly serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

  constructor(opts: OtelMetricsOptions) {
    const env = opts.env ?? process.env;
    this.prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const readers: MetricReader[] = [this.prometheus];
    this.otlp = otlpMetricsWanted(env);
    if (this.otlp) {
      const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL) > 0 ? Number(env.OTEL_METRIC_EXPORT_INTERVAL) : 15_000;
      readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: otlpMetricsUrl(env) }), exportIntervalMillis: interval, exportTimeoutMillis: Math.min(interval, 10_000) }));
    }
    this.provider = new MeterProvider({
      resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME || "switchboard", "service.instance.id": opts.nodeId }),
      readers,
    });
    this.meter = this.provider.getMeter("switchboard");
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`metric ${name} is defined twice`);
    this.names.add(name);
  }

  counter(name: string, opts: InstrumentOptions): Counter {
    const cells = this.shared(name, opts, "counter");
    return {
      add: (value = 1, labels) => void (cells.cell(labels).value += value),
      with: (labels) => {
        const c = cells.cell(labels);
        return { add: (value = 1) => void (c.value += value) };
      },
    };
  }

  gauge(name: string, opts: InstrumentOptions): Gauge {
    const cells = this.shared(name, opts, "gauge");
    return {
      set: (value, labels) => void (cells.cell(labels).value = value),
      add: (delta, labels) => void (cells.cell(labels).value += delta),
    };
  }

  histogram(name: string, opts: HistogramOptions): Histogram {
    this.claim(name);
    const labels = opts.labels ?? [];
    const h = this.meter.createHistogram(name, { description: opts.help, advice: { explicitBucketBoundaries: [...(opts.buckets ?? DEFAULT_BUCKETS)] } });
    return {
      record: (value, attrs) => {
        if (!attrs) return h.record(value);
        const picked: Attributes = {};
        for (const l of labels) if (attrs[l] !== undefined) picked[l] = attrs[l];
        h.record(value, picked);
      },
    };
  }

  /** A second observe of a name replaces the reader (a module loaded again reports anew). */
  observe(name: string, opts: InstrumentOptions, read: () => Iterable<Observation>): void {
    const known = this.readers.get(name);
    this.readers.set(name, read);
    if (known) return;
    this.claim(name);
    const labels = opts.labels ?? [];
    this.meter.createObservableGauge(name, { description: opts.help }).addCallback((result) => {
      for (const [value, attrs] of this.readers.get(name)!()) {
        const picked: Attributes = {};
        if (attrs) for (const l of labels) if (attrs[l] !== undefined) picked[l] = attrs[l];
        result.observe(value, picked);
      }
    });
  }

  private readonly readers = new Map<string, () => Iterable<Observation>>();

  /**
   * Modules made in several places ask for the same counter by name (one per host): they share
   * its cells, as in InProcessMetrics. The observable instrument is made once.
   */
  private readonly sharedCells = new Map<string, { kind: string; cells: Cells }>();
  private shared(name: string, opts: InstrumentOptions, kind: "counter" | "gauge"): Cells {
    const known = this.sharedCells.get(name);
    if (known) {
      if (known.kind !== kind) throw new Error(`metric ${name} is a ${known.kind}, not a ${kind}`);
      return known.cells;
    }
    this.claim(name);
    const cells = new Cells(opts.labels ?? []);
    this.sharedCells.set(name, { kind, cells });
    const instrument = kind === "counter" ? this.meter.createObservableCounter(name, { description: opts.help }) : this.meter.createObservableGauge(name, { description: opts.help });
    instrument.addCallback((result) => cells.report(result));
    return cells;
  }

  /** A counter's or gauge's value now (0 when never counted), for tests and the admin commands. */
  value(name: string, labels?: Labels): number {
    return this.sharedCells.get(name)?.cells.peek(labels) ?? 0;
  }

  /** Prometheus text of everything now (the body of GET /metrics). */
  async prometheusText(): Promise<string> {
    const { resourceMetrics, errors } = await this.prometheus.collect();
    if (errors.length) throw errors[0];
    return this.serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown().catch(() => {});
  }
}

/** The signal-specific endpoint as given, else the base endpoint with the metrics path (OTLP/HTTP spec). */
export function otlpMetricsUrl(env: NodeJS.ProcessEnv): string {
  const specific = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  if (specific) return specific;
  return `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.trim().replace(/\/+$/, "")}/v1/metrics`;
}

/** The standard OTLP variables: an endpoint set and the metrics exporter not turned off. */
export function otlpMetricsWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_METRICS_EXPORTER ?? "").split(",").map((s) => s.trim()).includes("none")) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
}
