/** @switchboard/cli — the `switchboard` command, also usable in-process (tests, wrappers). */
export { runCli } from "./cli.js";
export { processIo, type CliIo } from "./io.js";
export { CommandError, UsageError } from "./errors.js";
export { USAGE } from "./usage.js";
