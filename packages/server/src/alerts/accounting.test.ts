import { describe, expect, it } from "vitest";
import { SessionTraffic } from "@switchboard/core";
import { TrafficAccounting, type AccountedSession } from "./accounting.js";

function session(bare: string): AccountedSession & { traffic: SessionTraffic } {
  return { jid: { bare }, traffic: new SessionTraffic() };
}

/** user → [stanzas_in, bytes_out] sums of a window */
function sums(acc: TrafficAccounting, intervals: number): Record<string, number[]> {
  return Object.fromEntries([...acc.window(intervals).sums].map(([user, row]) => [user, [...row]]));
}

describe("per-user traffic accounting", () => {
  it("adds what each session grew by since the previous pass to its user, all the user's sessions together", () => {
    const acc = new TrafficAccounting(["stanzas_in_per_second", "bytes_out_per_second"], [1, 3], 10);
    const a1 = session("a@x");
    const a2 = session("a@x");
    const b = session("b@x");
    a1.traffic.stanzasIn = 5;
    a1.traffic.bytesOut = 100;
    acc.sample([a1, a2, b], 0);
    expect(sums(acc, 1)).toEqual({ "a@x": [5, 100] });
    a1.traffic.stanzasIn = 8;
    a2.traffic.stanzasIn = 2;
    b.traffic.bytesOut = 7;
    acc.sample([a1, a2, b], 10_000);
    expect(sums(acc, 1)).toEqual({ "a@x": [5, 0], "b@x": [0, 7] });
    expect(sums(acc, 3)).toEqual({ "a@x": [10, 100], "b@x": [0, 7] });
    // a pass with no growth leaves nobody in a window of one interval
    acc.sample([a1, a2, b], 20_000);
    expect(sums(acc, 1)).toEqual({});
    expect(sums(acc, 3)).toEqual({ "a@x": [10, 100], "b@x": [0, 7] });
  });

  it("slides: a bucket older than the window leaves it, and a user with nothing left in it is forgotten", () => {
    const acc = new TrafficAccounting(["stanzas_in_per_second"], [2], 10);
    const a = session("a@x");
    for (const [i, n] of [3, 4, 0, 0].entries()) {
      a.traffic.stanzasIn += n;
      acc.sample([a], i * 10_000);
    }
    expect(sums(acc, 2)).toEqual({});
    a.traffic.stanzasIn += 1;
    acc.sample([a], 40_000);
    expect(sums(acc, 2)).toEqual({ "a@x": [1] });
    expect(acc.window(2).seconds).toBe(20);
  });

  it("reads a session that vanished once more (its final counts) and forgets it", () => {
    const acc = new TrafficAccounting(["stanzas_in_per_second"], [5], 1);
    const a = session("a@x");
    a.traffic.stanzasIn = 2;
    acc.sample([a], 0);
    a.traffic.stanzasIn = 9; // grew, then the session ended before the next pass
    acc.sample([], 1_000);
    expect(sums(acc, 5)).toEqual({ "a@x": [9] });
    expect(acc.sessionCount).toBe(0);
    acc.sample([], 2_000);
    expect(sums(acc, 5)).toEqual({ "a@x": [9] });
  });

  it("counts a session that came and went between two passes, when told it ended, once", () => {
    const acc = new TrafficAccounting(["stanzas_in_per_second"], [5], 1);
    acc.sample([], 0);
    const short = session("s@x");
    short.traffic.stanzasIn = 40;
    acc.ended(short);
    acc.ended(short);
    acc.sample([], 1_000);
    expect(sums(acc, 5)).toEqual({ "s@x": [40] });
    // one that ended but is still listed at the next pass (the table lags) is not counted twice
    const late = session("l@x");
    late.traffic.stanzasIn = 3;
    acc.ended(late);
    acc.sample([late], 2_000);
    acc.sample([], 3_000);
    expect(sums(acc, 5)).toEqual({ "s@x": [40], "l@x": [3] });
  });

  it("divides by the nominal window while it fills, and by the real span when passes came late", () => {
    const acc = new TrafficAccounting(["stanzas_in_per_second"], [3], 10);
    acc.sample([], 0);
    expect(acc.window(3).seconds).toBe(30);
    acc.sample([], 25_000);
    acc.sample([], 50_000);
    expect(acc.window(3).seconds).toBe(60); // 10 (the first pass) + 25 + 25
    expect(() => acc.window(4)).toThrow(/no window/);
    expect(() => acc.column("iqs_in_per_second")).toThrow(/not accounted/);
  });
});
