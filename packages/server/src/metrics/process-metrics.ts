/**
 * The process's own health as metrics: event-loop delay (p99 since the last collection, the
 * figure that says whether the edge keeps up) and resident memory.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Metrics } from "@switchboard/core";

export function watchProcess(metrics: Metrics): () => void {
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  metrics.observe("switchboard_event_loop_lag_seconds", { help: "Event-loop delay, p99 since the last collection" }, () => {
    const p99 = delay.count > 0 ? delay.percentile(99) / 1e9 : 0;
    delay.reset();
    return [[p99]];
  });
  metrics.observe("switchboard_process_resident_memory_bytes", { help: "Resident set size of the process" }, () => [[process.memoryUsage.rss()]]);
  return () => delay.disable();
}
