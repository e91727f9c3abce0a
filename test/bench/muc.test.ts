/**
 * Smoke run of the muc load scenario (one XEP-0045 room, a few senders, every occupant receiving
 * every groupchat copy) against a real embedded Switchboard, with the MUC limits raised as the
 * benchmark launchers raise them. At a low fixed rate nothing may be lost: every message sent
 * reaches every occupant, exactly once per occupant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenario, type MucResult, type Target } from "../../packages/bench/src/index.js";
import { startTestServer, type TestServer } from "../support/server.js";

const OCCUPANTS = 10;
let ts: TestServer;
let target: Target;

beforeAll(async () => {
  ts = await startTestServer(
    { muc: { maxOccupants: 1000, messagesPerSecond: 0, historyMessages: 0, minJoinIntervalSeconds: 0, minPresenceIntervalSeconds: 0, maxRoomsCreatedPerUserPerHour: 0 } },
    { mode: "embedded" },
  );
  for (let i = 0; i < OCCUPANTS; i++) await ts.addUser(`mucload${i}`, "secret");
  target = {
    name: "switchboard",
    endpoints: [{ host: "127.0.0.1", port: ts.server.ports.c2s }],
    domain: ts.domain,
    userPrefix: "mucload",
    password: "secret",
    serverPids: [process.pid],
  };
}, 30_000);

afterAll(async () => {
  await ts?.stop();
});

describe("muc scenario", () => {
  it("fills a room, saturates it and delivers every message to every occupant at a low rate", async () => {
    const r = (await runScenario(target, { scenario: "muc", occupants: OCCUPANTS, senders: 2, saturationSeconds: 1, rates: [40], stepSeconds: 1 })) as MucResult;
    expect(r.failures).toEqual({});
    expect(r).toMatchObject({ scenario: "muc", occupants: OCCUPANTS, joined: OCCUPANTS, senders: 2 });
    expect(r.joinSeconds).toBeGreaterThan(0);

    const sat = r.saturation!;
    expect(sat.offeredPerSecond).toBeNull();
    expect(sat.sent).toBeGreaterThan(20);
    expect(sat.deliveredPerSecond).toBeGreaterThan(0);
    expect(r.saturationPerSecond).toBe(sat.deliveredPerSecond);
    // the server runs in this process: the fan-out cost it measurable CPU
    expect(sat.deliveredPerServerCpuSecond).toBeGreaterThan(0);

    expect(r.steps).toHaveLength(1);
    const step = r.steps[0]!;
    expect(step.offeredPerSecond).toBe(40);
    expect(step.sent).toBeGreaterThanOrEqual(30);
    // every copy of every message, to every occupant (the senders included), none twice
    expect(step.delivered).toBe(step.sent * OCCUPANTS);
    expect(step.lostCopies).toBe(0);
    expect(step.occupantsMissingCopies).toBe(0);
    expect(step.latencyMs.p50).toBeGreaterThan(0);
    expect(step.latencyMs.p99).toBeGreaterThanOrEqual(step.latencyMs.p50);
    expect(step.latencyMs.max).toBeGreaterThanOrEqual(step.latencyMs.p99);
  }, 30_000);

  it("steps at half the saturation it just measured", async () => {
    const r = (await runScenario(target, { scenario: "muc", occupants: 4, senders: 1, saturationSeconds: 0.5, rates: ["half"], stepSeconds: 0.5 })) as MucResult;
    expect(r.failures).toEqual({});
    const expected = Math.round((r.saturationPerSecond / r.joined / 2) * 10) / 10;
    expect(r.steps[0]!.offeredPerSecond).toBe(expected);
    expect(r.steps[0]!.lostCopies).toBe(0);
  }, 30_000);

  it("reports a room it cannot enter as a MucJoinError naming the condition", async () => {
    // more occupants than accounts: the missing ones fail to log in, and a room of 1 is not a room
    const err = await runScenario({ ...target, userPrefix: "nobody" }, { scenario: "muc", occupants: 2, senders: 1, saturationSeconds: 0.2, rates: [], stepSeconds: 0.2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "MucJoinError" });
  }, 30_000);

  it("refuses a spec without a phase or with more senders than occupants", () => {
    expect(() => runScenario(target, { scenario: "muc", occupants: 3, senders: 1, saturationSeconds: 0, rates: [], stepSeconds: 1 })).toThrow(/saturation phase or at least one rate/);
    expect(() => runScenario(target, { scenario: "muc", occupants: 3, senders: 4, saturationSeconds: 1, rates: [], stepSeconds: 1 })).toThrow(/senders/);
  });
});
