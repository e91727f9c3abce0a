/**
 * `pnpm bench storm-kill`: the reconnect storm after both edges die (run.ts), against
 * Switchboard's 2-edge cluster and ejabberd in the same run. test/bench/storm-kill.test.ts runs
 * a small one in the suite.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pinLoadGenerator } from "../compare/machine.js";
import { formatStormKill } from "./report.js";
import { runStormKill, type StormAuth, type StormKillOptions } from "./run.js";
import { STORM_TARGETS, type StormTargetName } from "./targets.js";

export { formatStormKill } from "./report.js";
export { runStormKill, FAST_UNAVAILABLE, type StormKillOptions, type StormKillReport, type StormKillResult } from "./run.js";

/** one loader process holds at most this many clients: the 20,000-descriptor limit, with room */
const MAX_PER_LOADER = 18_000;

export const STORM_KILL_USAGE = `usage: pnpm bench storm-kill [options]
  --clients N            clients held online, then reconnecting (default 15000)
  --targets a,b          switchboard-2edges and/or ejabberd (default both, in that order)
  --loaders N            loader processes (default: 4000 clients each, at least 2)
  --auth scram,fast      reconnect with SCRAM-SHA-1 (default); fast: reported as not available
  --login-concurrency N  handshakes in flight per loader for the first logins (default 50)
  --source-addresses N   client i connects from 127.0.0.(1 + i mod N) (default 16)
  --handshake-timeout S  one attempt's timeout (default 30)
  --backoff-base MS      first backoff step after a failed attempt (default 500)
  --backoff-max MS       largest backoff step (default 10000)
  --give-up S            a client stops retrying this long after its drop (default 300)
  --storm-timeout S      stop waiting for the recovery after this long (default 600)
  --server-core N|none   core of every server process (default 0)
  --loader-core N|none   core of the loaders and this process (default 1)
  --json FILE            write the result as JSON
exits 0 when every target passed: all clients online again, no failure but refused and paced`;

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

const KEYS = ["clients", "targets", "loaders", "auth", "login-concurrency", "source-addresses", "handshake-timeout", "backoff-base", "backoff-max", "give-up", "storm-timeout", "server-core", "loader-core", "json"];

export function parseStormKillArgs(argv: string[]): StormKillOptions & { json?: string } {
  const { values } = parseArgs({ args: argv, strict: true, options: Object.fromEntries(KEYS.map((k) => [k, { type: "string" as const }])) });
  const v = values as Record<string, string | undefined>;
  const targets = (v.targets ?? STORM_TARGETS.join(",")).split(",").map((t) => t.trim());
  for (const t of targets) if (!STORM_TARGETS.includes(t as StormTargetName)) throw new Error(`--targets: expected ${STORM_TARGETS.join(" and/or ")}, got "${t}"`);
  const auth = (v.auth ?? "scram").split(",").map((a) => a.trim());
  for (const a of auth) if (a !== "scram" && a !== "fast") throw new Error(`--auth: expected scram and/or fast, got "${a}"`);
  const clients = int("clients", v.clients, 15_000, 2, 200_000);
  const loaders = int("loaders", v.loaders, Math.max(2, Math.ceil(clients / 4000)), 1, 64);
  if (Math.ceil(clients / loaders) > MAX_PER_LOADER) throw new Error(`--loaders: ${loaders} loaders would hold ${Math.ceil(clients / loaders)} clients each, above ${MAX_PER_LOADER} (the descriptor limit); use at least ${Math.ceil(clients / MAX_PER_LOADER)}`);
  const core = (name: string, fallback: number) => (v[name] === "none" ? undefined : int(name, v[name], fallback, 0, 1023));
  const backoffBase = int("backoff-base", v["backoff-base"], 500, 1, 600_000);
  const backoffMax = int("backoff-max", v["backoff-max"], 10_000, 1, 600_000);
  if (backoffMax < backoffBase) throw new Error(`--backoff-max: ${backoffMax} is below --backoff-base ${backoffBase}`);
  return {
    clients,
    targets: targets as StormTargetName[],
    loaders,
    auth: auth as StormAuth[],
    loginConcurrency: int("login-concurrency", v["login-concurrency"], 50, 1, 5000),
    sourceAddresses: int("source-addresses", v["source-addresses"], 16, 1, 254),
    handshakeTimeoutMs: int("handshake-timeout", v["handshake-timeout"], 30, 1, 600) * 1000,
    backoff: { baseMs: backoffBase, maxMs: backoffMax },
    giveUpMs: int("give-up", v["give-up"], 300, 1, 3600) * 1000,
    stormTimeoutMs: int("storm-timeout", v["storm-timeout"], 600, 1, 7200) * 1000,
    serverCore: core("server-core", 0),
    loaderCore: core("loader-core", 1),
    json: v.json,
    log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  };
}

export async function stormKillCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${STORM_KILL_USAGE}\n`);
    return 0;
  }
  let options;
  try {
    options = parseStormKillArgs(argv);
  } catch (err) {
    process.stderr.write(`bench storm-kill: ${(err as Error).message}\n\n${STORM_KILL_USAGE}\n`);
    return 2;
  }
  if (options.loaderCore !== undefined && !pinLoadGenerator(options.loaderCore).pinned) options.log(`warning: could not pin this process to core ${options.loaderCore}`);
  const controller = new AbortController();
  const onSignal = () => {
    options.log("storm-kill: interrupted, stopping loaders and servers");
    controller.abort();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const result = await runStormKill({ ...options, signal: controller.signal });
    process.stdout.write(`${formatStormKill(result)}\n`);
    if (options.json) writeFileSync(options.json, `${JSON.stringify({ options: { ...options, log: undefined }, result }, null, 2)}\n`);
    return result.reports.length > 0 && result.reports.every((r) => r.passed) ? 0 : 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
