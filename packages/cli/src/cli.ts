/**
 * Command dispatch and error reporting for the `switchboard` command. Commands are imported on
 * demand so `--help` and usage errors stay fast and work even if a server package is broken.
 */
import { CommandError, UsageError } from "./errors.js";
import { println, type CliIo } from "./io.js";
import { parseCommandLine } from "./options.js";
import { USAGE } from "./usage.js";

/** Runs one command line and returns the exit code; all output goes through io. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    // `switchboard bench …` hands its own flags to the load generator (same as `pnpm bench …`).
    if (argv[0] === "bench") return await (await import("@switchboard/bench")).benchMain(argv.slice(1));
    const { positionals, options } = parseCommandLine(argv);
    const [command, ...args] = positionals;
    if (options.help || command === "help") {
      io.stdout.write(USAGE);
      return 0;
    }
    switch (command) {
      case "start":
        return await (await import("./commands/start.js")).startCommand(args, options, io);
      case "user":
        return await (await import("./commands/user.js")).userCommand(args, options, io);
      case "sessions":
      case "kick":
      case "ban":
      case "unban":
      case "top":
      case "alerts":
        return await (await import("./commands/admin.js")).adminCommand(command, args, options, io);
      case "tap":
        return await (await import("./commands/tap.js")).tapCommand(args, options, io);
      case undefined:
        io.stderr.write(USAGE);
        return 2;
      default:
        throw new UsageError(`unknown command "${command}" (try: switchboard --help)`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof CommandError) {
      println(io.stderr, `switchboard: ${err.message}`);
      return err.exitCode;
    }
    // Any other failure (a port in use, a certificate that cannot be read, a backend that cannot
    // be reached): one line naming the cause; the stack only for whoever asked for debug logs.
    println(io.stderr, `switchboard: ${oneLine(err)}`);
    if (wantsStack(argv, io.env) && err instanceof Error && err.stack) println(io.stderr, err.stack);
    return 1;
  }
}

/** The first line of the error's message: the errors raised on start-up name their setting and cause. */
export function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

function wantsStack(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const flag = argv.findIndex((a) => a === "--log-level" || a.startsWith("--log-level="));
  const level = flag === -1 ? env.SWITCHBOARD_LOG_LEVEL : argv[flag]!.includes("=") ? argv[flag]!.split("=")[1] : argv[flag + 1];
  return level === "debug" || level === "trace";
}
