/**
 * An in-process OTLP/HTTP receiver for traces, protobuf (the adapter's default) or JSON by the
 * request's content type: what the tests point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at to see the
 * spans a node exported, each flattened with its resource's attributes. Not for production: it
 * keeps everything in memory.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { spansOfProtobufExport } from "./otlp-protobuf.js";

export type SpanAttributes = Record<string, string | number | boolean>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span */
  parentSpanId: string;
  name: string;
  /** OTLP's span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  attributes: SpanAttributes;
  /** the span's events in order (a delivery on the node, say) */
  events: Array<{ name: string; attributes: SpanAttributes }>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error */
  status: number;
  /** the resource's attributes: service.name, service.instance.id (the node id) */
  resource: SpanAttributes;
}

export interface OtlpReceiver {
  /** the traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
  url: string;
  spans: ReceivedSpan[];
  /** how many export requests arrived (empty ones included) */
  requests: number;
  /** the content types the requests came with, in order */
  contentTypes: string[];
  /** resolves once the spans received satisfy `pred` (checked on every export), or rejects after `timeoutMs` */
  waitFor(pred: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttributes = Array<{ key: string; value: OtlpValue }> | undefined;

function attributes(list: OtlpAttributes): SpanAttributes {
  const out: SpanAttributes = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue !== undefined ? Number(value.intValue) : "");
  }
  return out;
}

/** The spans of one ExportTraceServiceRequest in its JSON form. */
export function spansOfExport(body: unknown): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  const request = body as { resourceSpans?: Array<{ resource?: { attributes?: OtlpAttributes }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }> };
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: String(s.traceId),
          spanId: String(s.spanId),
          parentSpanId: typeof s.parentSpanId === "string" ? s.parentSpanId : "",
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes: attributes(s.attributes as OtlpAttributes),
          events: ((s.events ?? []) as Array<{ name?: string; attributes?: OtlpAttributes }>).map((e) => ({ name: String(e.name ?? ""), attributes: attributes(e.attributes) })),
          status: Number((s.status as { code?: number } | undefined)?.code ?? 0),
          resource,
        });
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests++;
      const type = req.headers["content-type"] ?? "";
      contentTypes.push(type);
      const protobuf = type.startsWith("application/x-protobuf");
      try {
        let body = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        if (req.url?.endsWith("/v1/traces") && body.length > 0) spans.push(...(protobuf ? spansOfProtobufExport(body) : spansOfExport(JSON.parse(body.toString("utf8")))));
        // an empty ExportTraceServiceResponse, in the request's encoding
        if (protobuf) res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
        else res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    contentTypes,
    get requests() {
      return requests;
    },
    waitFor(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(spans)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(spans);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`OTLP receiver: the spans wanted did not arrive within ${timeoutMs} ms (${spans.length} spans: ${[...new Set(spans.map((s) => s.name))].join(", ")})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
