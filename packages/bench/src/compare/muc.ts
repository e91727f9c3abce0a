/**
 * The muc scenario in a comparison. Per target and repetition: saturation, then a step at half
 * of that saturation (the target's own "half its saturation"). After the repetitions, a step at
 * one reference rate for every target: `--muc-rate`, or half of the first target's median
 * saturation (ejabberd runs first), in messages/s into the room, so every server is measured at
 * the same offered load. A target that cannot serve the room (it does not start with MUC, or the
 * room cannot be set up or entered) is reported as not available, not as a broken run.
 */
import { MucJoinError } from "../scenarios/muc-room.js";
import type { MucResult, MucSpec, ScenarioResult } from "../types.js";
import type { CompareOptions } from "./options.js";
import { median } from "./table.js";

export function mucSpec(o: CompareOptions): MucSpec {
  return { scenario: "muc", occupants: o.mucOccupants, senders: o.mucSenders, saturationSeconds: o.mucSeconds, rates: ["half"], stepSeconds: o.mucSeconds };
}

/** The same room at one fixed rate, no saturation phase. */
export function mucReferenceSpec(o: CompareOptions, ratePerSecond: number): MucSpec {
  return { ...mucSpec(o), saturationSeconds: 0, rates: [ratePerSecond] };
}

/** --muc-rate, else half of these repetitions' median saturation in messages/s into the room (null: none measured). */
export function mucReferenceRate(o: CompareOptions, reps: ScenarioResult[]): number | null {
  if (o.mucRate !== null) return o.mucRate;
  const perMessage = reps.filter((r): r is MucResult => r.scenario === "muc" && r.joined > 0).map((r) => r.saturationPerSecond / r.joined);
  const m = median(perMessage);
  return m === null || m <= 0 ? null : Math.max(1, Math.round(m / 2));
}

/** A failure to start the server for MUC, or to set the room up or enter it: the target has no usable MUC. */
export function mucUnavailable(err: unknown, started: boolean): boolean {
  return !started || err instanceof MucJoinError;
}

/** Lines printed under the table. */
export function mucNotes(o: CompareOptions, refRate: number | null, refFrom: string, unavailable: Array<{ target: string; error: string }>): string[] {
  const lines: string[] = [];
  if (refRate !== null) {
    const source = o.mucRate !== null ? "--muc-rate" : `half of ${refFrom}'s median saturation`;
    lines.push(`muc ref rate: ${refRate} msg/s into the room (${refRate * o.mucOccupants} copies/s with ${o.mucOccupants} occupants; ${source})`);
  }
  for (const u of unavailable) lines.push(`muc on ${u.target}: NOT AVAILABLE: ${u.error.split("\n")[0]}`);
  return lines;
}

export function mucSummary(r: MucResult): string {
  const sat = r.saturation;
  const half = r.steps[0];
  const parts = [`${r.joined}/${r.occupants} in the room in ${r.joinSeconds.toFixed(1)} s`];
  if (sat) {
    const cpu = sat.deliveredPerServerCpuSecond === undefined ? "" : ` (${sat.deliveredPerServerCpuSecond} per CPU s, server CPU ${Math.round((sat.serverCpuShare ?? 0) * 100)} %)`;
    parts.push(`saturation ${sat.deliveredPerSecond.toFixed(0)} copies/s${cpu}, loader CPU ${Math.round(sat.loaderCpuShare * 100)} %`);
  }
  if (half) parts.push(`p50/p99 ${half.latencyMs.p50.toFixed(1)}/${half.latencyMs.p99.toFixed(1)} ms (first copy ${half.firstCopyLatencyMs.p50.toFixed(1)}/${half.firstCopyLatencyMs.p99.toFixed(1)}) at ${half.offeredPerSecond} msg/s`);
  const lost = [sat, ...r.steps].reduce((n, s) => n + (s?.lostCopies ?? 0), 0);
  if (lost > 0) parts.push(`${lost} copies lost`);
  return parts.join(", ");
}
