/**
 * `switchboard start`: every role in one process on the embedded backends (ARCHITECTURE.md
 * "Shape"), or a cluster edge. SIGINT/SIGTERM stop the server within shutdown.drainSeconds
 * whatever the connections are doing (streams closed with <system-shutdown/>, what is left cut at
 * the deadline, ports freed) and the command exits 0: a signal-initiated stop is a normal end,
 * so npm and pnpm report no failure after Ctrl-C. A second signal, sent on purpose, exits at once.
 */
import type { createLogger, SwitchboardConfig } from "@switchboard/server";
import { CommandError, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { loadCliConfig, serverModule, type GlobalOptions } from "../options.js";

interface RunningServer {
  stop(opts?: { drainMs?: number }): Promise<void>;
  ports: { c2s: number; c2sTls: number; http: number };
}
type StartServer = (cfg: SwitchboardConfig, log: ReturnType<typeof createLogger>) => Promise<RunningServer>;

/**
 * COMPAT: a Ctrl-C reaches every process of the terminal's group, and wrappers (pnpm's lifecycle
 * runner) forward it to their child as well, so one keypress may arrive twice. A repeat this soon
 * is that echo, not a second request.
 */
const SIGNAL_ECHO_MS = 1_000;
/** Time after the drain deadline for the last steps (bus, Redis) before the process just exits. */
const STOP_SLACK_MS = 2_000;

export async function startCommand(args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  if (args.length > 0) throw new UsageError(`start: unexpected argument "${args[0]}"`);
  const config = await loadCliConfig(options, io);
  const server = await serverModule();
  const log = server.createLogger(config.log);
  // Looked up at run time: startServer lives in the server entry point, which user commands do
  // not need.
  const startServer = (server as unknown as { startServer?: StartServer }).startServer;
  if (typeof startServer !== "function") throw new CommandError("@switchboard/server does not export startServer");

  const drainMs = config.shutdown.drainSeconds * 1000;
  // The handlers are in place before the server starts: a signal during start-up (or right after
  // "switchboard started" is logged) stops it once it is up, instead of killing the process.
  let signalled: NodeJS.Signals | undefined;
  let firstSignalAt: number | undefined;
  let onStarted: ((running: RunningServer) => void) | undefined;
  const stopped = new Promise<number>((resolve) => {
    const stop = (running: RunningServer, signal: NodeJS.Signals) => {
      log.info({ signal, drainSeconds: config.shutdown.drainSeconds }, "stopping");
      const finish = () => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        resolve(0);
      };
      const giveUp = setTimeout(() => {
        log.warn({ drainSeconds: config.shutdown.drainSeconds }, "shutdown deadline passed, exiting anyway");
        finish();
      }, drainMs + STOP_SLACK_MS);
      giveUp.unref();
      running.stop({ drainMs }).then(
        () => {
          clearTimeout(giveUp);
          log.info("stopped");
          finish();
        },
        (err: unknown) => {
          clearTimeout(giveUp);
          log.error({ err }, "error while stopping");
          finish();
        },
      );
    };
    let running: RunningServer | undefined;
    onStarted = (r) => {
      running = r;
      if (signalled) stop(r, signalled);
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (firstSignalAt !== undefined) {
        if (Date.now() - firstSignalAt < SIGNAL_ECHO_MS) return;
        log.warn({ signal }, "second signal during shutdown, exiting now");
        process.exit(1);
      }
      firstSignalAt = Date.now();
      signalled = signal;
      if (running) stop(running, signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  try {
    onStarted!(await startServer(config, log));
  } catch (err) {
    process.removeAllListeners("SIGINT");
    process.removeAllListeners("SIGTERM");
    throw err;
  }
  return stopped;
}
