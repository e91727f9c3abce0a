import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "@switchboard/core";
import { OverloadGuard, type Pausable } from "./overload.js";

class FakeStream implements Pausable {
  paused = false;
  pauseReading() {
    this.paused = true;
  }
  resumeReading() {
    this.paused = false;
  }
}

describe("OverloadGuard", () => {
  it("pauses every stream while the loop lags and resumes when it recovers", () => {
    let t = 0;
    const streams = [new FakeStream(), new FakeStream()];
    const guard = new OverloadGuard(() => streams, silentLogger, { sampleMs: 50, pauseAboveMs: 250, resumeBelowMs: 50 }, () => t);
    guard.start();
    t = 50;
    guard.sample(); // on time
    expect(streams.some((s) => s.paused)).toBe(false);
    t = 400;
    guard.sample(); // 300 ms late
    expect(guard.overloaded).toBe(true);
    expect(streams.every((s) => s.paused)).toBe(true);
    t = 550;
    guard.sample(); // 100 ms late: still above the resume mark
    expect(streams.every((s) => s.paused)).toBe(true);
    t = 610;
    guard.sample(); // 10 ms late
    expect(guard.overloaded).toBe(false);
    expect(streams.some((s) => s.paused)).toBe(false);
    expect(guard.counters.pauses).toBe(1);
    guard.stop();
  });

  it("measures real lag: a blocked loop trips it", async () => {
    const stream = new FakeStream();
    const guard = new OverloadGuard(() => [stream], silentLogger, { sampleMs: 10, pauseAboveMs: 150, resumeBelowMs: 50 });
    guard.start();
    const until = Date.now() + 400;
    while (Date.now() < until); // block the event loop for 400 ms
    await vi.waitFor(() => expect(guard.counters.pauses).toBeGreaterThanOrEqual(1), { timeout: 2000 });
    // once the loop runs freely again, reading resumes (generous bound: CI machines are busy)
    await vi.waitFor(() => expect(stream.paused).toBe(false), { timeout: 5000 });
    guard.stop();
  });
});
