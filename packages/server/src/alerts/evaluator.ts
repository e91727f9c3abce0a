/**
 * Checking alert rules (rules.ts) against the accounting's windows (accounting.ts): a user
 * breaches a rule when the rule's measure, averaged over its window, is above its threshold.
 *
 * A p99 threshold (`aboveP99Times`) is a multiple of the nearest-rank 99th percentile of the
 * *other* users active in the window (a non-zero value of the measure): compared with a
 * population that includes it, the heaviest of 20 users would be its own p99 and could never
 * be above ten times it. Sorted ascending, the p99 of the n − 1 others of a user ranked above
 * index k = ⌈0.99 (n − 1)⌉ − 1 is the value at k, and no user at or below k can be above a
 * multiple ≥ 1 of it — so one sort per rule and window answers every user. Under
 * MIN_POPULATION active users a percentile says nothing, and the rule is not checked.
 */
import { TrafficAccounting, type AccountedSession, type TrafficWindow } from "./accounting.js";
import { MIN_POPULATION, type AlertRule } from "./rules.js";

export interface Breach {
  rule: AlertRule;
  /** the user's bare JID */
  subject: string;
  /** the user's rate, per second, averaged over the window */
  value: number;
  /** the rate it is above */
  threshold: number;
  /** for a p99 rule: the p99 of the others and how many users were active */
  p99?: { value: number; population: number };
}

/** Every user in `window` that breaches `rule`; `column` is the rule's measure in the sums. */
export function checkRule(rule: AlertRule, window: TrafficWindow, column: number): Breach[] {
  const out: Breach[] = [];
  if (rule.aboveP99Times === undefined) {
    const threshold = rule.above ?? 0;
    for (const [subject, row] of window.sums) {
      const value = row[column]! / window.seconds;
      if (value > threshold) out.push({ rule, subject, value, threshold });
    }
    return out;
  }
  const users: string[] = [];
  const rates: number[] = [];
  for (const [subject, row] of window.sums) {
    if (row[column]! > 0) (users.push(subject), rates.push(row[column]! / window.seconds));
  }
  const n = rates.length;
  if (n < MIN_POPULATION) return out;
  const sorted = Float64Array.from(rates).sort();
  // integer arithmetic: 0.99 * 100 is not exactly 99 in floating point
  const k = Math.ceil((99 * (n - 1)) / 100) - 1;
  const p99 = sorted[k]!;
  const threshold = Math.max(rule.aboveP99Times * p99, rule.above ?? 0);
  for (let i = 0; i < n; i++) {
    if (rates[i]! > threshold) out.push({ rule, subject: users[i]!, value: rates[i]!, threshold, p99: { value: p99, population: n } });
  }
  return out;
}

/**
 * The rules and the accounting they need: only the measures and window lengths the rules
 * name are kept. A window is `forSeconds` rounded up to whole evaluation intervals.
 */
export class RuleEvaluator {
  private readonly accounting: TrafficAccounting;
  private readonly checks: Array<{ rule: AlertRule; intervals: number; column: number }>;

  constructor(
    readonly rules: readonly AlertRule[],
    readonly evaluateSeconds: number,
  ) {
    const intervalsOf = (rule: AlertRule) => Math.max(1, Math.ceil(rule.forSeconds / evaluateSeconds));
    const measures = [...new Set(rules.map((r) => r.measure))];
    this.accounting = new TrafficAccounting(measures, [...new Set(rules.map(intervalsOf))], evaluateSeconds);
    this.checks = rules.map((rule) => ({ rule, intervals: intervalsOf(rule), column: this.accounting.column(rule.measure) }));
  }

  /** See TrafficAccounting.ended. */
  ended(session: AccountedSession): void {
    this.accounting.ended(session);
  }

  /** One sample of the node's sessions, then every rule: what breaches now. */
  evaluate(sessions: Iterable<AccountedSession>, now: number): Breach[] {
    this.accounting.sample(sessions, now);
    return this.checks.flatMap((c) => checkRule(c.rule, this.accounting.window(c.intervals), c.column));
  }

  /** Users with traffic in the longest window (the accounting's size, as a gauge). */
  accountedUsers(): number {
    let most = 0;
    for (const c of this.checks) most = Math.max(most, this.accounting.window(c.intervals).sums.size);
    return most;
  }

  /** The window a rule is checked over, in seconds (its forSeconds rounded up to intervals). */
  windowSeconds(rule: AlertRule): number {
    return Math.max(1, Math.ceil(rule.forSeconds / this.evaluateSeconds)) * this.evaluateSeconds;
  }
}
