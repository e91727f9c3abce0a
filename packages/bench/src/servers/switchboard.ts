/**
 * Switchboard single node (`switchboard start`, embedded SQLite store, in-memory registry and bus)
 * pinned to one core. Accounts are imported with `switchboard user import` before start-up: it
 * writes the SQLite file directly. Defaults are kept, so the numbers are those of a default node,
 * with two exceptions that would otherwise measure a limit rather than the server:
 * - the per-user rates (`userRateBenchEnv`, every scenario): the defaults, 50 stanzas/s per user,
 *   would pace the chat scenario's senders (hundreds of messages per second each); they stay
 *   enforced — every stanza pays the check — with an allowance no bench user reaches, as
 *   ejabberd runs without shapers. An operator's SWITCHBOARD_LIMITS_USER_* in the environment
 *   wins (docs/benchmarks.md measures limits off against on that way);
 * - the MUC service's limits (`mucBenchEnv`, the muc scenario only): its defaults
 * (200 occupants, 2 messages/s per occupant, 20 messages of history, 2 s between joins) would
 * throttle a 300-occupant room.
 */
import { resolve } from "node:path";
import { PinnedProcess, freePort, httpStatus, makeTempDir, runCommand, waitUntil, withCleanupOnFailure } from "./process.js";
import { startOtlpSink } from "./otlp-sink.js";
import { BENCH_DOMAIN, BENCH_MUC_MAX_OCCUPANTS, DEFAULT_PASSWORD, DEFAULT_USER_PREFIX, accountLines, type LaunchOptions, type LaunchedServer } from "./launcher.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../../../..");
const CLI_MAIN = resolve(REPO_ROOT, "packages/cli/src/main.ts");

/** node with the tsx loader (not the tsx CLI, which forks a second process) on the sources */
export function switchboardCommand(args: string[]): [string, string[]] {
  return [process.execPath, ["--conditions=source", "--import", "tsx", CLI_MAIN, ...args]];
}

export async function importSwitchboardUsers(env: Record<string, string>, users: number, prefix: string, password: string): Promise<void> {
  const [cmd, args] = switchboardCommand(["user", "import"]);
  await runCommand(cmd, args, { cwd: REPO_ROOT, env: { ...env, SWITCHBOARD_CONFIG: "" }, input: accountLines(users, prefix, password), timeoutMs: 300_000 });
}

/**
 * muc.* settings (docs/configuration.md) that keep the service from throttling the benchmark:
 * the same room size limit as ejabberd's max_users, no rates, no history, no join or presence
 * intervals, any number of rooms created or joined per user, the service at conference.<domain>.
 */
export function mucBenchEnv(): Record<string, string> {
  return {
    SWITCHBOARD_MUC_MAX_OCCUPANTS: String(BENCH_MUC_MAX_OCCUPANTS),
    SWITCHBOARD_MUC_MESSAGES_PER_SECOND: "0",
    SWITCHBOARD_MUC_HISTORY_MESSAGES: "0",
    SWITCHBOARD_MUC_MAX_ROOMS_PER_USER: "0",
    SWITCHBOARD_MUC_MIN_JOIN_INTERVAL_SECONDS: "0",
    SWITCHBOARD_MUC_MIN_PRESENCE_INTERVAL_SECONDS: "0",
    SWITCHBOARD_MUC_MAX_ROOMS_CREATED_PER_USER_PER_HOUR: "0",
    SWITCHBOARD_MUC_CREATE_ROOMS: "local",
  };
}

/**
 * No message archive, as the ejabberd side runs without mod_mam (its config, ejabberd.ts): the
 * side-by-side figures compare routing. SWITCHBOARD_MAM_ENABLED=true in the environment measures
 * the archive's cost (docs/benchmarks.md, issue 14.2).
 */
export function archiveBenchEnv(): Record<string, string> {
  return process.env.SWITCHBOARD_MAM_ENABLED === undefined ? { SWITCHBOARD_MAM_ENABLED: "false" } : {};
}

/** limits.userStanzasPerSecond and friends enforced but above any bench user's rate (see the header). */
export function userRateBenchEnv(): Record<string, string> {
  const raised: Record<string, string> = {
    SWITCHBOARD_LIMITS_USER_STANZAS_PER_SECOND: "1000000",
    SWITCHBOARD_LIMITS_USER_STANZA_BURST: "10000000",
    SWITCHBOARD_LIMITS_USER_BYTES_PER_SECOND: "1000000000",
  };
  return Object.fromEntries(Object.entries(raised).filter(([name]) => process.env[name] === undefined));
}

