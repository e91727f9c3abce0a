/**
 * The admin commands (docs/admin.md): every node answers them on the bus (node-admin.ts), and
 * every node's HTTP port serves them behind the admin token for the whole cluster (http-api.ts).
 */
import type { Host, Logger } from "@switchboard/core";
import { adminTokenFile, type SwitchboardConfig } from "../config.js";
import type { RunningHttp } from "../http.js";
import { AdminClient } from "./admin-client.js";
import { adminRoute } from "./http-api.js";
import { ADMIN_TOPIC, answerAdmin } from "./node-admin.js";
import { ensureAdminToken } from "./token.js";

export * from "./admin-client.js";
export * from "./node-admin.js";
export { ensureAdminToken, AdminTokenError } from "./token.js";

/** Serves the admin requests of the bus and mounts /admin/ on the HTTP port; returns the undo. */
export function mountAdmin(opts: { cfg: SwitchboardConfig; host: Host; http: RunningHttp; liveNodes: () => number; log: Logger }): () => void {
  const token = ensureAdminToken(adminTokenFile(opts.cfg));
  const stopServing = opts.host.bus.serveRequests(ADMIN_TOPIC, (body) => answerAdmin(opts.host, opts.liveNodes, body));
  opts.http.route(adminRoute(new AdminClient(opts.host.bus, `node ${opts.cfg.nodeId}`), token, opts.log));
  return stopServing;
}
export { openClusterAdmin } from "./connect.js";
