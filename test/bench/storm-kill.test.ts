/**
 * A small `pnpm bench storm-kill` on real processes: 60 clients held by 2 loader processes on
 * a 2-edge cluster (its own redis-server and nats-server), both edges killed -9 at once and
 * restarted, every client back online by itself, and the report has every figure the full run
 * quotes. Unpinned and with short backoff steps so it takes seconds on a loaded machine.
 */
import { describe, expect, it } from "vitest";
import { runStormKill } from "../../packages/bench/src/storm-kill/index.js";

describe("bench storm-kill", () => {
  it("brings every client back after both edges are killed -9, and reports the storm", async () => {
    const lines: string[] = [];
    const result = await runStormKill({
      clients: 60,
      targets: ["switchboard-2edges"],
      loaders: 2,
      auth: ["scram", "fast"],
      loginConcurrency: 10,
      sourceAddresses: 4,
      handshakeTimeoutMs: 20_000,
      backoff: { baseMs: 200, maxMs: 1000 },
      giveUpMs: 90_000,
      stormTimeoutMs: 90_000,
      log: (line) => void lines.push(line),
    });
    const [r] = result.reports;
    expect(r, lines.join("\n")).toBeDefined();
    // a failure says what the run saw: its log and the whole report (failure samples included)
    const why = `${lines.join("\n")}\n${JSON.stringify(r, null, 1)}`;
    expect(r!.error, why).toBeUndefined();
    expect(r!.dropped, why).toBe(60);
    expect(r!.recovered, why).toBe(60);
    expect(r!.gaveUp, why).toBe(0);
    expect(r!.passed, why).toBe(true);
    expect(r!.unacceptableFailures, why).toBe(0);
    // an edge takes seconds to start: the immediate reconnects meet a closed port
    expect(r!.failures.refused, why).toBeGreaterThan(0);
    expect(r!.attempts).toBeGreaterThanOrEqual(60 + r!.failures.refused!);
    expect(r!.secondsUntilAllOnline).toBeGreaterThanOrEqual(r!.serverBackSeconds);
    expect(r!.secondsFromServingToAllOnline).toBeGreaterThanOrEqual(0);
    expect(Object.keys(r!.peakRssBytes).sort()).toEqual(["nats-server", "redis-server", "storm-edge-1", "storm-edge-2"]);
    for (const bytes of Object.values(r!.peakRssBytes)) expect(bytes).toBeGreaterThan(1_000_000);
    expect(Object.keys(r!.maxEventLoopLagSeconds ?? {}).sort()).toEqual(["storm-edge-1", "storm-edge-2"]);
    for (const lag of Object.values(r!.maxEventLoopLagSeconds!)) expect(lag).toBeGreaterThan(0);
    // 60 logins and the purge of 60 dead sessions cannot be free
    expect(r!.redisCommands).toBeGreaterThan(60);
    expect(result.fast?.available).toBe(false);
    expect(result.ratio).toBeUndefined();
  }, 150_000);
});
