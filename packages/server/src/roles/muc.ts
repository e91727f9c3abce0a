/**
 * The muc role: multi-user chat rooms (XEP-0045) at muc.domain. The module serves the rooms
 * this node holds and routes the rest to their workers; stopping gives its rooms up, so other
 * workers take them over from their live state at once (a node without the role loads the
 * module as a router only, server.ts).
 */
import { loadModule } from "@switchboard/core";
import { mucModule, type MucService } from "@switchboard/muc";
import type { RoleContext, RunningRole } from "./role.js";

export async function startMuc({ cfg, host, secret }: RoleContext): Promise<RunningRole> {
  let service: MucService | undefined;
  const loaded = await loadModule(host, mucModule({ admins: cfg.admins, secret, worker: true, onService: (s) => (service = s) }), cfg.muc);
  let stopped: Promise<void> | undefined;
  return {
    name: "muc",
    stopAccepting: () => {},
    stop: () =>
      (stopped ??= (async () => {
        await service?.stop().catch((err: unknown) => host.log.warn({ err }, "could not give up the MUC rooms"));
        loaded.unload();
      })()),
  };
}
