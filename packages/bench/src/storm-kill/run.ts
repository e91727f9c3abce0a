/**
 * The reconnect storm after a crash (issue 10, "Storm, measured"), on real processes: N clients
 * held online by loader processes, every server process killed -9 at once and started again,
 * every client reconnecting by itself (storm-client.ts). Measured from the kill: seconds until
 * every client is online again, attempts and failures by kind, the servers' peak RSS, the
 * edges' largest event-loop lag and the Redis commands the storm cost (probes.ts). The same run
 * on ejabberd gives the ratio. FAST (XEP-0484) reconnects are reported as not available: no
 * server under test offers them yet, and a number for them would be made up.
 */
import { sleep } from "../pool.js";
import { round } from "../stats.js";
import { LoaderGroup } from "./loaders.js";
import { peakRssBytes, redisCommandsProcessed, watchLag } from "./probes.js";
import type { LoaderProgress } from "./protocol.js";
import { ACCEPTABLE_FAILURES, type Backoff } from "./retry.js";
import { startStormTarget, type StormTarget, type StormTargetName } from "./targets.js";

export type StormAuth = "scram" | "fast";

export interface StormKillOptions {
  clients: number;
  targets: StormTargetName[];
  loaders: number;
  auth: StormAuth[];
  /** handshakes in flight per loader while the clients first log in */
  loginConcurrency: number;
  sourceAddresses: number;
  handshakeTimeoutMs: number;
  backoff: Backoff;
  /** a client gives up this long after its drop */
  giveUpMs: number;
  /** the whole recovery may take this long before the run stops waiting */
  stormTimeoutMs: number;
  serverCore?: number;
  loaderCore?: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface StormKillReport {
  target: StormTargetName;
  version: string;
  auth: "scram";
  clients: number;
  /** the first logins, paced (not the storm) */
  initialLoginSeconds: number;
  /** kill -9 of every server process until they were all killed, and until all were serving again */
  killSeconds: number;
  serverBackSeconds: number;
  /** from the kill until the last client was online again; undefined when not all came back */
  secondsUntilAllOnline: number | undefined;
  /** the same, from the moment the servers were serving again (what the storm itself took) */
  secondsFromServingToAllOnline: number | undefined;
  dropped: number;
  recovered: number;
  gaveUp: number;
  attempts: number;
  /** failed attempts by kind (retry.ts); "refused" and "paced" are the acceptable ones */
  failures: Record<string, number>;
  unacceptableFailures: number;
  /** a few messages of each failure kind but "refused" */
  failureSamples: Record<string, string[]>;
  /** VmHWM of each server process (the restarted ones: peak since the restart), bytes */
  peakRssBytes: Record<string, number | undefined>;
  /** largest p99 of switchboard_event_loop_lag_seconds per edge over 0.5 s windows; absent for ejabberd */
  maxEventLoopLagSeconds?: Record<string, number | undefined>;
  lagScrapes?: { scrapes: number; failed: number };
  /** total_commands_processed on the cluster's Redis, from before the kill until all were online */
  redisCommands?: number;
  passed: boolean;
  error?: string;
}

export interface StormKillResult {
  reports: StormKillReport[];
  /** switchboard-2edges ÷ ejabberd seconds until all online (lower is better for Switchboard) */
  ratio?: number;
  /** the same ratio counted from serving again (restart time left out) */
  ratioFromServing?: number;
  fast?: { available: false; reason: string };
}

export const FAST_UNAVAILABLE = "FAST (XEP-0484) is not implemented yet (issue 10, item 3): no FAST-token reconnects to measure";

export async function runStormKill(opts: StormKillOptions): Promise<StormKillResult> {
  const result: StormKillResult = { reports: [] };
  if (opts.auth.includes("fast")) {
    result.fast = { available: false, reason: FAST_UNAVAILABLE };
    opts.log(`storm-kill: ${FAST_UNAVAILABLE}`);
  }
  if (!opts.auth.includes("scram")) return result;
  for (const name of opts.targets) {
    if (opts.signal?.aborted) break;
    result.reports.push(await runOne(name, opts));
  }
  const sb = result.reports.find((r) => r.target === "switchboard-2edges")?.secondsUntilAllOnline;
  const ej = result.reports.find((r) => r.target === "ejabberd")?.secondsUntilAllOnline;
  if (sb !== undefined && ej !== undefined && ej > 0) result.ratio = round(sb / ej, 2);
  const sbServing = result.reports.find((r) => r.target === "switchboard-2edges")?.secondsFromServingToAllOnline;
  const ejServing = result.reports.find((r) => r.target === "ejabberd")?.secondsFromServingToAllOnline;
  if (sbServing !== undefined && ejServing !== undefined && ejServing > 0) result.ratioFromServing = round(sbServing / ejServing, 2);
  return result;
}

function slices(clients: number, loaders: number): Array<{ first: number; count: number }> {
  const out = [];
  for (let i = 0, first = 0; i < loaders; i++) {
    const count = Math.floor(clients / loaders) + (i < clients % loaders ? 1 : 0);
    out.push({ first, count });
    first += count;
  }
  return out;
}

const fmtFailures = (f: Record<string, number>) => Object.entries(f).map(([k, n]) => `${k} ${n}`).join(", ") || "none";

async function runOne(name: StormTargetName, opts: StormKillOptions): Promise<StormKillReport> {
  const log = (line: string) => opts.log(`storm-kill ${name}: ${line}`);
  log(`starting (${opts.clients} accounts)`);
  const target = await startStormTarget(name, { users: opts.clients, core: opts.serverCore, log });
  let loaders: LoaderGroup | undefined;
  const report: StormKillReport = {
    target: name, version: target.version, auth: "scram", clients: opts.clients, initialLoginSeconds: 0, killSeconds: 0, serverBackSeconds: 0,
    secondsUntilAllOnline: undefined, secondsFromServingToAllOnline: undefined, dropped: 0, recovered: 0, gaveUp: 0, attempts: 0, failures: {}, unacceptableFailures: 0, failureSamples: {}, peakRssBytes: {}, passed: false,
  };
  try {
    const loginStarted = Date.now();
    loaders = LoaderGroup.spawn(slices(opts.clients, opts.loaders), {
      endpoints: target.endpoints, domain: target.domain, userPrefix: target.userPrefix, password: target.password,
      sourceAddresses: opts.sourceAddresses, loginConcurrency: opts.loginConcurrency, handshakeTimeoutMs: opts.handshakeTimeoutMs,
      backoff: opts.backoff, giveUpMs: opts.giveUpMs,
      // login, storm and slack: a loader never outlives the run by much, even orphaned
      lifetimeMs: opts.giveUpMs * 2 + opts.stormTimeoutMs + 120_000 + opts.clients * 20,
    }, opts.loaderCore);
    const group = loaders;
    await waitFor(opts, group, Math.max(120_000, opts.clients * 20), () => group.allReady, (t) => `${t.online}/${opts.clients} logged in (failed attempts: ${fmtFailures(t.failures)})`, log);
    const initial = group.total();
    if (initial.online < opts.clients) throw new Error(`only ${initial.online}/${opts.clients} logged in before the storm (${fmtFailures(initial.failures)})`);
    report.initialLoginSeconds = round((Date.now() - loginStarted) / 1000, 2);
    log(`${initial.online} online in ${report.initialLoginSeconds} s; killing ${target.processes().map((p) => p.label).join(" and ")} with -9`);

    await target.settle();
    await sleep(1000, opts.signal);
    const redisBefore = target.redisPort === undefined ? undefined : await redisCommandsProcessed(target.redisPort);
    await group.arm();
    const lag = watchLag(() => target.metricsUrls());
    const killAt = Date.now();
    try {
      await target.killAll();
      report.killSeconds = round((Date.now() - killAt) / 1000, 3);
      await target.restartAll();
      report.serverBackSeconds = round((Date.now() - killAt) / 1000, 2);
      log(`restarted and ready ${report.serverBackSeconds} s after the kill`);
      await waitFor(opts, group, opts.stormTimeoutMs, () => {
        const t = group.total();
        return t.recovered + t.gaveUp >= opts.clients;
      }, (t) => `${t.recovered}/${opts.clients} online again, ${t.attempts} attempts (failed: ${fmtFailures(t.failures)})`, log, true);
    } finally {
      const t = group.total();
      Object.assign(report, { dropped: t.dropped, recovered: t.recovered, gaveUp: t.gaveUp, attempts: t.attempts, failures: t.failures, failureSamples: t.samples });
      report.unacceptableFailures = Object.entries(t.failures).filter(([k]) => !ACCEPTABLE_FAILURES.has(k)).reduce((n, [, c]) => n + c, 0);
      if (t.recovered >= opts.clients) {
        report.secondsUntilAllOnline = round((t.lastRecoveredAt - killAt) / 1000, 2);
        if (report.serverBackSeconds > 0) report.secondsFromServingToAllOnline = round(report.secondsUntilAllOnline - report.serverBackSeconds, 2);
      }
      for (const p of [...target.processes(), ...target.backendPids()]) report.peakRssBytes[p.label] = peakRssBytes(p.pid);
      const lagResult = await lag.stop();
      if (target.metricsUrls().length > 0) {
        report.maxEventLoopLagSeconds = Object.fromEntries(target.processes().map((p, i) => [p.label, lagResult.maxSeconds[i]]));
        report.lagScrapes = { scrapes: lagResult.scrapes, failed: lagResult.failedScrapes };
      }
      if (redisBefore !== undefined && target.redisPort !== undefined) report.redisCommands = (await redisCommandsProcessed(target.redisPort)) - redisBefore;
    }
    report.passed = report.secondsUntilAllOnline !== undefined && report.unacceptableFailures === 0;
    log(`all ${opts.clients} online again ${report.secondsUntilAllOnline ?? "–"} s after the kill`);
  } catch (err) {
    report.error = (err as Error).message;
    log(`failed: ${report.error}`);
    if (process.env.SB_STORM_DEBUG) log(target.output());
  } finally {
    await loaders?.stop();
    await target.stop();
  }
  return report;
}

/** Polls `done` until true; throws on a loader problem, abort or timeout; logs progress every 2 s. */
async function waitFor(
  opts: StormKillOptions, group: LoaderGroup, timeoutMs: number, done: () => boolean,
  describe: (t: LoaderProgress) => string, log: (line: string) => void, quietTimeout = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nextLog = Date.now() + 2000;
  while (!done()) {
    const problem = group.problem();
    if (problem) throw new Error(problem);
    if (opts.signal?.aborted) throw new Error("interrupted");
    if (Date.now() > deadline) {
      if (quietTimeout) return log(`gave up waiting after ${timeoutMs / 1000} s: ${describe(group.total())}`);
      throw new Error(`not done after ${timeoutMs / 1000} s: ${describe(group.total())}`);
    }
    if (Date.now() >= nextLog) {
      log(describe(group.total()));
      nextLog = Date.now() + 2000;
    }
    await sleep(50, opts.signal);
  }
}
