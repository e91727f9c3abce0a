/**
 * `compare`: the same scenarios against Switchboard (one node), Switchboard (two edges over Redis
 * and NATS) and ejabberd, on one machine. Servers are pinned to one core, this process (the load
 * generator) to another. For each scenario and target: start the server fresh, run the scenario
 * `reps` times (idle: on a fresh server each time, for honest RSS deltas), stop it. The chat scenario then gets one extra fixed-rate step per repetition at
 * half of the reference saturation rate (ejabberd's when it is a target), for a latency that is
 * measured below saturation on every server; the muc scenario does the same with its own
 * reference rate (./muc.ts). Prints one table of medians and writes every raw repetition to
 * JSON. docs/benchmarks.md describes the method and its limits.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { launchers, type LaunchedServer, type ServerName } from "../servers/index.js";
import { REPO_ROOT } from "../servers/switchboard.js";
import type { ChatResult, ScenarioName, ScenarioResult, ScenarioSpec, Target } from "../types.js";
import { machineFacts, pinLoadGenerator } from "./machine.js";
import { mucNotes, mucReferenceRate, mucReferenceSpec, mucSpec, mucSummary, mucUnavailable } from "./muc.js";
import { COMPARE_USAGE, CompareUsageError, parseCompareOptions, type CompareOptions } from "./options.js";
import { buildTable, formatTable, median, type RawResults } from "./table.js";

type RunScenario = (target: Target, spec: ScenarioSpec) => Promise<ScenarioResult>;

async function loadRunScenario(): Promise<RunScenario> {
  // The load generator lives beside this module (packages/bench/src/run.ts).
  const mod = (await import("../run.js")) as { runScenario: RunScenario };
  return mod.runScenario;
}

export function scenarioSpec(name: ScenarioName, o: CompareOptions): ScenarioSpec {
  switch (name) {
    case "idle":
      return { scenario: "idle", connections: o.idleConnections, rampPerSecond: o.idleRampPerSecond, holdSeconds: o.idleHoldSeconds };
    case "storm":
      return { scenario: "storm", clients: o.stormClients, concurrency: o.stormConcurrency, timeoutSeconds: o.stormTimeoutSeconds };
    case "chat":
      return { scenario: "chat", users: o.chatUsers, rates: o.chatRates, stepSeconds: o.chatStepSeconds };
    case "muc":
      return mucSpec(o);
  }
}

function usersNeeded(spec: ScenarioSpec): number {
  switch (spec.scenario) {
    case "idle":
      return spec.connections;
    case "storm":
      return spec.clients;
    case "chat":
      return spec.users;
    case "muc":
      return spec.occupants;
  }
}

const log = (msg: string) => process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** ejabberd first: its saturation sets the rate of the latency step for every target. */
function orderTargets(targets: ServerName[]): ServerName[] {
  return [...targets].sort((a, b) => (a === "ejabberd" ? -1 : b === "ejabberd" ? 1 : 0));
}

