/**
 * The comparison table: one row per metric, one column per target (median over repetitions),
 * then the ratios switchboard/ejabberd and switchboard-2edges/switchboard.
 */
import type { ChatResult, IdleResult, MucResult, ScenarioName, ScenarioResult, StormResult } from "../types.js";

export function median(values: number[]): number | null {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

export interface MetricDef {
  id: string;
  label: string;
  /** "higher" or "lower" is better: says how to read a ratio */
  better: "higher" | "lower";
  scenario: ResultGroup;
  pick(result: ScenarioResult): number | undefined;
}

const idle = (r: ScenarioResult) => (r.scenario === "idle" ? (r as IdleResult) : undefined);
const storm = (r: ScenarioResult) => (r.scenario === "storm" ? (r as StormResult) : undefined);
const chat = (r: ScenarioResult) => (r.scenario === "chat" ? (r as ChatResult) : undefined);
const muc = (r: ScenarioResult) => (r.scenario === "muc" ? (r as MucResult) : undefined);
const mucLost = (r: MucResult) => [r.saturation, ...r.steps].reduce((n, s) => n + (s?.lostCopies ?? 0), 0);

export const METRICS: MetricDef[] = [
  { id: "loginsPerSecond", label: "storm: logins/s", better: "higher", scenario: "storm", pick: (r) => storm(r)?.loginsPerSecond },
  // When the load generator limits the storm (one core each), logins/s reads the loader; the
  // server's own CPU per login is what says how many a core would take.
  { id: "stormServerCpuMsPerLogin", label: "storm: server CPU ms per login", better: "lower", scenario: "storm", pick: (r) => storm(r)?.serverCpuMsPerLogin },
  { id: "stormSecondsUntilAllOnline", label: "storm: s until all online", better: "lower", scenario: "storm", pick: (r) => storm(r)?.secondsUntilAllOnline },
  { id: "saturationPerSecond", label: "chat: delivered msg/s at saturation", better: "higher", scenario: "chat", pick: (r) => chat(r)?.saturationPerSecond },
  { id: "saturationWithSmPerSecond", label: "chat, XEP-0198 on: delivered msg/s at saturation", better: "higher", scenario: "chatSm", pick: (r) => chat(r)?.saturationPerSecond },
  { id: "p99AtHalfReference", label: "chat: p99 latency ms at ref rate", better: "lower", scenario: "latency", pick: (r) => chat(r)?.steps[0]?.latencyMs.p99 },
  // the same step's server CPU per message: what a build costs, whatever limited the rate
  { id: "chatServerCpuUsPerMessage", label: "chat: server CPU µs per message at ref rate", better: "lower", scenario: "latency", pick: (r) => chat(r)?.steps[0]?.serverCpuUsPerMessage },
  { id: "p50AtHalfReference", label: "chat: p50 latency ms at ref rate", better: "lower", scenario: "latency", pick: (r) => chat(r)?.steps[0]?.latencyMs.p50 },
  { id: "kibPerIdleConnection", label: "idle: KiB RSS per connection", better: "lower", scenario: "idle", pick: (r) => { const v = idle(r); return v && v.bytesPerConnection / 1024; } },
  { id: "secondsToOnline", label: "idle: s to N online", better: "lower", scenario: "idle", pick: (r) => idle(r)?.secondsToOnline },
  // muc: copies received by all occupants together; per server CPU second is the per-core figure
  // that holds even when the load generator's core is what limits the rate
  { id: "mucSaturationPerSecond", label: "muc: delivered copies/s at saturation", better: "higher", scenario: "muc", pick: (r) => muc(r)?.saturation?.deliveredPerSecond },
  { id: "mucCopiesPerServerCpuSecond", label: "muc: copies per server CPU second", better: "higher", scenario: "muc", pick: (r) => muc(r)?.saturation?.deliveredPerServerCpuSecond },
  { id: "mucP99AtHalfOwn", label: "muc: p99 latency ms at half own saturation", better: "lower", scenario: "muc", pick: (r) => muc(r)?.steps[0]?.latencyMs.p99 },
  { id: "mucP50AtHalfOwn", label: "muc: p50 latency ms at half own saturation", better: "lower", scenario: "muc", pick: (r) => muc(r)?.steps[0]?.latencyMs.p50 },
  { id: "mucHalfOwnRate", label: "muc: half own saturation, msg/s into the room", better: "higher", scenario: "muc", pick: (r) => muc(r)?.steps[0]?.offeredPerSecond ?? undefined },
  { id: "mucP99AtReference", label: "muc: p99 latency ms at ref rate", better: "lower", scenario: "mucLatency", pick: (r) => muc(r)?.steps[0]?.latencyMs.p99 },
  { id: "mucP50AtReference", label: "muc: p50 latency ms at ref rate", better: "lower", scenario: "mucLatency", pick: (r) => muc(r)?.steps[0]?.latencyMs.p50 },
  { id: "mucJoinSeconds", label: "muc: s until every occupant is in", better: "lower", scenario: "muc", pick: (r) => muc(r)?.joinSeconds },
  { id: "mucLostCopies", label: "muc: copies lost (all phases)", better: "lower", scenario: "muc", pick: (r) => { const v = muc(r); return v && mucLost(v); } },
];

/** What a result belongs to: a scenario, or one of the extra runs after one (chat latency, chat with XEP-0198, muc at the reference rate). */
export type ResultGroup = ScenarioName | "latency" | "chatSm" | "mucLatency";

/** results[scenario][target] = one result per repetition */
export type RawResults = Partial<Record<ResultGroup, Record<string, ScenarioResult[]>>>;

export interface TableRow {
  metric: string;
  label: string;
  better: "higher" | "lower";
  medians: Record<string, number | null>;
  ratios: { switchboardOverEjabberd: number | null; twoEdgesOverOneEdge: number | null };
}

const ratio = (a: number | null | undefined, b: number | null | undefined) => (a == null || b == null || b === 0 ? null : a / b);

export function buildTable(results: RawResults, targets: string[]): TableRow[] {
  const rows: TableRow[] = [];
  for (const m of METRICS) {
    const byTarget = results[m.scenario];
    if (!byTarget) continue;
    const medians: Record<string, number | null> = {};
    for (const t of targets) {
      const values = (byTarget[t] ?? []).map((r) => m.pick(r)).filter((v): v is number => v !== undefined);
      medians[t] = median(values);
    }
    rows.push({
      metric: m.id,
      label: m.label,
      better: m.better,
      medians,
      ratios: {
        switchboardOverEjabberd: ratio(medians["switchboard"], medians["ejabberd"]),
        twoEdgesOverOneEdge: ratio(medians["switchboard-2edges"], medians["switchboard"]),
      },
    });
  }
  return rows;
}

function fmt(v: number | null): string {
  if (v === null) return "–";
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** A Markdown table (readable in a terminal too). */
export function formatTable(rows: TableRow[], targets: string[]): string {
  const header = ["metric (median)", ...targets, "sb/ejabberd", "2edges/1edge"];
  const lines = rows.map((r) => [
    `${r.label} (${r.better} is better)`,
    ...targets.map((t) => fmt(r.medians[t] ?? null)),
    fmt(r.ratios.switchboardOverEjabberd),
    fmt(r.ratios.twoEdgesOverOneEdge),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [row(header), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`, ...lines.map(row)].join("\n");
}
