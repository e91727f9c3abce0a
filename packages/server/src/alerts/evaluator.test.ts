import { describe, expect, it } from "vitest";
import { SessionTraffic } from "@switchboard/core";
import type { TrafficWindow } from "./accounting.js";
import { RuleEvaluator, checkRule } from "./evaluator.js";
import type { AlertRule } from "./rules.js";

/** a window of 10 s where user i sent rates[i] stanzas per second */
function window(rates: Record<string, number>): TrafficWindow {
  return { seconds: 10, sums: new Map(Object.entries(rates).map(([u, r]) => [u, Float64Array.of(r * 10)])) };
}

/** n users at 1/s, plus extras */
function population(n: number, extra: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[`u${i}@x`] = 1 + (i % 3) * 0.5;
  return { ...out, ...extra };
}

const absolute: AlertRule = { name: "abs", measure: "stanzas_in_per_second", above: 5, forSeconds: 10 };
const outlier: AlertRule = { name: "p99", measure: "stanzas_in_per_second", aboveP99Times: 10, forSeconds: 10 };

describe("alert rule checks", () => {
  it("an absolute rule: users whose rate over the window is above the threshold, and only those", () => {
    const breaches = checkRule(absolute, window({ "a@x": 5, "b@x": 5.1, "c@x": 100 }), 0);
    expect(breaches.map((b) => [b.subject, b.value, b.threshold])).toEqual([
      ["b@x", 5.1, 5],
      ["c@x", 100, 5],
    ]);
  });

  it("a p99 rule is not checked under 20 active users, however far one stands out", () => {
    expect(checkRule(outlier, window(population(18, { "big@x": 1000 })), 0)).toEqual([]);
    // users with none of the measure in the window are not the population
    const idle = window(population(18, { "big@x": 1000 }));
    (idle.sums as Map<string, Float64Array>).set("idle@x", Float64Array.of(0));
    expect(checkRule(outlier, idle, 0)).toEqual([]);
  });

  it("a p99 rule compares each user with the p99 of the others: the one outlier of 20 is found", () => {
    const breaches = checkRule(outlier, window(population(19, { "big@x": 30 })), 0);
    expect(breaches.map((b) => b.subject)).toEqual(["big@x"]);
    // the p99 of the 19 others is their highest, 2/s: 30 > 10 × 2
    expect(breaches[0]).toMatchObject({ value: 30, threshold: 20, p99: { value: 2, population: 20 } });
    expect(checkRule(outlier, window(population(19, { "big@x": 19 })), 0)).toEqual([]);
  });

  it("on a large population the top 1 % sets the p99, so a few heavy users do not hide each other", () => {
    const heavy = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`heavy${i}@x`, 50 + i]));
    const breaches = checkRule(outlier, window(population(995, heavy)), 0);
    expect(breaches.map((b) => b.subject).sort()).toEqual(Object.keys(heavy).sort());
    expect(breaches[0]!.p99).toEqual({ value: 2, population: 1000 });
  });

  it("with both thresholds, `above` is the floor under the multiple", () => {
    const floored: AlertRule = { ...outlier, above: 50 };
    expect(checkRule(floored, window(population(19, { "big@x": 30 })), 0)).toEqual([]);
    expect(checkRule(floored, window(population(19, { "big@x": 60 })), 0)).toMatchObject([{ subject: "big@x", threshold: 50 }]);
  });

  it("evaluates every rule on one sample of the sessions, over each rule's window in whole intervals", () => {
    const evaluator = new RuleEvaluator([absolute, { ...absolute, name: "slow", forSeconds: 25 }], 10);
    expect(evaluator.windowSeconds({ ...absolute, forSeconds: 25 })).toBe(30);
    const s = { jid: { bare: "a@x" }, traffic: new SessionTraffic() };
    s.traffic.stanzasIn = 60; // 6/s over 10 s, 2/s over 30 s
    const breaches = evaluator.evaluate([s], 0);
    expect(breaches.map((b) => [b.rule.name, b.value])).toEqual([["abs", 6]]);
    expect(evaluator.accountedUsers()).toBe(1);
  });
});
