import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Host, InProcessMetrics, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, MemoryStore, silentLogger, type Logger } from "@switchboard/core";
import { LoginBudget, type LoginAdmission } from "./login-budget.js";

function host(metrics = new InProcessMetrics(), log: Logger = silentLogger): Host {
  return new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log, metrics });
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

  it("refuses at once a login the budget cannot serve within the wait, with a hint that covers the queue ahead", async () => {
    const metrics = new InProcessMetrics();
    const budget = new LoginBudget(host(metrics), 2, 2_000);
    budget.admit(open);
    budget.admit(open);
    const answers: Array<LoginAdmission | undefined> = [];
    const pending = Array.from({ length: 8 }, () => budget.admit(open)!);
    for (const p of pending) void p.then((a) => answers.push(a));
    await vi.advanceTimersByTimeAsync(0);
    // 4 fit in 2 s at 2 a second: they wait; the other 4 are told at once
    expect(budget.waiting).toBe(4);
    const refused = answers.filter((a): a is Extract<LoginAdmission, { allowed: false }> => a !== undefined && !a.allowed);
    expect(refused).toHaveLength(4);
    for (const r of refused) {
      expect(r.text).toBe(`the server is busy with a wave of logins; try again in ${r.retryAfterMs / 1000} s`);
      expect(r.retryAfterMs).toBeGreaterThanOrEqual(2_000); // the 4 ahead, at 2 a second
      expect(r.retryAfterMs).toBeLessThanOrEqual(3_000); // plus at most half again, to spread them
    }
    await vi.advanceTimersByTimeAsync(2_100);
    expect(answers.filter((a) => a?.allowed)).toHaveLength(4);
    expect(metrics.value("switchboard_login_budget_total", { outcome: "refused" })).toBe(4);
    expect(metrics.value("switchboard_login_budget_total", { outcome: "waited" })).toBe(4);
    expect(metrics.value("switchboard_limit_refusals_total", { policy: "c2s.logins" })).toBeGreaterThanOrEqual(1);
  });

  it("refuses a waiter still over the budget when its wait ends (the bucket drained by others, e.g. other edges)", async () => {
    const h = host();
    const budget = new LoginBudget(h, 2, 1_000);
    budget.admit(open);
    budget.admit(open);
    let answer: LoginAdmission | undefined;
    void budget.admit(open)!.then((a) => (answer = a));
    // someone else takes every token as it comes back: this node's bucket never has one
    h.limiter.hit = (policy, key) => ({ allowed: false, policy, key, remaining: 0, retryAfterMs: 100 });
    await vi.advanceTimersByTimeAsync(1_300);
    expect(answer).toMatchObject({ allowed: false });
    expect(budget.counters.refused).toBe(1);
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

  it("logs a burst of refusals as one line with its count", async () => {
    const warned: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
    const log: Logger = { ...silentLogger, warn: (obj: unknown, msg?: string) => void warned.push({ obj: obj as Record<string, unknown>, msg }), child: () => log };
    const budget = new LoginBudget(host(new InProcessMetrics(), log), 1, 1_000);
    budget.admit(open);
    for (let i = 0; i < 50; i++) void budget.admit(open);
    const budgetLines = () => warned.filter((l) => l.obj.limit === "limits.loginsPerSecond");
    expect(budgetLines()).toHaveLength(1);
    expect(budgetLines()[0]!.msg).toMatch(/login budget exceeded/);
    await vi.advanceTimersByTimeAsync(11_000);
    void budget.admit(open);
    void budget.admit(open);
    void budget.admit(open);
    expect(budgetLines()).toHaveLength(2);
    expect(budgetLines()[1]!.obj.refused).toBeGreaterThanOrEqual(48);
  });
});
