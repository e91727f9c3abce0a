import { describe, expect, it } from "vitest";
import { parseLagSeconds, peakRssBytes } from "./probes.js";

describe("storm-kill probes", () => {
  it("reads the event-loop lag gauge from a Prometheus page, with or without labels", () => {
    const page = ["# HELP switchboard_event_loop_lag_seconds Event-loop delay", "# TYPE switchboard_event_loop_lag_seconds gauge", 'switchboard_event_loop_lag_seconds{node="a"} 0.0421', "switchboard_process_resident_memory_bytes 1e8"].join("\n");
    expect(parseLagSeconds(page)).toBeCloseTo(0.0421);
    expect(parseLagSeconds("switchboard_event_loop_lag_seconds 1.5\n")).toBe(1.5);
    expect(parseLagSeconds("other_metric 3\n")).toBeUndefined();
  });

  it("reads this process's peak RSS from /proc, and nothing for a process that does not exist", () => {
    expect(peakRssBytes(process.pid)).toBeGreaterThan(1_000_000);
    expect(peakRssBytes(2 ** 22 + 7)).toBeUndefined();
  });
});
