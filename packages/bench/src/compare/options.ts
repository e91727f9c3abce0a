/** `switchboard-bench compare` options, with bounded defaults sized for a 2-core machine. */
import { parseArgs } from "node:util";
import { DEFAULT_TARGETS, SERVER_NAMES, type ServerName } from "../servers/index.js";
import type { ScenarioName } from "../types.js";

export class CompareUsageError extends Error {
  override name = "CompareUsageError";
}

export interface CompareOptions {
  scenarios: ScenarioName[];
  targets: ServerName[];
  reps: number;
  idleConnections: number;
  idleRampPerSecond: number;
  idleHoldSeconds: number;
  stormClients: number;
  stormConcurrency: number;
  stormTimeoutSeconds: number;
  chatUsers: number;
  chatRates: number[];
  chatStepSeconds: number;
  /** each chat repetition is followed by the same with XEP-0198 (resumable) on every client */
  chatSm: boolean;
  /** muc: occupants of the one room, how many of them send, seconds per phase */
  mucOccupants: number;
  mucSenders: number;
  mucSeconds: number;
  /** muc: the fixed rate (messages/s into the room) for every target; null: half of the reference target's saturation */
  mucRate: number | null;
  /** core for the servers; the load generator takes loaderCore */
  serverCore: number;
  loaderCore: number;
  jsonPath: string;
}

/** Upper bounds keep one run within the fd limit (20000) and a few minutes per scenario. */
const MAX_CONNECTIONS = 9_000;
/** every join is announced to everyone in the room: joins are quadratic in the room's size */
const MAX_MUC_OCCUPANTS = 5_000;

export const COMPARE_USAGE = `usage: compare [options]
  --scenario idle|storm|chat|muc|all  (default all)
  --targets a,b,c                     ${SERVER_NAMES.join(",")} (default ${DEFAULT_TARGETS.join(",")};
                                      switchboard-traced: the single node with traces at 1 %)
  --reps N                            repetitions per target and scenario (default 3, 1..20)
  --users N                           size of idle, storm and chat (overrides the three below)
  --idle-connections N                (default 6000)     --idle-hold S (default 5)
  --storm-clients N                   (default 1000)     --storm-concurrency N (default 100)
  --chat-users N                      (default 200)      --chat-rates r1,r2,… msg/s (default 1000,2000,4000,8000,16000,32000)
  --chat-step S                       seconds per rate step (default 5)
  --chat-sm on|off                    after each chat repetition, the same with stream management
                                      (XEP-0198, resumable) on every client (default on)
  --muc-occupants N                   occupants of the one room (default 300, 2..${MAX_MUC_OCCUPANTS})
  --muc-senders N                     occupants that send (default 3)
  --muc-seconds S                     seconds of saturation and of each fixed-rate step (default 10)
  --muc-rate R                        fixed rate, messages/s into the room, for every target (default:
                                      half of the first target's median saturation, ejabberd first)
  --server-core N --loader-core N     (default 0 and 1)
  --json FILE                         (default results/bench-<date>.json)`;

function int(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new CompareUsageError(`--${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function parseCompareOptions(argv: string[], now = new Date()): CompareOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: Object.fromEntries(
        ["scenario", "targets", "reps", "users", "idle-connections", "idle-hold", "storm-clients", "storm-concurrency", "chat-users", "chat-rates", "chat-step", "chat-sm", "muc-occupants", "muc-senders", "muc-seconds", "muc-rate", "server-core", "loader-core", "json"].map((k) => [k, { type: "string" as const }]),
      ),
    }).values as Record<string, string | undefined>;
  } catch (err) {
    throw new CompareUsageError((err as Error).message);
  }

  const scenario = parsed.scenario ?? "all";
  const all: ScenarioName[] = ["idle", "storm", "chat", "muc"];
  if (scenario !== "all" && !all.includes(scenario as ScenarioName)) throw new CompareUsageError(`--scenario: expected idle, storm, chat, muc or all, got "${scenario}"`);
  const targets = (parsed.targets ?? DEFAULT_TARGETS.join(",")).split(",").map((t) => t.trim()).filter(Boolean);
  for (const t of targets) if (!SERVER_NAMES.includes(t as ServerName)) throw new CompareUsageError(`--targets: unknown target "${t}" (known: ${SERVER_NAMES.join(", ")})`);
  if (targets.length === 0) throw new CompareUsageError("--targets: empty");

  const users = parsed.users === undefined ? undefined : int("users", parsed.users, 0, 2, MAX_CONNECTIONS);
  const rates = (parsed["chat-rates"] ?? "1000,2000,4000,8000,16000,32000").split(",").map((r) => int("chat-rates", r.trim(), 0, 1, 100_000));
  const chatSm = parsed["chat-sm"] ?? "on";
  if (chatSm !== "on" && chatSm !== "off") throw new CompareUsageError(`--chat-sm: expected on or off, got "${chatSm}"`);
  const mucOccupants = int("muc-occupants", parsed["muc-occupants"], 300, 2, MAX_MUC_OCCUPANTS);
  const mucSenders = int("muc-senders", parsed["muc-senders"], 3, 1, mucOccupants);
  const serverCore = int("server-core", parsed["server-core"], 0, 0, 1023);
  const loaderCore = int("loader-core", parsed["loader-core"], 1, 0, 1023);
  if (serverCore === loaderCore) throw new CompareUsageError("--server-core and --loader-core must differ");

  return {
    scenarios: scenario === "all" ? all : [scenario as ScenarioName],
    targets: [...new Set(targets)] as ServerName[],
    reps: int("reps", parsed.reps, 3, 1, 20),
    // 6000 rather than 2000: per-connection memory then weighs fixed costs (JIT code, young
    // generation, TLS context) much less, for every server alike (docs/benchmarks.md).
    idleConnections: users ?? int("idle-connections", parsed["idle-connections"], 6000, 1, MAX_CONNECTIONS),
    idleRampPerSecond: 500,
    idleHoldSeconds: int("idle-hold", parsed["idle-hold"], 5, 1, 300),
    stormClients: users ?? int("storm-clients", parsed["storm-clients"], 1000, 1, MAX_CONNECTIONS),
    stormConcurrency: int("storm-concurrency", parsed["storm-concurrency"], 100, 1, 5000),
    stormTimeoutSeconds: 120,
    chatUsers: users ?? int("chat-users", parsed["chat-users"], 200, 2, MAX_CONNECTIONS),
    chatRates: rates.sort((a, b) => a - b),
    chatStepSeconds: int("chat-step", parsed["chat-step"], 5, 1, 120),
    chatSm: chatSm === "on",
    mucOccupants,
    mucSenders,
    mucSeconds: int("muc-seconds", parsed["muc-seconds"], 10, 1, 300),
    mucRate: parsed["muc-rate"] === undefined ? null : int("muc-rate", parsed["muc-rate"], 0, 1, 1_000_000),
    serverCore,
    loaderCore,
    jsonPath: parsed.json ?? `results/bench-${now.toISOString().slice(0, 19).replace(/:/g, "")}.json`,
  };
}
