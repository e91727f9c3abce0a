/**
 * `pnpm bench rolling`: the rolling-upgrade and kill -9 runs on real processes (run.ts), outside
 * the test suite for their size; test/cluster/rolling.test.ts runs a small one in the suite.
 */
import { parseArgs } from "node:util";
import { formatMode, runRolling, type RollingMode } from "./run.js";

export { runRolling, formatMode, type RollingOptions, type ModeReport, type RollingMode } from "./run.js";

export const ROLLING_USAGE = `usage: pnpm bench rolling [options]
  --clients N          clients with stream management (default 200)
  --xmppjs N           of which @xmpp/client, receiving (default 20)
  --edges N            edges behind the balancer (default 3)
  --mode restart,kill  what happens to every edge in turn (default both, in that order)
  --rate N             messages per second per sending client (default 1)
  --settle S           seconds between two edges (default 3)
  --drain S            shutdown.drainSeconds of the edges (default 20)
exits 0 when every mode passed: 0 lost, every client online, and for restart 0 duplicated`;

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export async function rollingCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${ROLLING_USAGE}\n`);
    return 0;
  }
  let options;
  try {
    const { values } = parseArgs({ args: argv, strict: true, options: Object.fromEntries(["clients", "xmppjs", "edges", "mode", "rate", "settle", "drain"].map((k) => [k, { type: "string" as const }])) });
    const v = values as Record<string, string | undefined>;
    const modes = (v.mode ?? "restart,kill").split(",").map((m) => m.trim());
    for (const m of modes) if (m !== "restart" && m !== "kill") throw new Error(`--mode: expected restart and/or kill, got "${m}"`);
    const clients = int("clients", v.clients, 200, 2, 5000);
    options = {
      clients,
      xmppjs: int("xmppjs", v.xmppjs, Math.min(20, clients - 1), 0, clients - 1),
      edges: int("edges", v.edges, 3, 2, 10),
      modes: modes as RollingMode[],
      ratePerClient: int("rate", v.rate, 1, 1, 50),
      settleMs: int("settle", v.settle, 3, 0, 120) * 1000,
      drainSeconds: int("drain", v.drain, 20, 1, 300),
    };
  } catch (err) {
    process.stderr.write(`bench rolling: ${(err as Error).message}\n\n${ROLLING_USAGE}\n`);
    return 2;
  }
  const reports = await runRolling({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${reports.map(formatMode).join("\n")}\n`);
  return reports.every((r) => r.passed) ? 0 : 1;
}
