/**
 * XEP-0198 Stream Management (v1.6): acknowledgements both ways and resumption on any edge.
 * protocol.ts has the elements, session.ts one session's counters and queue, resume.ts the
 * resumption, lifecycle.ts what happens when a stream goes away. The resumption state lives in
 * the core's ResumptionStore (Redis in a cluster), so a session survives its edge.
 */
import { defineModule, type LocalSession } from "@switchboard/core";
import { SM_OPTIONS } from "./options.js";
import { registerProtocol } from "./protocol.js";
import { registerResume } from "./resume.js";
import { registerLifecycle } from "./lifecycle.js";
import type { SmSession } from "./session.js";
import { SmSync } from "./sync.js";

export { NS_SM } from "./counters.js";
export { SM_OPTIONS, type SmOptions } from "./options.js";

export const smModule = defineModule({
  name: "sm",
  spec: "XEP-0198",
  options: SM_OPTIONS,
  setup(ctx) {
    const sessions = new WeakMap<LocalSession, SmSession>();
    const { host } = ctx;
    const syncs = new SmSync(host.bus.flush ? () => host.bus.flush!() : undefined);
    registerProtocol(ctx, sessions, syncs);
    registerResume(ctx, sessions, syncs);
    registerLifecycle(ctx, sessions);
    // Nothing this node confirms to a sender may be missing from the store (sync.ts).
    ctx.on("bus/before-receipts", () => syncs.now());
    ctx.onUnload(() => syncs.stop());
  },
});
