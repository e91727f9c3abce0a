import { describe, expect, it } from "vitest";
import { LoadClientError } from "../errors.js";
import { backoffDelayMs, classifyAttempt, retryHintMs } from "./retry.js";

describe("storm client backoff", () => {
  const b = { baseMs: 500, maxMs: 10_000 };

  it("doubles per failure with half of each step random, and stops growing at maxMs", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(b, n, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(b, n, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelayMs(b, 50, () => 1)).toBe(10_000);
    expect(backoffDelayMs(b, 50, () => 0)).toBe(5_000);
  });
});

describe("attempt failures", () => {
  const refused = new LoadClientError("connect", "connect: ECONNREFUSED", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) });

  it("sorts refused connections and temporary SASL failures as acceptable, the rest by kind", () => {
    expect(classifyAttempt(refused)).toBe("refused");
    expect(classifyAttempt(new LoadClientError("connect", "reset", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) }))).toBe("connect-reset");
    expect(classifyAttempt(new LoadClientError("connect", "x", { cause: Object.assign(new Error("x"), { code: "EADDRNOTAVAIL" }) }))).toBe("reset");
    expect(classifyAttempt(new LoadClientError("auth", "x", { condition: "temporary-auth-failure" }))).toBe("paced");
    expect(classifyAttempt(new LoadClientError("auth", "x", { condition: "not-authorized" }))).toBe("auth");
    expect(classifyAttempt(new LoadClientError("stream-error:see-other-host", "x", { condition: "see-other-host" }))).toBe("paced");
    expect(classifyAttempt(new LoadClientError("stream-error:policy-violation", "x", { condition: "policy-violation", text: "try again in 3 s" }))).toBe("paced");
    expect(classifyAttempt(new LoadClientError("stream-error:internal-server-error", "x", { condition: "internal-server-error" }))).toBe("stream-error:internal-server-error");
    expect(classifyAttempt(new LoadClientError("timeout", "x"))).toBe("timeout");
    expect(classifyAttempt(new LoadClientError("closed", "x"))).toBe("reset");
    expect(classifyAttempt(new Error("?"))).toBe("other");
  });

  it("reads Switchboard's retry hint from the failure text", () => {
    const hinted = (text: string) => new LoadClientError("auth", "x", { condition: "temporary-auth-failure", text });
    expect(retryHintMs(hinted("the server is busy with a wave of logins; try again in 3 s"))).toBe(3000);
    expect(retryHintMs(hinted("too many failed logins; try again in 2 min"))).toBe(120_000);
    expect(retryHintMs(hinted("busy"))).toBeUndefined();
    expect(retryHintMs(refused)).toBeUndefined();
  });
});
