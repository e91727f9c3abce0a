/**
 * The tracing port (ARCHITECTURE.md "Observability and operations": one trace per stanza across
 * edges, its context carried in bus headers). The routing core starts and ends spans through it
 * and never imports OpenTelemetry; the server backs it with the OpenTelemetry SDK
 * (server/tracing/), the default traces nothing.
 *
 * Cost: the sampling decision is taken once, where a client's stanza enters (the c2s stream),
 * and an unsampled stanza has no span, no attributes and no headers — every later point asks
 * `traces.of(stanza)` and gets undefined (one branch with tracing off, one WeakMap miss with it
 * on). A receiving node continues a trace only when the envelope carries `traceparent`.
 */
import type { Element } from "@switchboard/xml";
import type { BusHeaders } from "./ports.js";

export type SpanValue = string | number | boolean;

/** What a span stands for, as OpenTelemetry's SpanKind: a stanza received, a bus hop sent or received. */
export type SpanKind = "internal" | "server" | "producer" | "consumer";

/**
 * One span: a phase of one sampled stanza's way that crosses a boundary — the stream that took
 * it in, a bus hop out of or into a node, offline storage. What happens in between inside one
 * node (the route taken, each write to a stream) is an attribute or an event of the span it
 * happens in: a span costs an SDK object, an export record and its ids, an event a timestamp in
 * the span's list, which is what keeps 1 % sampling cheap at full rate (docs/observability.md).
 */
export interface Span {
  /** an attribute: the route taken, the outcome of a delivery, the destination node */
  set(key: string, value: SpanValue): void;
  /** a timestamped event with its attributes: one delivery to one stream */
  event(name: string, attributes: Record<string, SpanValue>): void;
  /** ends it; `error` marks it failed, with the reason */
  end(status?: "ok" | "error", message?: string): void;
}

export interface Tracing {
  /** false: nothing is traced, callers stop at this flag */
  readonly enabled: boolean;
  /**
   * The sampling decision for a stanza a client sent (a new trace): its root span when sampled,
   * undefined otherwise, with nothing allocated.
   */
  startStanza(name: string): Span | undefined;
  /** a span under `parent`, in the same trace */
  startChild(parent: Span, name: string, kind?: SpanKind): Span;
  /** `span`'s context as W3C trace-context headers (`traceparent`, `tracestate`), added to `into` */
  inject(span: Span, into: BusHeaders): void;
  /**
   * A span continuing the trace whose context `headers` carry (another node's publish), or
   * undefined when they carry none or the trace is not sampled.
   */
  startFromCarrier(headers: BusHeaders, name: string, kind?: SpanKind): Span | undefined;
}

/** Traces nothing: the default when a process wires no tracing adapter. */
export const noopTracing: Tracing = {
  enabled: false,
  startStanza: () => undefined,
  startChild: (parent) => parent,
  inject: () => {},
  startFromCarrier: () => undefined,
};

/** The W3C trace-context header (https://www.w3.org/TR/trace-context/#traceparent-header). */
export const TRACEPARENT = "traceparent";

const ROOT_NAMES: Readonly<Record<string, string>> = { message: "c2s.message", presence: "c2s.presence", iq: "c2s.iq" };

/**
 * Which span a sampled stanza's trace continues from on this node: the c2s root span, then the
 * router's, or the receiving node's bus span. Kept beside the element (a WeakMap, never a field
 * on it), so nothing on the write path changes the element and a dropped stanza takes its entry
 * with it.
 */
export class StanzaTraces {
  private readonly spans = new WeakMap<Element, Span>();

  constructor(readonly tracing: Tracing) {}

  /**
   * The sampling decision for a stanza a client sent: its root span when sampled (named by kind,
   * `c2s.message`; its type and id as attributes), undefined otherwise. `within` makes it current.
   */
  start(stanza: Element): Span | undefined {
    if (!this.tracing.enabled) return undefined;
    const span = this.tracing.startStanza(ROOT_NAMES[stanza.name] ?? "c2s.stanza");
    if (!span) return undefined;
    span.set("xmpp.stanza", stanza.name);
    if (stanza.attrs.type) span.set("xmpp.type", stanza.attrs.type);
    if (stanza.attrs.id) span.set("xmpp.id", stanza.attrs.id);
    return span;
  }

  /** the span the stanza's trace continues from here; undefined when it is not sampled */
  of(stanza: Element): Span | undefined {
    return this.tracing.enabled ? this.spans.get(stanza) : undefined;
  }

  attach(stanza: Element, span: Span): void {
    this.spans.set(stanza, span);
  }

  /** A new element stands for the traced one (a filter replaced it): the trace follows it. */
  carry(from: Element, to: Element): void {
    const span = this.of(from);
    if (span) this.spans.set(to, span);
  }

  /** a child span of the stanza's, or undefined when the stanza is not sampled */
  child(stanza: Element, name: string, kind?: SpanKind): Span | undefined {
    const parent = this.of(stanza);
    return parent && this.tracing.startChild(parent, name, kind);
  }

  /**
   * Runs `work` under `span` as the stanza's current span (children made meanwhile hang under
   * it), then ends it, failed if `work` threw, and restores the previous one.
   */
  async within<T>(stanza: Element, span: Span, work: () => Promise<T>): Promise<T> {
    const previous = this.spans.get(stanza);
    this.spans.set(stanza, span);
    try {
      const result = await work();
      span.end();
      return result;
    } catch (err) {
      span.end("error", err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      if (previous) this.spans.set(stanza, previous);
      else this.spans.delete(stanza);
    }
  }
}
