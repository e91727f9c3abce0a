import { describe, expect, it } from "vitest";
import { StanzaError } from "@switchboard/xml";
import type { CoreEvents, LimitExceededEvent } from "./events.js";
import { HookBus } from "./hooks.js";
import { LimitExceededError, RateLimits, retryHint, type LimitDecision } from "./limits.js";
import type { Logger } from "./logger.js";
import { MemoryLimiter } from "./memory/limiter.js";
import { InProcessMetrics } from "./metrics.js";

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log: Logger = { trace: at("trace"), debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error"), child: () => log };
  return log;
}

function setup(opts: { logLinesPerPolicy?: number } = {}) {
  let t = 0;
  const lines: Line[] = [];
  const metrics = new InProcessMetrics();
  const hooks = new HookBus<CoreEvents>();
  const limiter = new MemoryLimiter(() => t);
  const limits = new RateLimits(limiter, recordingLogger(lines), metrics, hooks, { now: () => t, ...opts });
  limits.define("login", { limit: 2, intervalMs: 60_000, keyedBy: "ip", scope: "cluster" });
  limits.define("register", { limit: 1, intervalMs: 3_600_000, keyedBy: "ip", condition: "resource-constraint" });
  return { limits, lines, metrics, hooks, advance: (ms: number) => void (t += ms) };
}

describe("RateLimits (host.rateLimits)", () => {
  it("logs a refusal at info naming the policy, the key and the retry-after", () => {
    const { limits, lines } = setup();
    limits.check("login", "198.51.100.7");
    limits.check("login", "198.51.100.7");
    expect(lines).toEqual([]); // allowed decisions are not news
    const refused = limits.check("login", "198.51.100.7");
    expect(refused).toMatchObject({ allowed: false, policy: "login", key: "198.51.100.7", retryAfterMs: 30_000 });
    expect(lines).toEqual([
      { level: "info", obj: { policy: "login", key: "198.51.100.7", retryAfterMs: 30_000 }, msg: "limit login refused 198.51.100.7; try again in 30 s" },
    ]);
  });

  it("writes one line per policy and key per window, carrying how many refusals it stands for", () => {
    const { limits, lines, advance } = setup();
    limits.check("login", "a", 2);
    for (let i = 0; i < 100; i++) limits.check("login", "a");
    limits.check("login", "b", 3); // another key gets its own line
    expect(lines.map((l) => l.obj.key)).toEqual(["a", "b"]);
    advance(10_000);
    limits.check("login", "a", 3);
    expect(lines).toHaveLength(3);
    expect(lines[2]!.obj).toMatchObject({ key: "a", alsoRefused: 99 });
    expect(lines[2]!.msg).toMatch(/99 more refusals since the last line/);
  });

  it("caps the lines of one policy per window when a spray hits many keys", () => {
    const { limits, lines, advance } = setup({ logLinesPerPolicy: 5 });
    for (let i = 0; i < 20; i++) limits.check("register", `10.0.0.${i}`, 2);
    expect(lines).toHaveLength(5);
    advance(10_000);
    limits.check("register", "10.0.1.1", 2);
    expect(lines).toHaveLength(6);
    expect(lines[5]!.obj).toMatchObject({ key: "10.0.1.1", alsoRefused: 15 });
  });

  it("counts every refusal on the metrics port by policy, logged or not", async () => {
    const { limits, metrics } = setup();
    for (let i = 0; i < 5; i++) limits.check("login", "a");
    await limits.checkAcquire("register", "a");
    await limits.checkAcquire("register", "a");
    expect(metrics.value("switchboard_limit_refusals_total", { policy: "login" })).toBe(3);
    expect(metrics.value("switchboard_limit_refusals_total", { policy: "register" })).toBe(1);
  });

  it("fires limit/exceeded with the decision and the policy as defined", async () => {
    const { limits, hooks } = setup();
    const seen: LimitExceededEvent[] = [];
    hooks.on("limit/exceeded", (ev) => void seen.push(ev), { band: "observe" });
    await limits.checkAcquire("register", "203.0.113.9");
    expect(seen).toEqual([]);
    await limits.checkAcquire("register", "203.0.113.9");
    expect(seen).toEqual([
      {
        decision: { allowed: false, policy: "register", key: "203.0.113.9", remaining: 0, retryAfterMs: 3_600_000 },
        policyDef: { limit: 1, intervalMs: 3_600_000, keyedBy: "ip", condition: "resource-constraint" },
      },
    ]);
  });

  it("enforce throws LimitExceededError mapped to the policy's condition, policy-violation by default", async () => {
    const { limits } = setup();
    limits.enforce("login", "a", 2);
    const err = (() => {
      try {
        limits.enforce("login", "a");
      } catch (e) {
        return e;
      }
    })() as LimitExceededError;
    expect(err).toBeInstanceOf(LimitExceededError);
    expect(err).toMatchObject({ name: "LimitExceededError", policy: "login", key: "a", retryAfterMs: 30_000, condition: "policy-violation" });
    const stanzaError = err.toStanzaError("too many attempts");
    expect(stanzaError).toBeInstanceOf(StanzaError);
    expect(stanzaError).toMatchObject({ condition: "policy-violation", type: "modify", text: "too many attempts; try again in 30 s" });
    expect(stanzaError.cause).toBe(err);

    await limits.enforceAcquire("register", "b");
    await expect(limits.enforceAcquire("register", "b")).rejects.toMatchObject({ name: "LimitExceededError", condition: "resource-constraint" });
    const decision = await limits.checkAcquire("register", "b");
    expect(limits.error(decision).toStanzaError()).toMatchObject({ condition: "resource-constraint", type: "wait", text: "rate limit exceeded; try again in 60 min" });
  });

  it("says when to come back in words a client can show", () => {
    expect(retryHint(1)).toBe("try again in 1 s");
    expect(retryHint(30_000)).toBe("try again in 30 s");
    expect(retryHint(119_001)).toBe("try again in 2 min");
    expect(retryHint(Infinity)).toBe("the request is larger than this limit ever allows");
    const never: LimitDecision = { allowed: false, policy: "bytes", key: "u@x", remaining: 0, retryAfterMs: Infinity };
    expect(new LimitExceededError(never).message).toBe("limit bytes exceeded for u@x; the request is larger than this limit ever allows");
  });
});
