/**
 * XEP-0045 Multi-User Chat as a module of the `muc` role: the service domain becomes a component
 * route of the host, listed in the server's disco#items as conference/text, and every stanza for
 * it goes to the MucService (service.ts). The room features live in their own files: join.ts
 * (entering, nick and status changes, leaving, creation), messages.ts, admin.ts, owner.ts with
 * config-form.ts, disco.ts, history.ts.
 */
import { defineModule, type ModuleDefinition } from "@switchboard/core";
import { addDiscoItem } from "@switchboard/modules";
import { MESSAGES_POLICY } from "./messages.js";
import { ROOMS_CREATED_POLICY } from "./join.js";
import { MUC_OPTIONS, type MucOptions } from "./options.js";
import { MucService } from "./service.js";

export { MUC_OPTIONS, CREATE_ROOMS, type CreateRooms, type MucOptions } from "./options.js";
export { MucService } from "./service.js";
export * from "./ns.js";

/** The route name of the service (host.routes, bus component envelopes). */
export const MUC_COMPONENT = "muc";

export interface MucModuleDeps {
  /** top-level `admins`: bare JIDs that own every room and may always create rooms */
  admins: readonly string[];
  /** the per-deployment secret (occupant ids) */
  secret: Buffer;
  /** the service, once set up (tests and the admin tools reach it here) */
  onService?: (service: MucService) => void;
}

export function mucModule(deps: MucModuleDeps): ModuleDefinition<MucOptions> {
  return defineModule({
    name: "muc",
    spec: "XEP-0045, XEP-0410, XEP-0421",
    options: MUC_OPTIONS,
    async setup(ctx) {
      const { host, options } = ctx;
      const domain = (options.domain || `conference.${host.domain}`).toLowerCase();
      if (options.maxRoomsCreatedPerUserPerHour > 0) {
        host.rateLimits.define(ROOMS_CREATED_POLICY, {
          limit: options.maxRoomsCreatedPerUserPerHour,
          intervalMs: 3_600_000,
          keyedBy: "bare",
          scope: "cluster",
          condition: "resource-constraint",
        });
      }
      if (options.messagesPerSecond > 0) {
        // A room lives on one worker, so its occupants' allowance is that worker's alone.
        host.rateLimits.define(MESSAGES_POLICY, {
          limit: options.messagesPerSecond,
          intervalMs: 1_000,
          burst: options.messageBurst,
          keyedBy: "room",
          condition: "resource-constraint",
        });
      }
      const service = new MucService({ host, options: { ...options, domain }, log: ctx.log, domain, admins: deps.admins, secret: deps.secret });
      await service.start();
      ctx.onUnload(host.routes.addComponent(domain, MUC_COMPONENT));
      ctx.onUnload(addDiscoItem(host, { jid: domain, name: "Chatrooms" }));
      ctx.on("route/component", async (ev) => {
        if (ev.component !== MUC_COMPONENT) return false;
        await service.handle(ev);
        return true;
      });
      ctx.onUnload(() => service.stop());
      deps.onService?.(service);
    },
  });
}
