/**
 * The muc role: the multi-user chat service (XEP-0045) at muc.domain, as a module on the
 * process's host. On the embedded backends it serves every room itself; the cluster's worker
 * placement (a room per worker under a lease) is not built yet, so a cluster node refuses the
 * role at start (config.ts checkBackendSettings).
 */
import { loadModule, type LoadedModule } from "@switchboard/core";
import { mucModule, type MucService } from "@switchboard/muc";
import type { RoleContext, RunningRole } from "./role.js";

export interface RunningMuc extends RunningRole {
  service: MucService;
}

export async function startMuc({ cfg, host, secret }: RoleContext): Promise<RunningMuc> {
  let service: MucService | undefined;
  const loaded: LoadedModule = await loadModule(host, mucModule({ admins: cfg.admins, secret, onService: (s) => (service = s) }), cfg.muc);
  return {
    name: "muc",
    service: service!,
    stopAccepting: () => {},
    stop: async () => loaded.unload(),
  };
}
