/** Errors the CLI reports as `switchboard: <message>`; the class decides the exit code. */

/** The command line itself is wrong: unknown command or option, missing or invalid argument. Exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly exitCode = 2;
}

/** The command was understood but failed: existing or missing user, bad config, store error. Exit 1. */
export class CommandError extends Error {
  override name = "CommandError";
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
