/**
 * Where the `switchboard-traced` target exports its spans: an OTLP/HTTP endpoint in the compare
 * process that answers every export with success and only counts requests and bytes (parsing
 * them would load the load generator's core), so the measured cost of tracing is the server's:
 * sampling, spans, batching, serialising and sending them.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  /** for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
  url: string;
  requests: number;
  bytes: number;
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const sink = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on("data", (chunk: Buffer) => void (sink.bytes += chunk.length));
    req.on("end", () => {
      sink.requests++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}/v1/traces`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
