/**
 * An in-process OTLP/HTTP receiver for traces (JSON, as the adapter exports them): what the
 * tests point OTEL_EXPORTER_OTLP_TRACES_ENDPOINT at to see the spans a node exported, each
 * flattened with its resource's attributes. Not for production: it keeps everything in memory.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span */
  parentSpanId: string;
  name: string;
  /** OTLP's span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error */
  status: number;
  /** the resource's attributes: service.name, service.instance.id (the node id) */
  resource: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** the traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
  url: string;
  spans: ReceivedSpan[];
  /** how many export requests arrived (empty ones included) */
  requests: number;
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

function attributes(list: OtlpAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
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
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests++;
      try {
        let body = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        if (req.url?.endsWith("/v1/traces") && body.length > 0) spans.push(...spansOfExport(JSON.parse(body.toString("utf8"))));
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
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
