import { describe, expect, it } from "vitest";
import { MucJoinError } from "../scenarios/muc-room.js";
import type { MucResult, MucStep } from "../types.js";
import { mucNotes, mucReferenceRate, mucReferenceSpec, mucSpec, mucUnavailable } from "./muc.js";
import { CompareUsageError, parseCompareOptions } from "./options.js";
import { buildTable, formatTable } from "./table.js";

const step = (over: Partial<MucStep>): MucStep => ({
  offeredPerSecond: null,
  sentPerSecond: 0,
  deliveredPerSecond: 0,
  sent: 0,
  delivered: 0,
  lostCopies: 0,
  occupantsMissingCopies: 0,
  latencyMs: { p50: 1, p99: 2, max: 3 },
  firstCopyLatencyMs: { p50: 1, p99: 2 },
  loaderCpuShare: 0.5,
  ...over,
});
const muc = (saturation: number, perCpu: number, p99AtHalf: number, joined = 300): MucResult => ({
  scenario: "muc",
  occupants: 300,
  joined,
  senders: 3,
  joinSeconds: 2,
  saturation: step({ deliveredPerSecond: saturation, deliveredPerServerCpuSecond: perCpu }),
  steps: [step({ offeredPerSecond: saturation / joined / 2, latencyMs: { p50: 1, p99: p99AtHalf, max: p99AtHalf } })],
  saturationPerSecond: saturation,
  failures: {},
});

describe("muc in a comparison", () => {
  it("takes room size, senders, seconds and a fixed rate, with the issue's defaults", () => {
    const o = parseCompareOptions(["--scenario", "muc"]);
    expect(o).toMatchObject({ scenarios: ["muc"], mucOccupants: 300, mucSenders: 3, mucSeconds: 10, mucRate: null });
    expect(mucSpec(o)).toEqual({ scenario: "muc", occupants: 300, senders: 3, saturationSeconds: 10, rates: ["half"], stepSeconds: 10 });
    expect(mucReferenceSpec(o, 25)).toMatchObject({ saturationSeconds: 0, rates: [25] });
    expect(parseCompareOptions(["--muc-occupants", "20", "--muc-senders", "2", "--muc-seconds", "1", "--muc-rate", "50"])).toMatchObject({ mucOccupants: 20, mucSenders: 2, mucSeconds: 1, mucRate: 50 });
    expect(() => parseCompareOptions(["--muc-occupants", "10", "--muc-senders", "11"])).toThrow(CompareUsageError);
    expect(() => parseCompareOptions(["--muc-occupants", "9000"])).toThrow(/--muc-occupants/);
    // --users sizes the other scenarios only: a room's joins are quadratic
    expect(parseCompareOptions(["--users", "3000"]).mucOccupants).toBe(300);
  });

  it("sets the reference rate to half the median saturation, in messages into the room", () => {
    const o = parseCompareOptions([]);
    // 9000, 12000, 30000 copies/s over 300 occupants: median 40 msg/s, half is 20
    expect(mucReferenceRate(o, [muc(9000, 1, 1), muc(30000, 1, 1), muc(12000, 1, 1)])).toBe(20);
    expect(mucReferenceRate(o, [])).toBeNull();
    expect(mucReferenceRate(parseCompareOptions(["--muc-rate", "7"]), [muc(9000, 1, 1)])).toBe(7);
  });

  it("counts a server that does not start with MUC, or a room it cannot set up, as not available", () => {
    expect(mucUnavailable(new Error("edge-1 exited while waiting for /readyz"), false)).toBe(true);
    expect(mucUnavailable(new MucJoinError("service-unavailable", "refused"), true)).toBe(true);
    expect(mucUnavailable(new Error("socket hang up"), true)).toBe(false);
    const notes = mucNotes(parseCompareOptions([]), 20, "ejabberd", [{ target: "switchboard-2edges", error: "ServerStartError: role muc\n  at …" }]);
    expect(notes).toEqual([
      "muc ref rate: 20 msg/s into the room (6000 copies/s with 300 occupants; half of ejabberd's median saturation)",
      "muc on switchboard-2edges: NOT AVAILABLE: ServerStartError: role muc",
    ]);
  });

  it("puts fan-out, fan-out per CPU second and latencies in the table with their ratios", () => {
    const rows = buildTable(
      {
        muc: { switchboard: [muc(30000, 40000, 50), muc(20000, 30000, 70), muc(25000, 35000, 90)], ejabberd: [muc(10000, 10000, 20)], "switchboard-2edges": [] },
        mucLatency: { switchboard: [muc(0, 0, 0)], ejabberd: [muc(0, 0, 0)] },
      },
      ["switchboard", "switchboard-2edges", "ejabberd"],
    );
    const sat = rows.find((r) => r.metric === "mucSaturationPerSecond")!;
    expect(sat.medians).toEqual({ switchboard: 25000, "switchboard-2edges": null, ejabberd: 10000 });
    expect(sat.ratios).toEqual({ switchboardOverEjabberd: 2.5, twoEdgesOverOneEdge: null });
    expect(rows.find((r) => r.metric === "mucCopiesPerServerCpuSecond")!.ratios.switchboardOverEjabberd).toBe(3.5);
    expect(rows.find((r) => r.metric === "mucP99AtHalfOwn")!.medians.switchboard).toBe(70);
    expect(formatTable(rows, ["switchboard", "ejabberd"])).toMatch(/muc: delivered copies\/s at saturation \(higher is better\)\s+\|\s+25000 \|\s+10000 \|\s+2\.50 \|/);
  });
});
