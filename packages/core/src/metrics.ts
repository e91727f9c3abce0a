/**
 * The metrics port (ARCHITECTURE.md "Limits and metrics as ports"): counters, gauges and
 * histograms with labels. Everything that counts goes through it, so an OpenTelemetry or
 * Prometheus adapter is wired in one place (the process entry point). The default is a no-op;
 * InProcessMetrics keeps the values in memory for tests and for an exposition endpoint.
 *
 * Cost on the hot path: create instruments once (at module setup), and for per-stanza counts
 * bind the labels once (`counter.with({ kind: "message" })`), so a count is one addition.
 */

export type Labels = Readonly<Record<string, string>>;

export interface InstrumentOptions {
  /** one line for humans (HELP in Prometheus) */
  help: string;
  /** label names this instrument accepts; values outside them are ignored by adapters */
  labels?: readonly string[];
}

export interface HistogramOptions extends InstrumentOptions {
  /** upper bounds of the buckets, ascending (seconds for durations) */
  buckets?: readonly number[];
}

export interface Counter {
  add(value?: number, labels?: Labels): void;
  /** the same counter with these labels fixed, for the hot path */
  with(labels: Labels): { add(value?: number): void };
}

export interface Gauge {
  set(value: number, labels?: Labels): void;
  add(delta: number, labels?: Labels): void;
}

export interface Histogram {
  record(value: number, labels?: Labels): void;
}

/** One reading of an observed gauge: its value for a label set. */
export type Observation = readonly [value: number, labels?: Labels];

export interface Metrics {
  counter(name: string, opts: InstrumentOptions): Counter;
  gauge(name: string, opts: InstrumentOptions): Gauge;
  histogram(name: string, opts: HistogramOptions): Histogram;
  /**
   * A gauge read when the metrics are collected (a scrape, an export), not kept up to date by
   * the hot path: sessions by state, rooms held. `read` must be cheap and must not throw.
   */
  observe(name: string, opts: InstrumentOptions, read: () => Iterable<Observation>): void;
}

const noopCounter: Counter = { add() {}, with: () => ({ add() {} }) };
const noopGauge: Gauge = { set() {}, add() {} };
const noopHistogram: Histogram = { record() {} };

/** Counts nothing: the default when a process wires no metrics adapter. */
export const noopMetrics: Metrics = {
  counter: () => noopCounter,
  gauge: () => noopGauge,
  histogram: () => noopHistogram,
  observe: () => {},
};

export const DEFAULT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** `a="1",b="2"` in label-name order: one series per distinct label set. */
function seriesKey(labels: Labels | undefined): string {
  if (!labels) return "";
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}

interface HistogramSeries {
  count: number;
  sum: number;
  /** cumulative counts per bucket upper bound */
  buckets: number[];
}

export interface MetricSample {
  name: string;
  kind: "counter" | "gauge" | "histogram";
  help: string;
  /** series key (`label="value",…`, "" without labels) → value, or the histogram's state */
  series: Map<string, number | HistogramSeries>;
  buckets?: readonly number[];
}

/** Keeps every series in memory; `value()` reads one, `samples()` all (tests, /metrics). */
export class InProcessMetrics implements Metrics {
  private readonly instruments = new Map<string, MetricSample>();
  private readonly observed = new Map<string, () => Iterable<Observation>>();

  private instrument(name: string, kind: MetricSample["kind"], help: string, buckets?: readonly number[]): MetricSample {
    let sample = this.instruments.get(name);
    if (!sample) this.instruments.set(name, (sample = { name, kind, help, series: new Map(), buckets }));
    else if (sample.kind !== kind) throw new Error(`metric ${name} is a ${sample.kind}, not a ${kind}`);
    return sample;
  }

  counter(name: string, opts: InstrumentOptions): Counter {
    const { series } = this.instrument(name, "counter", opts.help);
    const add = (key: string, value: number) => series.set(key, ((series.get(key) as number | undefined) ?? 0) + value);
    return {
      add: (value = 1, labels) => add(seriesKey(labels), value),
      with: (labels) => {
        const key = seriesKey(labels);
        return { add: (value = 1) => add(key, value) };
      },
    };
  }

  gauge(name: string, opts: InstrumentOptions): Gauge {
    const { series } = this.instrument(name, "gauge", opts.help);
    return {
      set: (value, labels) => series.set(seriesKey(labels), value),
      add: (delta, labels) => {
        const key = seriesKey(labels);
        series.set(key, ((series.get(key) as number | undefined) ?? 0) + delta);
      },
    };
  }

  histogram(name: string, opts: HistogramOptions): Histogram {
    const bounds = opts.buckets ?? DEFAULT_BUCKETS;
    const { series } = this.instrument(name, "histogram", opts.help, bounds);
    return {
      record: (value, labels) => {
        const key = seriesKey(labels);
        let s = series.get(key) as HistogramSeries | undefined;
        if (!s) series.set(key, (s = { count: 0, sum: 0, buckets: bounds.map(() => 0) }));
        s.count++;
        s.sum += value;
        for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) s.buckets[i]!++;
      },
    };
  }

  observe(name: string, opts: InstrumentOptions, read: () => Iterable<Observation>): void {
    this.instrument(name, "gauge", opts.help);
    this.observed.set(name, read);
  }

  private collectObserved(): void {
    for (const [name, read] of this.observed) {
      const series = this.instruments.get(name)!.series;
      series.clear();
      for (const [value, labels] of read()) series.set(seriesKey(labels), value);
    }
  }

  /** A counter's or gauge's value (0 when never set), or a histogram's count. */
  value(name: string, labels?: Labels): number {
    if (this.observed.has(name)) this.collectObserved();
    const v = this.instruments.get(name)?.series.get(seriesKey(labels));
    if (v === undefined) return 0;
    return typeof v === "number" ? v : v.count;
  }

  samples(): MetricSample[] {
    this.collectObserved();
    return [...this.instruments.values()];
  }
}
