/**
 * Per-user traffic accounting over sliding windows (issue 12 "Detection and alerts"), sampled,
 * never counted per stanza: the client stream already keeps each session's cumulative counters
 * (core/session.ts SessionTraffic, c2s/traffic.ts), so one pass over this node's sessions every
 * `alerts.evaluateSeconds` turns their growth since the previous pass into one bucket of
 * per-user deltas. A window of w intervals is a running sum of the last w buckets per user
 * (one addition when a bucket comes in, one subtraction when it leaves), so a check of every
 * rule costs the users active in its window, not the window's length.
 *
 * Sessions come and go between samples. The previous pass's counters are kept by session
 * object, so a session that vanished is still read once more (its final counts); one that
 * appeared counts from zero (adopted and resumed-here sessions start at zero too); one that
 * came and went between two passes is told by `ended()` (session/closed) and read at the next.
 * Per node: a user's sessions on other nodes are accounted there.
 */
import type { SessionTraffic } from "@switchboard/core";
import { MEASURES, type Measure } from "./rules.js";

/** What the accounting reads of a session: whose it is, and its counters. */
export interface AccountedSession {
  readonly jid: { readonly bare: string };
  readonly traffic: SessionTraffic;
}

/**
 * One interval's growth: the users with any, and their deltas (row-major, one column per
 * measure). Whole numbers below 2^32 (4 GB in one interval; more is clamped), half the memory
 * of doubles: the buckets are what the accounting's size is made of.
 */
interface Bucket {
  users: string[];
  values: Uint32Array;
  seconds: number;
}

export interface TrafficWindow {
  /** what the sums are divided by: the buckets' span, or the nominal window while it fills */
  seconds: number;
  /** users with traffic in the window, and their sums by measure column (accounting.column()) */
  sums: ReadonlyMap<string, Float64Array>;
}

export class TrafficAccounting {
  private readonly fields: ReadonlyArray<keyof SessionTraffic>;
  private readonly width: number;
  /** counters of each session as the latest pass read them, and (last column) that pass's number */
  private readonly seen = new Map<AccountedSession, Float64Array>();
  private pass = 0;
  /** newest last; as many as the longest window has intervals */
  private readonly buckets: Bucket[] = [];
  private readonly windows = new Map<number, Map<string, Float64Array>>();
  private readonly keep: number;
  private lastAt?: number;

  /**
   * `measures`: what is kept per user (only those the rules read); `windows`: the window
   * lengths wanted, in intervals of `intervalSeconds`.
   */
  constructor(
    private readonly measures: readonly Measure[],
    windows: readonly number[],
    private readonly intervalSeconds: number,
  ) {
    this.fields = measures.map((m) => MEASURES[m]);
    this.width = measures.length;
    for (const w of windows) this.windows.set(w, new Map());
    this.keep = Math.max(1, ...windows);
  }

  /** The column of `measure` in a window's sums. */
  column(measure: Measure): number {
    const i = this.measures.indexOf(measure);
    if (i < 0) throw new Error(`measure ${measure} is not accounted`);
    return i;
  }

  /** A session ended: read once more at the next pass even if no pass saw it. */
  ended(session: AccountedSession): void {
    if (!this.seen.has(session)) this.seen.set(session, this.fresh());
  }

  /** One pass over the node's sessions: their growth since the previous pass becomes a bucket. */
  sample(sessions: Iterable<AccountedSession>, now: number): void {
    const seconds = this.lastAt === undefined ? this.intervalSeconds : Math.max(0.001, (now - this.lastAt) / 1000);
    this.lastAt = now;
    const pass = ++this.pass;
    const growth = new Map<string, Float64Array>();
    for (const session of sessions) {
      let seen = this.seen.get(session);
      if (!seen) this.seen.set(session, (seen = this.fresh()));
      this.read(session, seen, growth);
      seen[this.width] = pass;
    }
    // not read in this pass: seen before and gone now, read for its final counts and forgotten
    // (kept in place rather than copied to a new map each pass: no churn of 100k entries)
    for (const [session, seen] of this.seen) {
      if (seen[this.width] === pass) continue;
      this.read(session, seen, growth);
      this.seen.delete(session);
    }
    this.push(toBucket(growth, this.width, seconds));
  }

  /** The sums of the last `intervals` buckets (a window length given to the constructor). */
  window(intervals: number): TrafficWindow {
    const sums = this.windows.get(intervals);
    if (!sums) throw new Error(`no window of ${intervals} intervals is kept`);
    let span = 0;
    for (let i = Math.max(0, this.buckets.length - intervals); i < this.buckets.length; i++) span += this.buckets[i]!.seconds;
    return { seconds: Math.max(span, intervals * this.intervalSeconds), sums };
  }

  /** Sessions the accounting holds counters of (tests; a bound on its memory). */
  get sessionCount(): number {
    return this.seen.size;
  }

  /** zero counters, and pass 0 (none) */
  private fresh(): Float64Array {
    return new Float64Array(this.width + 1);
  }

  /** Adds the session's growth since `seen` to its user's row in `growth`; `seen` becomes its counters now. */
  private read(session: AccountedSession, seen: Float64Array, growth: Map<string, Float64Array>): void {
    let row: Float64Array | undefined;
    for (let i = 0; i < this.width; i++) {
      const value = session.traffic[this.fields[i]!];
      const delta = value - seen[i]!;
      if (delta > 0) {
        if (!row) {
          const bare = session.jid.bare;
          row = growth.get(bare);
          if (!row) growth.set(bare, (row = new Float64Array(this.width)));
        }
        row[i]! += delta;
      }
      seen[i] = value;
    }
  }

  private push(bucket: Bucket): void {
    this.buckets.push(bucket);
    for (const [intervals, sums] of this.windows) {
      addBucket(sums, bucket, this.width, 1);
      const leaving = this.buckets.length - 1 - intervals;
      if (leaving >= 0) addBucket(sums, this.buckets[leaving]!, this.width, -1);
    }
    if (this.buckets.length > this.keep) this.buckets.splice(0, this.buckets.length - this.keep);
  }
}

function toBucket(growth: Map<string, Float64Array>, width: number, seconds: number): Bucket {
  const users = [...growth.keys()];
  const values = new Uint32Array(users.length * width);
  let i = 0;
  for (const row of growth.values()) {
    for (let c = 0; c < width; c++) values[width * i + c] = Math.min(row[c]!, 0xffffffff);
    i++;
  }
  return { users, values, seconds };
}

/** Adds (sign 1) or takes out (sign -1) a bucket; a user whose sums are all zero leaves the window. */
function addBucket(sums: Map<string, Float64Array>, bucket: Bucket, width: number, sign: 1 | -1): void {
  for (let u = 0; u < bucket.users.length; u++) {
    const user = bucket.users[u]!;
    let row = sums.get(user);
    if (!row) {
      if (sign < 0) continue;
      sums.set(user, (row = new Float64Array(width)));
    }
    let left = 0;
    for (let i = 0; i < width; i++) {
      // counts are integers, so adding and taking out again is exact
      row[i]! += sign * bucket.values[u * width + i]!;
      left += row[i]!;
    }
    if (left <= 0) sums.delete(user);
  }
}
