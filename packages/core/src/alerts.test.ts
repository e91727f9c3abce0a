import { describe, expect, it } from "vitest";
import { Alerts, type Alert } from "./alerts.js";
import { HookBus } from "./hooks.js";
import { InProcessMetrics } from "./metrics.js";
import type { CoreEvents } from "./events.js";

describe("Alerts", () => {
  it("logs, counts, announces and lists an alert; the same rule and subject repeat at most once per window", async () => {
    let now = Date.parse("2026-12-02T10:00:00Z");
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, m?: string) => warnings.push(m ?? ""), info: () => {}, error: () => {}, debug: () => {}, child: () => log } as never;
    const metrics = new InProcessMetrics();
    const hooks = new HookBus<CoreEvents>();
    const announced: Alert[] = [];
    hooks.on("alert/raised", (ev) => void announced.push(ev.alert));
    const alerts = new Alerts("edge1", log, metrics, hooks, { repeatMs: 60_000, now: () => now });
    const first = alerts.raise({ rule: "user-flood", subject: "eve@x", message: "too fast" });
    expect(first).toMatchObject({ rule: "user-flood", subject: "eve@x", node: "edge1", at: "2026-12-02T10:00:00.000Z" });
    expect(alerts.raise({ rule: "user-flood", subject: "eve@x", message: "too fast" })).toBeUndefined();
    expect(alerts.raise({ rule: "user-flood", subject: "mallory@x", message: "too fast" })).toBeDefined();
    now += 60_000;
    expect(alerts.raise({ rule: "user-flood", subject: "eve@x", message: "still" })).toBeDefined();
    await new Promise((r) => setImmediate(r));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toBe("alert user-flood for eve@x: too fast");
    expect(metrics.value("switchboard_alerts_total", { rule: "user-flood" })).toBe(3);
    expect(announced.map((a) => a.subject)).toEqual(["eve@x", "mallory@x", "eve@x"]);
    alerts.received({ ...first!, node: "edge2" });
    alerts.received(first!); // its own, back from the bus: not listed twice
    expect(alerts.recent().map((a) => `${a.node}:${a.subject}`)).toEqual(["edge1:eve@x", "edge1:mallory@x", "edge1:eve@x", "edge2:eve@x"]);
  });
});
