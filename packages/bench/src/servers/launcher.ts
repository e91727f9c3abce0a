/** What every server launcher returns: a loadable Target and a way to stop and clean up. */
import type { Target } from "../types.js";

export interface LaunchOptions {
  /** accounts `${userPrefix}${i}@localhost` for i in [0, users) are created before the server takes load */
  users: number;
  /** CPU core the server processes are pinned to (taskset -c); default 0 */
  core?: number;
  userPrefix?: string;
  password?: string;
  /**
   * serve XEP-0045 at conference.<domain> with the limits raised above a benchmark room (occupants
   * per room, per-user rooms and rates, history off): the muc scenario; default off, so the other
   * scenarios keep measuring the servers as configured before MUC was benchmarked
   */
  muc?: boolean;
}

/** The most occupants a benchmark room may have; both servers' room limits are set to this. */
export const BENCH_MUC_MAX_OCCUPANTS = 5000;

export interface LaunchedServer {
  target: Target;
  /** version string for the report, e.g. "ejabberd 23.01" */
  version: string;
  /** stop every process and remove temporary files; safe to call twice */
  stop(): Promise<void>;
}

export const DEFAULT_USER_PREFIX = "bench";
export const DEFAULT_PASSWORD = "bench-password";
export const BENCH_DOMAIN = "localhost";

export function accountLines(users: number, prefix: string, password: string): string {
  const lines: string[] = [];
  for (let i = 0; i < users; i++) lines.push(`${prefix}${i}@${BENCH_DOMAIN} ${password}`);
  return lines.join("\n") + "\n";
}
