/** The storm-kill result as the text table `pnpm bench storm-kill` prints (the JSON has it all). */
import type { StormKillReport, StormKillResult } from "./run.js";

const mib = (b: number | undefined) => (b === undefined ? "–" : `${(b / 2 ** 20).toFixed(0)} MiB`);
const ms = (s: number | undefined) => (s === undefined ? "–" : `${Math.round(s * 1000)} ms`);
const kv = (o: Record<string, string>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ") || "none";

function lines(r: StormKillReport): string[] {
  const out = [
    `${r.target} (${r.version}), ${r.clients} clients, ${r.auth.toUpperCase()} reconnects: ${r.passed ? "PASSED" : "FAILED"}${r.error ? ` — ${r.error}` : ""}`,
    `  first logins (paced)          ${r.initialLoginSeconds} s`,
    `  serving again after kill -9   ${r.serverBackSeconds} s`,
    `  all online again after kill   ${r.secondsUntilAllOnline ?? "–"} s (${r.recovered}/${r.dropped} dropped clients back, ${r.gaveUp} gave up)`,
    `  … after serving again         ${r.secondsFromServingToAllOnline ?? "–"} s`,
    `  attempts                      ${r.attempts}, failed: ${kv(Object.fromEntries(Object.entries(r.failures).map(([k, n]) => [k, String(n)])))} (unacceptable: ${r.unacceptableFailures})`,
    `  peak RSS (VmHWM)              ${kv(Object.fromEntries(Object.entries(r.peakRssBytes).map(([k, b]) => [k, mib(b)])))}`,
  ];
  for (const [kind, xs] of Object.entries(r.failureSamples)) out.push(`    ${kind}: ${xs.join(" | ")}`);
  if (r.maxEventLoopLagSeconds) {
    out.push(`  max event-loop lag (p99/0.5s) ${kv(Object.fromEntries(Object.entries(r.maxEventLoopLagSeconds).map(([k, s]) => [k, ms(s)])))} (${r.lagScrapes?.failed}/${r.lagScrapes?.scrapes} scrapes failed: edge down or starting)`);
  }
  if (r.redisCommands !== undefined) out.push(`  Redis commands                ${r.redisCommands} (${(r.redisCommands / r.clients).toFixed(1)} per client)`);
  return out;
}

export function formatStormKill(result: StormKillResult): string {
  const out = result.reports.flatMap(lines);
  if (result.ratio !== undefined) out.push(`seconds until all online, switchboard-2edges / ejabberd: ${result.ratio} (lower favours Switchboard)`);
  if (result.ratioFromServing !== undefined) out.push(`the same counted from serving again: ${result.ratioFromServing}`);
  if (result.fast) out.push(`FAST reconnects: not available — ${result.fast.reason}`);
  return out.join("\n");
}
