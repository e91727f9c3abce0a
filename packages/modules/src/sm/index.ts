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
import { SmAppends, type SmSession } from "./session.js";

export { NS_SM } from "./counters.js";
export { SM_OPTIONS, type SmOptions } from "./options.js";

export const smModule = defineModule({
  name: "sm",
  spec: "XEP-0198",
  options: SM_OPTIONS,
  setup(ctx) {
    const sessions = new WeakMap<LocalSession, SmSession>();
    const appends = new SmAppends();
    registerProtocol(ctx, sessions, appends);
    registerResume(ctx, sessions, appends);
    registerLifecycle(ctx, sessions);
  },
});
