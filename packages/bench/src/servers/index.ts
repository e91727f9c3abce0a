/** The servers a comparison can load, by Target name. */
import { startEjabberd } from "./ejabberd.js";
import type { LaunchOptions, LaunchedServer } from "./launcher.js";
import { startSwitchboardCluster } from "./switchboard-cluster.js";
import { startSwitchboard } from "./switchboard.js";

export type ServerName = "switchboard" | "switchboard-2edges" | "ejabberd";

export const SERVER_NAMES: readonly ServerName[] = ["switchboard", "switchboard-2edges", "ejabberd"];

export const launchers: Record<ServerName, (opts: LaunchOptions) => Promise<LaunchedServer>> = {
  switchboard: startSwitchboard,
  "switchboard-2edges": startSwitchboardCluster,
  ejabberd: startEjabberd,
};

export { startEjabberd, startSwitchboard, startSwitchboardCluster };
export type { LaunchOptions, LaunchedServer };
