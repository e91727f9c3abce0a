/**
 * `pnpm bench <command>`: the load generator's command line.
 *   run      one scenario against one server (any XMPP server on loopback)
 *   compare  the comparison runner (Switchboard vs ejabberd), in ./compare/
 *   rolling  rolling restart and kill -9 of every edge under load, in ./rolling/
 *   storm-kill  both edges (and ejabberd) killed -9 under N clients that all reconnect, in ./storm-kill/
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RUN_USAGE, UsageError, parseRunArgs } from "./cli-args.js";
import { formatResult } from "./format.js";
import { runScenario } from "./run.js";

const USAGE = `usage: pnpm bench <command> [options]

commands:
  (none)    same as compare with its defaults: Switchboard, Switchboard 2 edges and ejabberd
  run       run one scenario against one server on loopback (pnpm bench run --help)
  compare   compare servers under the same scenarios (pnpm bench compare --help)
  rolling   rolling restart and kill -9 of every edge under chat with stream management
            (pnpm bench rolling --help)
  storm-kill  N clients online, every server process killed -9 and restarted, all reconnecting:
            Switchboard's 2 edges against ejabberd (pnpm bench storm-kill --help)
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "run":
      return runCommand(rest);
    // ---- compare: owned by the comparison runner (packages/bench/src/compare/index.ts exports
    // runCompare(argv): Promise<number>). Loaded lazily so `run` works without it.
    case "compare":
      return compareCommand(rest);
    case "rolling":
      return (await import("./rolling/index.js")).rollingCommand(rest);
    case "storm-kill":
      return (await import("./storm-kill/index.js")).stormKillCommand(rest);
    case undefined:
      // `pnpm bench` alone: the side-by-side comparison with its defaults (issue #4).
      return compareCommand([]);
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`bench: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

async function runCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  let cmd;
  try {
    cmd = parseRunArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench run: ${err.message}\n\n${RUN_USAGE}`);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write("bench: interrupted, closing connections\n");
    controller.abort(new Error("interrupted"));
  };
  process.once("SIGINT", onSigint);
  try {
    const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
    const result = await runScenario(cmd.target, cmd.spec, { log, signal: controller.signal, ...cmd.run });
    process.stdout.write(`${formatResult(cmd.target.name, result)}\n`);
    if (cmd.target.serverPids.length === 0 && result.scenario === "idle") process.stdout.write("(no --server-pid given: RSS not measured)\n");
    if (cmd.jsonPath) writeFileSync(cmd.jsonPath, `${JSON.stringify({ target: cmd.target, spec: cmd.spec, result }, null, 2)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench run: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

async function compareCommand(argv: string[]): Promise<number> {
  // a variable specifier: the module may not exist yet, and tsc must not require it
  const specifier = "./compare/index.js";
  let mod: { runCompare(argv: string[]): Promise<number> };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && String((err as Error).message).includes("compare")) {
      process.stderr.write("compare: not available yet\n");
      return 2;
    }
    throw err;
  }
  return mod.runCompare(argv);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
