/**
 * How long exporting holds the event loop: N sampled stanza spans, ended in bursts of 50, with
 * a 1 ms probe timer recording every gap over 2 ms. Compares the export thread (default) with
 * the main-thread exporter. Not part of the suite; run on a quiet machine:
 *
 *   node --conditions=source --import tsx packages/server/src/tracing/export-stall.bench.ts
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { OtelTracing } from "./otel-tracing.js";

const N = Number(process.env.SPANS ?? 5_000);

async function run(thread: boolean): Promise<string> {
  const sink = http.createServer((req, res) => void req.resume().on("end", () => res.end("{}")));
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`, SWITCHBOARD_TRACING_EXPORT_THREAD: thread ? "1" : "0" };
  const tracing = new OtelTracing({ nodeId: "bench", sampleRatio: 1, env });
  const stalls: number[] = [];
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    if (now - last - 1 > 2) stalls.push(now - last - 1);
    last = now;
  }, 1);
  for (let i = 0; i < N; i++) {
    const span = tracing.startStanza("c2s.message")!;
    span.set("switchboard.route", "message/full");
    span.event("deliver", { "switchboard.target.node": "bench", "switchboard.delivery": "written" });
    span.end();
    if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await tracing.flush();
  clearInterval(probe);
  await tracing.shutdown();
  sink.close();
  stalls.sort((a, b) => b - a);
  const sum = stalls.reduce((a, b) => a + b, 0);
  return `${thread ? "export thread" : "main thread  "}: ${N} spans, worst gap ${(stalls[0] ?? 0).toFixed(1)} ms, ${stalls.length} gaps over 2 ms (${sum.toFixed(0)} ms in all)`;
}

for (const thread of [false, true, false, true]) process.stdout.write(`${await run(thread)}\n`);
