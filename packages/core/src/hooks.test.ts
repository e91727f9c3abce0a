import { describe, expect, it } from "vitest";
import { BANDS, HookBus, hookPriority } from "./hooks.js";

interface Events {
  e: string[];
}

describe("hook bands", () => {
  it("runs observe, limits, policy, feature, after in that order, offsets ordering within a band", async () => {
    const bus = new HookBus<Events>();
    bus.on("e", (log) => void log.push("after"), { band: "after" });
    bus.on("e", (log) => void log.push("feature"));
    bus.on("e", (log) => void log.push("feature+10"), { band: "feature", offset: 10 });
    bus.on("e", (log) => void log.push("policy"), { band: "policy" });
    bus.on("e", (log) => void log.push("limits"), { band: "limits" });
    bus.on("e", (log) => void log.push("observe"), { band: "observe" });
    const log: string[] = [];
    await bus.fire("e", log);
    expect(log).toEqual(["observe", "limits", "policy", "feature+10", "feature", "after"]);
  });

  it("stops at the first handler that returns true, and unhooks", async () => {
    const bus = new HookBus<Events>();
    bus.on("e", () => true, { band: "policy" });
    const off = bus.on("e", (log) => void log.push("never"), { band: "feature" });
    const log: string[] = [];
    expect(await bus.fire("e", log)).toBe(true);
    expect(log).toEqual([]);
    off();
    expect(bus.has("e")).toBe(true);
  });

  it("refuses an offset that would leave its band", () => {
    expect(hookPriority({ band: "feature", offset: 4999 })).toBe(BANDS.feature + 4999);
    expect(() => hookPriority({ band: "feature", offset: 5000 })).toThrow(/within ±4999/);
    expect(() => hookPriority({ band: "feature", offset: 1.5 })).toThrow();
  });
});
