/**
 * Slow receivers, the core's part (docs/architecture.md "Streams"): the stream engine measures
 * a connection's outbound queue (stream/congestion.ts) and says when it is congested or relieved;
 * the session shows it (`LocalSession.congested`) and the `session/congestion` event carries the
 * change to whoever reacts on the outgoing path (modules/congestion). One counter for every part
 * that acts on it, so an operator reads one metric.
 */
import type { Host } from "./host.js";
import type { Counter } from "./metrics.js";

/** what a congestion action is counted as in switchboard_congestion_total{action} */
export type CongestionAction = "diverted" | "coalesced" | "flushed" | "bounced" | "refused" | "closed";

/** switchboard_congestion_total (the metrics port hands back the same instrument to every caller). */
export function congestionCounter(host: Host): Counter {
  return host.metrics.counter("switchboard_congestion_total", {
    help: "Slow receivers: messages diverted to offline storage, presence coalesced, diverted messages flushed back, bounced, writes refused at the hard cap, connections closed",
    labels: ["action"],
  });
}
