/** Entry point of the `switchboard` command (run with tsx --conditions=source, or bin/switchboard.mjs). */
import { runCli } from "./cli.js";
import { processIo } from "./io.js";

const code = await runCli(process.argv.slice(2), processIo());
// Exit explicitly: after `start` has stopped, a stray handle must not keep the process alive.
// stdout/stderr writes to pipes, files and terminals are synchronous on POSIX, so nothing is lost.
process.exit(code);
