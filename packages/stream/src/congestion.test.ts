import { describe, expect, it } from "vitest";
import { CongestionWatch, type CongestionChange } from "./congestion.js";

/** A queue the test fills and drains by hand; check() is driven with explicit times. */
function watch(timeoutMs = 1000) {
  const q = { buffered: 0, written: 0 };
  const changes: CongestionChange[] = [];
  const w = new CongestionWatch({ bufferedBytes: () => q.buffered, writtenBytes: () => q.written }, 1000, timeoutMs, (c) => void changes.push(c));
  const write = (n: number) => {
    q.written += n;
    q.buffered += n;
    w.wrote();
  };
  return { q, w, changes, write };
}

describe("CongestionWatch", () => {
  it("is congested past the high-water mark and relieved only under half of it", () => {
    const { q, w, changes, write } = watch();
    write(1000);
    expect(w.congested).toBe(false);
    write(1);
    expect(changes).toEqual(["congested"]);
    q.buffered = 501;
    w.check();
    expect(w.congested).toBe(true);
    q.buffered = 500;
    w.check();
    expect(changes).toEqual(["congested", "relieved"]);
    w.stop();
  });

  it("never stalls a reader that takes a little within every timeout, however long it stays congested", () => {
    const { q, w, changes, write } = watch(1000);
    write(5000);
    const t0 = Date.now();
    for (let i = 1; i <= 20; i++) {
      q.buffered -= 10; // 10 bytes read per 900 ms: a crawl
      w.check(t0 + i * 900);
    }
    expect(changes).toEqual(["congested"]);
    w.check(t0 + 20 * 900 + 1000);
    expect(changes).toEqual(["congested", "stalled"]);
    expect(w.congested).toBe(false);
  });

  it("counts writes as no progress: a queue that only grows stalls", () => {
    const { w, changes, write } = watch(1000);
    write(2000);
    const t0 = Date.now();
    write(100);
    w.check(t0 + 500);
    write(100);
    w.check(t0 + 1001);
    expect(changes).toEqual(["congested", "stalled"]);
  });

  it("is full at four times the mark", () => {
    const { w, write } = watch();
    write(4000);
    expect(w.full).toBe(false);
    write(1);
    expect(w.full).toBe(true);
    w.stop();
  });
});
