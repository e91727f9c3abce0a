/**
 * Process logger (pino). JSON lines by default so logs feed straight into a collector; `pretty`
 * for people at a terminal.
 *
 * Convention: anything about one connection is logged through a child logger bound to it,
 * `log.child({ conn: id })` (and later `{ conn, jid }` once bound), never by interpolating the id
 * into the message, so one connection's history can be filtered with `conn == "…"`.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import type { LogFormat, LogLevel } from "./config-schema.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
}

/**
 * @param destination where lines go; defaults to stdout. With format "auto" the choice follows
 *   process.stdout.isTTY even when a destination is given.
 */
export function createLogger(cfg: LoggerOptions, destination?: DestinationStream | NodeJS.WritableStream): Logger {
  const usePretty = cfg.format === "pretty" || (cfg.format === "auto" && process.stdout.isTTY === true);
  // pino's default base (pid, hostname) is kept: in a cluster the hostname names the pod.
  const options = { level: cfg.level };
  if (!usePretty) {
    return destination ? pino(options, destination as DestinationStream) : pino(options);
  }
  // pino-pretty as an in-process stream rather than a worker-thread transport: transports resolve
  // their module by name in a worker, which breaks under tsx and vitest.
  const prettyStream = pretty({
    destination: destination ?? 1,
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
    sync: true,
  });
  return pino(options, prettyStream);
}
