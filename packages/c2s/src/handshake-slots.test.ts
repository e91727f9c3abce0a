import { describe, expect, it, vi } from "vitest";
import { InProcessMetrics, silentLogger, type Logger } from "@switchboard/core";
import { HandshakeSlots, holdAtMost, type Release } from "./handshake-slots.js";

describe("HandshakeSlots", () => {
  it("grants at once under the cap and makes the rest wait, served in arrival order", () => {
    const slots = new HandshakeSlots(2, silentLogger);
    const order: string[] = [];
    const releases = new Map<string, Release>();
    for (const name of ["a", "b", "c", "d", "e"]) {
      slots.request("tls", (release) => {
        order.push(name);
        releases.set(name, release);
      });
    }
    expect(order).toEqual(["a", "b"]);
    expect(slots.inFlight).toBe(2);
    expect(slots.queued).toBe(3);
    releases.get("b")!();
    expect(order).toEqual(["a", "b", "c"]);
    releases.get("a")!();
    releases.get("c")!();
    expect(order).toEqual(["a", "b", "c", "d", "e"]);
    expect(slots.inFlight).toBe(2);
    expect(slots.queued).toBe(0);
    expect(slots.counters).toEqual({ granted: 5, waited: 3, refused: 0 });
  });

  it("does not let newcomers overtake waiters when a slot frees", () => {
    const slots = new HandshakeSlots(1, silentLogger);
    const order: string[] = [];
    let first: Release | undefined;
    slots.request("sasl", (r) => ((first = r), order.push("first")));
    slots.request("sasl", (r) => (order.push("waiter"), r()));
    first!();
    slots.request("sasl", (r) => (order.push("newcomer"), r()));
    expect(order).toEqual(["first", "waiter", "newcomer"]);
  });

  it("a release given twice frees one slot only", () => {
    const slots = new HandshakeSlots(1, silentLogger);
    let release: Release | undefined;
    slots.request("tls", (r) => (release = r));
    const granted: string[] = [];
    slots.request("tls", () => granted.push("x"));
    slots.request("tls", () => granted.push("y"));
    release!();
    release!();
    expect(granted).toEqual(["x"]);
    expect(slots.inFlight).toBe(1);
  });

  it("takes a cancelled waiter out of the queue: the slot goes to the next one", () => {
    const slots = new HandshakeSlots(1, silentLogger);
    let release: Release | undefined;
    slots.request("tls", (r) => (release = r));
    const granted: string[] = [];
    const cancel = slots.request("tls", () => granted.push("gone"));
    slots.request("tls", () => granted.push("next"));
    cancel!();
    expect(slots.queued).toBe(1);
    release!();
    expect(granted).toEqual(["next"]);
  });

  it("refuses a request when the queue is full, and counts it", () => {
    const metrics = new InProcessMetrics();
    const slots = new HandshakeSlots(1, silentLogger, metrics, 2);
    slots.request("tls", () => {});
    expect(slots.request("tls", () => {})).toBeTypeOf("function");
    expect(slots.request("sasl", () => {})).toBeTypeOf("function");
    const granted = vi.fn();
    expect(slots.request("sasl", granted)).toBeUndefined();
    expect(granted).not.toHaveBeenCalled();
    expect(slots.counters.refused).toBe(1);
    expect(metrics.value("switchboard_handshakes_refused_total", { work: "sasl" })).toBe(1);
    expect(metrics.value("switchboard_handshakes_waited_total", { work: "tls" })).toBe(1);
    expect(metrics.value("switchboard_handshakes_in_flight")).toBe(1);
    expect(metrics.value("switchboard_handshakes_waiting")).toBe(2);
  });

  it("with a cap of 0 never makes anyone wait, and still counts work in flight", () => {
    const slots = new HandshakeSlots(0, silentLogger);
    const releases: Release[] = [];
    for (let i = 0; i < 1000; i++) slots.request("tls", (r) => releases.push(r));
    expect(releases).toHaveLength(1000);
    expect(slots.inFlight).toBe(1000);
    for (const r of releases) r();
    expect(slots.inFlight).toBe(0);
  });

  it("acquire() resolves in order once slots free, and undefined when refused", async () => {
    const slots = new HandshakeSlots(1, silentLogger, undefined, 1);
    const first = await slots.acquire("sasl");
    const second = slots.acquire("sasl");
    expect(await slots.acquire("sasl")).toBeUndefined();
    first!();
    const r = await second;
    expect(r).toBeTypeOf("function");
    expect(slots.inFlight).toBe(1);
  });

  it("holdAtMost gives the slot back after the bound when the work never ends", () => {
    vi.useFakeTimers();
    try {
      const slots = new HandshakeSlots(1, silentLogger);
      let done: Release | undefined;
      slots.request("tls", (r) => (done = holdAtMost(r, 2_000)));
      const next = vi.fn();
      slots.request("tls", next);
      vi.advanceTimersByTime(1_999);
      expect(next).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(next).toHaveBeenCalledOnce();
      done!(); // the stuck work ends late: nothing is freed twice
      expect(slots.inFlight).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("logs one line per burst, with the count, not one per waiter", () => {
    const lines: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
    const log: Logger = { ...silentLogger, info: (obj: Record<string, unknown>, msg?: string) => void lines.push({ obj, msg }), child: () => log } as Logger;
    let t = 0;
    const slots = new HandshakeSlots(1, log, undefined, Infinity, () => t);
    for (let i = 0; i < 100; i++) slots.request("tls", () => {});
    expect(lines).toHaveLength(1);
    expect(lines[0]!.obj).toMatchObject({ limit: "limits.maxConcurrentHandshakes", value: 1, waited: 1 });
    t = 10_000;
    slots.request("tls", () => {});
    expect(lines).toHaveLength(2);
    expect(lines[1]!.obj).toMatchObject({ waited: 99, waiting: 100 });
  });
});
