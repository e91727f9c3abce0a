import { describe, expect, it } from "vitest";
import type { ChatResult, StormResult } from "../types.js";
import { parseCompareOptions, CompareUsageError } from "./options.js";
import { buildTable, formatTable, median } from "./table.js";

const storm = (loginsPerSecond: number): StormResult => ({ scenario: "storm", clients: 10, succeeded: 10, loginsPerSecond, secondsUntilAllOnline: 1, failures: {} });
const chat = (saturationPerSecond: number): ChatResult => ({ scenario: "chat", users: 2, steps: [], saturationPerSecond, failures: {} });

describe("comparison table", () => {
  it("takes the median of the repetitions, not the mean", () => {
    expect(median([3, 1, 100])).toBe(3);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it("computes switchboard/ejabberd and 2edges/1edge ratios from medians", () => {
    const rows = buildTable(
      { storm: { switchboard: [storm(100), storm(300), storm(200)], "switchboard-2edges": [storm(100)], ejabberd: [storm(400)] }, chat: { switchboard: [chat(10)] } },
      ["switchboard", "switchboard-2edges", "ejabberd"],
    );
    const logins = rows.find((r) => r.metric === "loginsPerSecond")!;
    expect(logins.medians).toEqual({ switchboard: 200, "switchboard-2edges": 100, ejabberd: 400 });
    expect(logins.ratios).toEqual({ switchboardOverEjabberd: 0.5, twoEdgesOverOneEdge: 0.5 });
    const sat = rows.find((r) => r.metric === "saturationPerSecond")!;
    expect(sat.ratios.switchboardOverEjabberd).toBeNull();
    expect(formatTable(rows, ["switchboard", "ejabberd"])).toMatch(/storm: logins\/s.*\|\s+200 \|\s+400 \|\s+0\.50 \|/);
  });
});

describe("compare options", () => {
  it("defaults to every scenario and target with 3 repetitions", () => {
    const o = parseCompareOptions([], new Date("2026-01-02T03:04:05Z"));
    expect(o).toMatchObject({ scenarios: ["idle", "storm", "chat", "muc"], targets: ["switchboard", "switchboard-2edges", "ejabberd"], reps: 3, serverCore: 0, loaderCore: 1 });
    expect(o.jsonPath).toBe("results/bench-2026-01-02T030405.json");
  });

  it("rejects unknown targets, out-of-bounds sizes and a shared core", () => {
    expect(() => parseCompareOptions(["--targets", "prosody"])).toThrow(CompareUsageError);
    expect(() => parseCompareOptions(["--users", "50000"])).toThrow(/--users/);
    expect(() => parseCompareOptions(["--server-core", "1"])).toThrow(/differ/);
    expect(parseCompareOptions(["--users", "300", "--scenario", "chat"])).toMatchObject({ scenarios: ["chat"], chatUsers: 300, idleConnections: 300 });
  });

  it("runs chat with stream management too unless --chat-sm off, and names a bad value", () => {
    expect(parseCompareOptions([]).chatSm).toBe(true);
    expect(parseCompareOptions(["--chat-sm", "off"]).chatSm).toBe(false);
    expect(() => parseCompareOptions(["--chat-sm", "yes"])).toThrow(/--chat-sm: expected on or off, got "yes"/);
  });
});
