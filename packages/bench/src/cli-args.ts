/** Arguments of `bench run`: one scenario against one server given by host and port(s). */
import { parseArgs } from "node:util";
import { assertLoopback } from "./loopback.js";
import type { RunOptions } from "./pool.js";
import type { ScenarioSpec, Target } from "./types.js";

export class UsageError extends Error {
  override name = "UsageError";
}

export const RUN_USAGE = `usage: pnpm bench run --scenario idle|storm|chat|muc [options]

target (loopback only):
  --host H              127.0.0.0/8, ::1 or localhost (default 127.0.0.1)
  --port P[,P...]       c2s STARTTLS port(s); clients are spread round-robin (default 5222)
  --domain D            XMPP domain (default localhost)
  --users-prefix P      accounts are <P><i>@<domain>, i from 0 (default bench)
  --password PW         password of every account (default bench-password)
  --no-tls              plain streams (only for servers configured without TLS)
  --server-pid PID[,..] server processes whose RSS is read from /proc (idle)
  --name LABEL          target name in the table (default "server")
  --source-addresses N  spread clients over 127.0.0.1..127.0.0.N (default 8)

scenarios:
  idle   --connections N (default --users) --ramp PER_S (default 500) --hold S (default 10)
  storm  --clients N (default --users) --concurrency C (default 100) --timeout S (default 60)
  chat   --users N --rates R1,R2,... (default 1000) --step S (default 5)
  muc    --occupants N (default --users, else 300) --senders N (default 3)
         --seconds S saturation phase (default 10; 0 skips it)
         --rates R1,...|half  fixed rates in messages/s into the room, "half" = half of the
                              saturation just measured (default half) --step S (default 10)
         --window N           saturation: messages in flight per sender (default 4)
         --room NAME          room at conference.<domain> (default a fresh random name)
         (the server must serve MUC at conference.<domain> with limits above the room's size)

output:
  --json FILE           also write {target, spec, result} as JSON
`;

export interface RunCommand {
  target: Target;
  spec: ScenarioSpec;
  jsonPath?: string;
  run: Pick<RunOptions, "sourceAddresses">;
}

export function parseRunArgs(argv: string[]): RunCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "5222" },
        domain: { type: "string", default: "localhost" },
        "users-prefix": { type: "string", default: "bench" },
        password: { type: "string", default: "bench-password" },
        "no-tls": { type: "boolean", default: false },
        "server-pid": { type: "string" },
        name: { type: "string", default: "server" },
        "source-addresses": { type: "string" },
        scenario: { type: "string" },
        users: { type: "string" },
        connections: { type: "string" },
        ramp: { type: "string", default: "500" },
        hold: { type: "string", default: "10" },
        clients: { type: "string" },
        concurrency: { type: "string", default: "100" },
        timeout: { type: "string", default: "60" },
        rates: { type: "string" },
        step: { type: "string" },
        occupants: { type: "string" },
        senders: { type: "string", default: "3" },
        seconds: { type: "string", default: "10" },
        room: { type: "string" },
        window: { type: "string" },
        json: { type: "string" },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // "localhost" is the one name accepted, pinned to 127.0.0.1: no resolver is consulted.
  const host = values.host === "localhost" ? "127.0.0.1" : values.host;
  try {
    assertLoopback(host);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const target: Target = {
    name: values.name,
    endpoints: list(values.port, "--port").map((port) => ({ host, port: integer(String(port), "--port", 1, 65535) })),
    domain: values.domain,
    userPrefix: values["users-prefix"],
    password: values.password,
    serverPids: values["server-pid"] ? list(values["server-pid"], "--server-pid") : [],
    tls: !values["no-tls"],
  };
  const users = values.users === undefined ? undefined : integer(values.users, "--users", 1, 1_000_000);
  const count = (raw: string | undefined, flag: string) => {
    if (raw !== undefined) return integer(raw, flag, 1, 1_000_000);
    if (users !== undefined) return users;
    throw new UsageError(`${flag} (or --users) is required`);
  };
  let spec: ScenarioSpec;
  switch (values.scenario) {
    case "idle":
      spec = { scenario: "idle", connections: count(values.connections, "--connections"), rampPerSecond: number(values.ramp, "--ramp"), holdSeconds: number(values.hold, "--hold") };
      break;
    case "storm":
      spec = { scenario: "storm", clients: count(values.clients, "--clients"), concurrency: integer(values.concurrency, "--concurrency", 1, 1_000_000), timeoutSeconds: number(values.timeout, "--timeout") };
      break;
    case "chat":
      spec = { scenario: "chat", users: count(undefined, "--users"), rates: list(values.rates ?? "1000", "--rates"), stepSeconds: number(values.step ?? "5", "--step") };
      break;
    case "muc":
      spec = {
        scenario: "muc",
        occupants: values.occupants === undefined ? (users ?? 300) : integer(values.occupants, "--occupants", 2, 5000),
        senders: integer(values.senders, "--senders", 1, 5000),
        saturationSeconds: number(values.seconds, "--seconds"),
        rates: (values.rates ?? "half").split(",").map((r) => r.trim()).filter((r) => r !== "").map((r) => (r === "half" ? "half" : number(r, "--rates"))),
        stepSeconds: number(values.step ?? "10", "--step"),
        ...(values.window === undefined ? {} : { window: integer(values.window, "--window", 1, 1000) }),
        ...(values.room === undefined ? {} : { room: values.room }),
      };
      break;
    default:
      throw new UsageError(`--scenario must be idle, storm, chat or muc${values.scenario ? `, got "${values.scenario}"` : ""}`);
  }
  const sourceAddresses = values["source-addresses"] === undefined ? undefined : integer(values["source-addresses"], "--source-addresses", 1, 254);
  return { target, spec, jsonPath: values.json, run: { sourceAddresses } };
}

function number(raw: string, flag: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number, got "${raw}"`);
  return n;
}

function integer(raw: string, flag: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function list(raw: string, flag: string): number[] {
  const parts = raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new UsageError(`${flag} needs at least one value`);
  return parts.map((p) => number(p, flag));
}
