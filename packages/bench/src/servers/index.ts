/** The servers a comparison can load, by Target name. */
import { startEjabberd } from "./ejabberd.js";
import type { LaunchOptions, LaunchedServer } from "./launcher.js";
import { startSwitchboardCluster } from "./switchboard-cluster.js";
import { startSwitchboard, startSwitchboardTraced } from "./switchboard.js";

export type ServerName = "switchboard" | "switchboard-traced" | "switchboard-2edges" | "ejabberd";

export const SERVER_NAMES: readonly ServerName[] = ["switchboard", "switchboard-traced", "switchboard-2edges", "ejabberd"];

/** What compare runs without --targets; switchboard-traced is there to measure what tracing costs. */
export const DEFAULT_TARGETS: readonly ServerName[] = ["switchboard", "switchboard-2edges", "ejabberd"];

export const launchers: Record<ServerName, (opts: LaunchOptions) => Promise<LaunchedServer>> = {
  switchboard: (opts) => startSwitchboard(opts),
  "switchboard-traced": startSwitchboardTraced,
  "switchboard-2edges": startSwitchboardCluster,
  ejabberd: startEjabberd,
};

export { startEjabberd, startSwitchboard, startSwitchboardCluster, startSwitchboardTraced };
export type { LaunchOptions, LaunchedServer };