export async function runCompare(argv: string[]): Promise<number> {
  let opts: CompareOptions;
  try {
    opts = parseCompareOptions(argv);
  } catch (err) {
    if (err instanceof CompareUsageError) {
      process.stderr.write(`compare: ${err.message}\n${COMPARE_USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const runScenario = await loadRunScenario();
  // before pinning: once pinned, availableParallelism() counts the one core left to this process
  const machine = machineFacts(REPO_ROOT);
  const affinity = pinLoadGenerator(opts.loaderCore);
  if (!affinity.pinned) log(`warning: could not pin the load generator to core ${opts.loaderCore} (taskset missing?)`);
  const targets = orderTargets(opts.targets);
  const results: RawResults = {};
  const versions: Record<string, string> = {};
  let latencyRate: number | null = null;
  let mucRate: number | null = null;
  let mucRateFrom = "";
  const errors: Array<{ scenario: string; target: string; error: string; unavailable?: boolean }> = [];

  // Always stop what was started, also on Ctrl-C.
  let running: LaunchedServer | undefined;
  const onSignal = () => void running?.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    for (const scenario of opts.scenarios) {
      const spec = scenarioSpec(scenario, opts);
      for (const name of targets) {
        log(`${scenario} on ${name}: starting (${usersNeeded(spec)} accounts, core ${opts.serverCore})`);
        const launch = { users: usersNeeded(spec), core: opts.serverCore, muc: scenario === "muc" };
        let started = false;
        try {
          running = await launchers[name](launch);
          started = true;
          versions[name] = running.version;
          const reps: ScenarioResult[] = ((results[scenario] ??= {})[name] = []);
          for (let rep = 1; rep <= opts.reps; rep++) {
            // RSS per idle connection needs a fresh server each time: a VM that has already grown
            // (BEAM, V8) keeps its memory after the clients leave, and the next delta reads ~0.
            if (scenario === "idle" && rep > 1) {
              await running.stop();
              running = await launchers[name](launch);
            }
            const result = await runScenario(running.target, spec);
            reps.push(result);
            log(`${scenario} on ${name}: rep ${rep}/${opts.reps} done ${summary(result)}`);
            if (scenario === "chat" && opts.chatSm) {
              // Right after, on the same server: noise hits both alike, the ratio is fair.
              const sm = await runScenario(running.target, { ...spec, streamManagement: "resume" } as ScenarioSpec);
              ((results.chatSm ??= {})[name] ??= []).push(sm);
              log(`chat with stream management on ${name}: rep ${rep}/${opts.reps} done ${summary(sm)}`);
            }
          }
          if (scenario === "chat") {
            latencyRate ??= Math.max(1, Math.round((median(reps.map((r) => (r as ChatResult).saturationPerSecond)) ?? 0) / 2));
            const latencySpec: ScenarioSpec = { scenario: "chat", users: opts.chatUsers, rates: [latencyRate], stepSeconds: opts.chatStepSeconds };
            const latencyReps: ScenarioResult[] = ((results.latency ??= {})[name] = []);
            for (let rep = 1; rep <= opts.reps; rep++) {
              const result = await runScenario(running.target, latencySpec);
              latencyReps.push(result);
              log(`latency step at ${latencyRate} msg/s on ${name}: rep ${rep}/${opts.reps} ${summary(result)}`);
            }
          }
          if (scenario === "muc") {
            if (mucRate === null) {
              mucRate = mucReferenceRate(opts, reps);
              mucRateFrom = name;
            }
            if (mucRate === null) throw new Error(`muc on ${name}: no saturation measured, so no reference rate`);
            const refReps: ScenarioResult[] = ((results.mucLatency ??= {})[name] = []);
            for (let rep = 1; rep <= opts.reps; rep++) {
              const result = await runScenario(running.target, mucReferenceSpec(opts, mucRate));
              refReps.push(result);
              log(`muc at the reference ${mucRate} msg/s on ${name}: rep ${rep}/${opts.reps} ${summary(result)}`);
            }
          }
        } catch (err) {
          // One broken target must not lose the others' results: record it and go on.
          const unavailable = scenario === "muc" && mucUnavailable(err, started);
          errors.push({ scenario, target: name, error: String((err as Error)?.stack ?? err), ...(unavailable ? { unavailable } : {}) });
          log(`${scenario} on ${name} ${unavailable ? "NOT AVAILABLE" : "FAILED"}: ${(err as Error).message}`);
        } finally {
          await running?.stop().catch((err) => log(`stopping ${name}: ${(err as Error).message}`));
          running = undefined;
        }
      }
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const columns = opts.targets.filter((t) => targets.includes(t));
  const table = buildTable(results, columns);
  const text = formatTable(table, columns);
  process.stdout.write(`\n${text}\n\n`);
  if (opts.scenarios.includes("chat")) process.stdout.write(`ref rate for latency: ${latencyRate ?? "–"} msg/s (half of ${targets[0]}'s median saturation)\n`);
  const unavailable = errors.filter((e) => e.unavailable);
  if (opts.scenarios.includes("muc")) for (const line of mucNotes(opts, mucRate, mucRateFrom, unavailable)) process.stdout.write(`${line}\n`);
  process.stdout.write(`medians of ${opts.reps} repetitions\n`);
  for (const line of smRatios(results, columns)) process.stdout.write(`${line}\n`);

  const jsonPath = resolve(process.cwd(), opts.jsonPath);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify({ machine, versions, options: opts, affinity, latencyRatePerSecond: latencyRate, mucRatePerSecond: mucRate, table, results, errors }, null, 2) + "\n");
  process.stdout.write(`wrote ${jsonPath}\n`);
  // a target without usable MUC is a finding, reported above; only real failures fail the run
  return errors.length > unavailable.length ? 1 : 0;
}

/** Per target: chat saturation with XEP-0198 on every client over without (medians, same run). */
function smRatios(results: RawResults, targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const without = median((results.chat?.[t] ?? []).map((r) => (r as ChatResult).saturationPerSecond));
    const withSm = median((results.chatSm?.[t] ?? []).map((r) => (r as ChatResult).saturationPerSecond));
    if (without === null || withSm === null || without === 0) continue;
    out.push(`stream management on ${t}: ${withSm.toFixed(0)} msg/s with, ${without.toFixed(0)} without: ${(withSm / without).toFixed(2)}×`);
  }
  return out;
}

function summary(r: ScenarioResult): string {
  const failures = Object.entries(r.failures).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(",");
  const main =
    r.scenario === "idle" ? `${r.online}/${r.connections} online in ${r.secondsToOnline.toFixed(1)} s, ${(r.bytesPerConnection / 1024).toFixed(1)} KiB/conn`
    : r.scenario === "storm" ? `${r.succeeded}/${r.clients}, ${r.loginsPerSecond.toFixed(0)} logins/s`
    : r.scenario === "muc" ? mucSummary(r)
    : `saturation ${r.saturationPerSecond.toFixed(0)} msg/s, p99 ${r.steps.map((s) => s.latencyMs.p99.toFixed(0)).join("/")} ms`;
  return failures ? `${main} (failures ${failures})` : main;
}
