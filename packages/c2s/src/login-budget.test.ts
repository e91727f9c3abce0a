import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Host, InProcessMetrics, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, MemoryStore, silentLogger } from "@switchboard/core";
import { LoginBudget, type LoginAdmission } from "./login-budget.js";

function host(metrics = new InProcessMetrics()): Host {
  return new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log: silentLogger, metrics });
}

const open = () => false;

describe("LoginBudget", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("lets a burst of one second's worth through at once, then paces the rest in arrival order", async () => {
    const budget = new LoginBudget(host(), 10, 5_000);
    for (let i = 0; i < 10; i++) expect(budget.admit(open)).toBeUndefined();
    const served: number[] = [];
    for (let i = 0; i < 5; i++) void budget.admit(open)!.then((a) => a.allowed && served.push(i));
    expect(budget.waiting).toBe(5);
    await vi.advanceTimersByTimeAsync(250);
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.length).toBeLessThanOrEqual(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(served).toEqual([0, 1, 2, 3, 4]);
    expect(budget.counters).toMatchObject({ immediate: 10, waited: 5, refused: 0 });
  });

  it("tells a login that waited too long to come back, with a hint that grows with the queue", async () => {
    const metrics = new InProcessMetrics();
    const budget = new LoginBudget(host(metrics), 2, 1_000);
    budget.admit(open);
    budget.admit(open);
    const answers: LoginAdmission[] = [];
    for (let i = 0; i < 12; i++) void budget.admit(open)!.then((a) => answers.push(a));
    await vi.advanceTimersByTimeAsync(1_500);
    expect(answers).toHaveLength(12);
    const allowed = answers.filter((a) => a.allowed);
    const refused = answers.filter((a): a is Extract<LoginAdmission, { allowed: false }> => !a.allowed);
    expect(allowed.length).toBeGreaterThanOrEqual(1);
    expect(allowed.length).toBeLessThanOrEqual(3);
    expect(refused.length).toBe(12 - allowed.length);
    for (const r of refused) {
      expect(r.text).toMatch(/try again in \d+ s/);
      expect(r.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    }
    // the first refused had the most queued behind it... ahead of the later ones: its hint is the longest
    expect(refused[0]!.retryAfterMs).toBeGreaterThan(refused.at(-1)!.retryAfterMs);
    expect(metrics.value("switchboard_login_budget_total", { outcome: "refused" })).toBe(refused.length);
    expect(metrics.value("switchboard_login_budget_total", { outcome: "waited" })).toBe(allowed.length);
    expect(metrics.value("switchboard_limit_refusals_total", { policy: "c2s.logins" })).toBeGreaterThanOrEqual(1);
  });

  it("skips a login whose stream closed while it waited, spending nothing on it", async () => {
    const budget = new LoginBudget(host(), 1, 5_000);
    budget.admit(open);
    let closed = false;
    const gone = budget.admit(() => closed)!;
    const next = budget.admit(open)!;
    closed = true;
    let nextAnswer: LoginAdmission | undefined;
    void next.then((a) => (nextAnswer = a));
    await vi.advanceTimersByTimeAsync(1_100);
    expect(await gone).toEqual({ allowed: true }); // resolved, not left hanging; its caller sees the stream closed
    expect(nextAnswer).toEqual({ allowed: true }); // took the token the closed one did not
  });
});
