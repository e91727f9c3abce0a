/** Bounded measurement helpers: a log-bucketed latency histogram and server RSS from /proc. */
import { readFileSync } from "node:fs";
import type { Failures } from "./types.js";

// 32 buckets per power of two: a recorded value is reported within ~2.2 % of its true value.
const SUB_BUCKETS = 32;
const MAX_EXPONENT = 48; // 2^48 ns ≈ 78 hours

/** Fixed-size latency histogram in nanoseconds (about 12 KB whatever the number of samples). */
export class LatencyHistogram {
  private readonly counts = new Float64Array(MAX_EXPONENT * SUB_BUCKETS);
  count = 0;
  maxNs = 0;

  record(ns: number): void {
    const v = Math.max(1, ns);
    const index = Math.min(this.counts.length - 1, Math.floor(Math.log2(v) * SUB_BUCKETS));
    this.counts[index]!++;
    this.count++;
    if (v > this.maxNs) this.maxNs = v;
  }

  /** Value at quantile q in [0, 1], in nanoseconds (bucket geometric midpoint, capped at max); 0 when empty. */
  quantileNs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxNs, 2 ** ((i + 0.5) / SUB_BUCKETS));
    }
    return this.maxNs;
  }
}

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) the given processes have used so far, in ms, from /proc/<pid>/stat;
 * undefined when no process could be read. Differences around a scenario give the server's
 * cost per operation even when the load generator is what limits the rate.
 */
export function serverCpuMs(pids: readonly number[]): number | undefined {
  let ticks = 0;
  let read = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // fields after "(comm)": state is field 3, utime 14 and stime 15 (1-based, proc(5))
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
      read++;
    } catch {
      // process gone or /proc not available
    }
  }
  return read > 0 ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
}

/** Sum of VmRSS over the given processes, in bytes; a vanished process counts 0. */
export function serverRssBytes(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // process gone or /proc not available: nothing to add
    }
  }
  return total;
}

export function countFailure(failures: Failures, kind: string): void {
  failures[kind] = (failures[kind] ?? 0) + 1;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
