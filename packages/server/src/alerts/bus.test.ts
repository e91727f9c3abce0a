import { describe, expect, it } from "vitest";
import { Host, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, MemoryStore, silentLogger } from "@switchboard/core";
import { receivedAlert, relayAlerts } from "./bus.js";

function node(id: string, bus: MemoryStanzaBus): Host {
  return new Host({ domain: "localhost", nodeId: id, store: new MemoryStore(), registry: new MemorySessionRegistry(), bus, limiter: new MemoryLimiter(), log: silentLogger });
}

const tick = () => new Promise((r) => setImmediate(r));

describe("alerts across the cluster", () => {
  it("an alert raised on one node is listed on the others, once, and not counted there", async () => {
    const bus = new MemoryStanzaBus();
    const [a, b] = [node("a", bus), node("b", bus)];
    const stops = [relayAlerts(a, silentLogger), relayAlerts(b, silentLogger)];
    const raised = a.alerts.raise({ rule: "heavy-sender", subject: "u@localhost", message: "m", measure: "stanzas_in_per_second", value: 30, threshold: 20 });
    await tick();
    expect(b.alerts.recent()).toEqual([raised]);
    // the sender ignores its own notice: listed once
    expect(a.alerts.recent()).toEqual([raised]);
    for (const stop of stops) stop();
    a.alerts.raise({ rule: "heavy-sender", subject: "v@localhost", message: "m" });
    await tick();
    expect(b.alerts.recent()).toHaveLength(1);
  });

  it("ignores a notice whose alert lacks what an alert has", async () => {
    const bus = new MemoryStanzaBus();
    const b = node("b", bus);
    const stop = relayAlerts(b, silentLogger);
    await bus.publishControl({ type: "alert.raised", origin: "a", alert: { rule: "r", subject: "s" } as never });
    await bus.publishControl({ type: "alert.raised", origin: "a", alert: { rule: "r", subject: "s", message: "m", at: "t", node: "a", value: "high" } as never });
    expect(b.alerts.recent()).toEqual([]);
    stop();
  });

  it("keeps only an alert's own fields from the wire", () => {
    const wire = { rule: "r", subject: "s", message: "m", at: "t", node: "a", threshold: 3, extra: "x" };
    expect(receivedAlert(wire)).toEqual({ rule: "r", subject: "s", message: "m", at: "t", node: "a", threshold: 3 });
    expect(receivedAlert(null)).toBeUndefined();
    expect(receivedAlert({ ...wire, rule: "x".repeat(5000) })).toBeUndefined();
  });
});