export interface SwitchboardNodeOptions {
  label: string;
  core?: number;
  dataDir: string;
  /** --role; default all roles (the single node) */
  role?: "edge" | "edge,muc";
  env?: Record<string, string>;
  /** the ports of an earlier start (a restart); free ones otherwise */
  ports?: { c2s: number; c2sTls: number; http: number };
  /** how much of its output to keep (PinnedProcess) */
  outputTailChars?: number;
}

export interface SwitchboardNode {
  process: PinnedProcess;
  c2sPort: number;
  httpPort: number;
  ports: { c2s: number; c2sTls: number; http: number };
}

/** Start one `switchboard start` process and wait until /readyz answers 200. */
export async function startSwitchboardNode(opts: SwitchboardNodeOptions): Promise<SwitchboardNode> {
  const [c2sPort, tlsPort, httpPort] = opts.ports ? [opts.ports.c2s, opts.ports.c2sTls, opts.ports.http] : [await freePort(), await freePort(), await freePort()];
  const [cmd, args] = switchboardCommand(opts.role ? ["start", "--role", opts.role] : ["start"]);
  const proc = PinnedProcess.spawn(opts.label, cmd, args, {
    core: opts.core,
    cwd: REPO_ROOT,
    outputTailChars: opts.outputTailChars,
    env: {
      SWITCHBOARD_CONFIG: "",
      SWITCHBOARD_DATA_DIR: opts.dataDir,
      SWITCHBOARD_DOMAIN: BENCH_DOMAIN,
      SWITCHBOARD_BIND: "127.0.0.1",
      SWITCHBOARD_C2S_PORT: String(c2sPort),
      SWITCHBOARD_C2S_TLS_PORT: String(tlsPort),
      SWITCHBOARD_HTTP_PORT: String(httpPort),
      SWITCHBOARD_HTTP_TLS_PORT: "0",
      SWITCHBOARD_S2S_PORT: "0",
      SWITCHBOARD_LOG_LEVEL: "warn",
      SWITCHBOARD_LOG_FORMAT: "json",
      ...userRateBenchEnv(),
      ...archiveBenchEnv(),
      ...opts.env,
    },
  });
  const node = { process: proc, c2sPort, httpPort, ports: { c2s: c2sPort, c2sTls: tlsPort, http: httpPort } };
  await withCleanupOnFailure([() => proc.stop()], () =>
    waitUntil(`${opts.label} /readyz`, proc, 60_000, async () => (await httpStatus(`http://127.0.0.1:${httpPort}/readyz`)) === 200),
  );
  return node;
}

/**
 * The single node with OpenTelemetry traces on at the default 1 % (tracing.sampleRatio 0.01),
 * exported over OTLP/HTTP to a sink in this process (otlp-sink.ts): run beside `switchboard` to
 * measure what tracing costs (docs/benchmarks.md).
 */
export async function startSwitchboardTraced(opts: LaunchOptions): Promise<LaunchedServer> {
  const sink = await startOtlpSink();
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sink.url, SWITCHBOARD_TRACING_SAMPLE_RATIO: "0.01" };
  return withCleanupOnFailure([() => sink.close()], async () => {
    const server = await startSwitchboard(opts, { name: "switchboard-traced", env });
    return {
      ...server,
      version: `${server.version}, traces at 1 % over OTLP/HTTP`,
      async stop() {
        await server.stop();
        process.stderr.write(`[switchboard-traced] the node made ${sink.requests} OTLP exports (${sink.bytes} bytes)\n`);
        await sink.close();
      },
    };
  });
}

export async function startSwitchboard(opts: LaunchOptions, variant: { name: string; env: Record<string, string> } = { name: "switchboard", env: {} }): Promise<LaunchedServer> {
  const prefix = opts.userPrefix ?? DEFAULT_USER_PREFIX;
  const password = opts.password ?? DEFAULT_PASSWORD;
  const tmp = makeTempDir("sb-bench-");
  return withCleanupOnFailure([tmp.remove], async () => {
    await importSwitchboardUsers({ SWITCHBOARD_DATA_DIR: tmp.path, SWITCHBOARD_DOMAIN: BENCH_DOMAIN }, opts.users, prefix, password);
    const node = await startSwitchboardNode({ label: variant.name, core: opts.core ?? 0, dataDir: tmp.path, env: { ...(opts.muc ? mucBenchEnv() : {}), ...variant.env } });
    return {
      target: {
        name: variant.name,
        endpoints: [{ host: "127.0.0.1", port: node.c2sPort }],
        domain: BENCH_DOMAIN,
        userPrefix: prefix,
        password,
        serverPids: [node.process.pid],
        tls: true,
      },
      version: `switchboard (node ${process.version})`,
      async stop() {
        await node.process.stop();
        tmp.remove();
      },
    };
  });
}
