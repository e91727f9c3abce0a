/** Plain-text tables for a scenario result (the JSON form is the result object itself). */
import type { ChatResult, Failures, MucResult, ScenarioResult } from "./types.js";

export function formatResult(targetName: string, result: ScenarioResult): string {
  const lines: string[] = [];
  switch (result.scenario) {
    case "idle":
      lines.push(
        ...table(
          ["target", "connections", "online", "s to online", "RSS before MB", "RSS after MB", "bytes/conn"],
          [[targetName, result.connections, result.online, result.secondsToOnline, mb(result.rssBeforeBytes), mb(result.rssAfterBytes), result.bytesPerConnection]],
        ),
      );
      break;
    case "storm":
      lines.push(
        ...table(
          ["target", "clients", "succeeded", "logins/s", "s until all online"],
          [[targetName, result.clients, result.succeeded, result.loginsPerSecond, result.secondsUntilAllOnline]],
        ),
      );
      break;
    case "chat":
      lines.push(...chatTable(targetName, result), `saturation: ${result.saturationPerSecond} delivered msg/s (${result.users} users)`);
      break;
    case "muc":
      lines.push(
        ...mucTable(targetName, result),
        `saturation: ${result.saturationPerSecond} delivered copies/s (${result.joined}/${result.occupants} occupants in ${result.joinSeconds} s, ${result.senders} senders)`,
      );
      break;
  }
  lines.push(`failures: ${formatFailures(result.failures)}`);
  return lines.join("\n");
}

function chatTable(targetName: string, result: ChatResult): string[] {
  return table(
    ["target", "offered/s", "sent/s", "delivered/s", "p50 ms", "p99 ms", "max ms", "lost", "server CPU µs/msg"],
    result.steps.map((s) => [targetName, s.offeredPerSecond, s.sentPerSecond, s.deliveredPerSecond, s.latencyMs.p50, s.latencyMs.p99, s.latencyMs.max, s.lost, s.serverCpuUsPerMessage ?? "–"]),
  );
}

function mucTable(targetName: string, result: MucResult): string[] {
  const steps = [...(result.saturation ? [result.saturation] : []), ...result.steps];
  return table(
    ["target", "offered msg/s", "sent msg/s", "copies/s", "copies/CPU s", "p50 ms", "p99 ms", "max ms", "lost copies", "short occupants", "server CPU", "loader CPU"],
    steps.map((s) => [
      targetName,
      s.offeredPerSecond ?? "saturation",
      s.sentPerSecond,
      s.deliveredPerSecond,
      s.deliveredPerServerCpuSecond ?? "–",
      s.latencyMs.p50,
      s.latencyMs.p99,
      s.latencyMs.max,
      s.lostCopies,
      s.occupantsMissingCopies,
      s.serverCpuShare === undefined ? "–" : `${Math.round(s.serverCpuShare * 100)} %`,
      `${Math.round(s.loaderCpuShare * 100)} %`,
    ]),
  );
}

export function formatFailures(failures: Failures): string {
  const entries = Object.entries(failures);
  return entries.length === 0 ? "none" : entries.map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Columns padded to their widest cell; numbers right-aligned. */
export function table(header: string[], rows: Array<Array<string | number>>): string[] {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[], raw?: Array<string | number>) =>
    r.map((c, i) => (typeof raw?.[i] === "number" ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map((r) => line(r.map(String), r))];
}

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}
