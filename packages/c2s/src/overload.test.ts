import { describe, expect, it } from "vitest";
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
    const guard = new OverloadGuard(() => [stream], silentLogger, { sampleMs: 10, pauseAboveMs: 100, resumeBelowMs: 20 });
    guard.start();
    const until = Date.now() + 200;
    while (Date.now() < until); // block the event loop for 200 ms
    await new Promise((r) => setTimeout(r, 30));
    expect(guard.counters.pauses).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(stream.paused).toBe(false);
    guard.stop();
  });
});
