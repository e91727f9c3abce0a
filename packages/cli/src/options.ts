/**
 * Command-line parsing shared by every command. Options may appear anywhere; `--` ends them (for a
 * password starting with "-"). The config flags apply to every command, so `user add` edits the
 * same store `start` serves.
 */
import { parseArgs } from "node:util";
import type { SwitchboardConfig } from "@switchboard/server";
import { CommandError, UsageError } from "./errors.js";
import { println, type CliIo } from "./io.js";

export interface GlobalOptions {
  config?: string;
  domain?: string;
  dataDir?: string;
  logLevel?: string;
  role?: string;
  /** PBKDF2 iterations for new credentials (user add/passwd/import) */
  iterations?: number;
  /** admin commands (docs/admin.md) */
  json: boolean;
  token?: string;
  reason?: string;
  for?: string;
  by?: string;
  limit?: string;
  follow: boolean;
  redactBodies: boolean;
  help: boolean;
}

export interface CommandLine {
  positionals: string[];
  options: GlobalOptions;
}

export function parseCommandLine(argv: string[]): CommandLine {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        domain: { type: "string" },
        "data-dir": { type: "string" },
        "log-level": { type: "string" },
        role: { type: "string" },
        iterations: { type: "string" },
        json: { type: "boolean" },
        token: { type: "string" },
        reason: { type: "string" },
        for: { type: "string" },
        by: { type: "string" },
        limit: { type: "string" },
        follow: { type: "boolean", short: "f" },
        "redact-bodies": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    return {
      positionals,
      options: {
        config: values.config,
        domain: values.domain,
        dataDir: values["data-dir"],
        logLevel: values["log-level"],
        role: values.role,
        iterations: parseIterations(values.iterations),
        json: values.json ?? false,
        token: values.token,
        reason: values.reason,
        for: values.for,
        by: values.by,
        limit: values.limit,
        follow: values.follow ?? false,
        redactBodies: values["redact-bodies"] ?? false,
        help: values.help ?? false,
      },
    };
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const option = /'(-[^']*)'/.exec(message)?.[1] ?? "";
      throw new UsageError(`unknown option ${option} (try: switchboard --help; put "--" before a value starting with "-")`);
    }
    throw new UsageError(message.split("\n")[0]!);
  }
}

/**
 * SCRAM iteration count (RFC 7677 §4 asks for at least 4096, our default). The cost of
 * deriving credentials is what bounds bulk imports (about 2 ms of CPU per account at 4096).
 */
function parseIterations(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 4096 || n > 1_000_000) throw new UsageError(`--iterations must be an integer from 4096 to 1000000, got "${raw}"`);
  return n;
}

/** The server package, loaded on demand so `--help` and usage errors never pay for it. */
export async function serverModule(): Promise<typeof import("@switchboard/server")> {
  try {
    return await import("@switchboard/server");
  } catch (err) {
    throw new CommandError(`cannot load @switchboard/server: ${(err as Error).message}`, { cause: err });
  }
}

export async function loadCliConfig(options: GlobalOptions, io: CliIo): Promise<SwitchboardConfig> {
  const server = await serverModule();
  const overrides: Record<string, unknown> = { domain: options.domain, dataDir: options.dataDir, role: options.role };
  if (options.logLevel !== undefined) overrides.log = { level: options.logLevel };
  const onWarning = (message: string) => println(io.stderr, `switchboard: warning: ${message}`);
  try {
    return server.loadConfig({ file: options.config, env: io.env, cwd: io.cwd, overrides, overridesSource: "command line", onWarning });
  } catch (err) {
    if (err instanceof server.ConfigError) throw new CommandError(err.message, { cause: err });
    throw err;
  }
}
