/**
 * `switchboard start`: every role in one process on the embedded backends (ARCHITECTURE.md
 * "Shape"). SIGINT/SIGTERM stop the server cleanly (listeners closed, streams ended) and exit 0;
 * a second signal during shutdown exits at once.
 */
import type { createLogger, SwitchboardConfig } from "@switchboard/server";
import { CommandError, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { loadCliConfig, serverModule, type GlobalOptions } from "../options.js";

interface RunningServer {
  stop(): Promise<void>;
  ports: { c2s: number; c2sTls: number; http: number };
}
type StartServer = (cfg: SwitchboardConfig, log: ReturnType<typeof createLogger>) => Promise<RunningServer>;

export async function startCommand(args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  if (args.length > 0) throw new UsageError(`start: unexpected argument "${args[0]}"`);
  const config = await loadCliConfig(options, io);
  const server = await serverModule();
  const log = server.createLogger(config.log);
  // Looked up at run time: startServer lives in the server entry point, which user commands do
  // not need.
  const startServer = (server as unknown as { startServer?: StartServer }).startServer;
  if (typeof startServer !== "function") throw new CommandError("@switchboard/server does not export startServer");

  const running = await startServer(config, log);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, "second signal during shutdown, exiting now");
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, "stopping");
      running.stop().then(
        () => {
          log.info("stopped");
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
