/**
 * XEP-0045 Multi-User Chat as a module of the `muc` role: the service domain becomes a component
 * route of the host, listed in the server's disco#items as conference/text, and every stanza for
 * it goes to the MucService (service.ts). The room features live in their own files: join.ts
 * (entering, nick and status changes, leaving, creation), messages.ts, admin.ts, owner.ts with
 * config-form.ts, disco.ts, history.ts.
 */
import { bareOf, x } from "@switchboard/xml";
import { defineModule, type ModuleDefinition } from "@switchboard/core";
import { addDiscoItem } from "@switchboard/modules";
import { MESSAGES_POLICY } from "./messages.js";
import { ROOMS_CREATED_POLICY } from "./join.js";
import { MUC_OPTIONS, type MucOptions } from "./options.js";
import { MUC_COMPONENT, MucPlacement } from "./placement.js";
import { MucService } from "./service.js";

export { MUC_OPTIONS, CREATE_ROOMS, type CreateRooms, type MucOptions } from "./options.js";
export { MucService } from "./service.js";
export { MUC_COMPONENT } from "./placement.js";
export * from "./ns.js";

export interface MucModuleDeps {
  /** top-level `admins`: bare JIDs that own every room and may always create rooms */
  admins: readonly string[];
  /** the per-deployment secret (occupant ids) */
  secret: Buffer;
  /**
   * true on a node with the muc role: it serves rooms; false on an edge of a cluster that only
   * routes the service's stanzas to the workers
   */
  worker: boolean;
  /** the service, once set up (the role stops it; tests reach it here) */
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
      let service: MucService | undefined;
      if (deps.worker) {
        defineLimits(ctx.host, options);
        service = new MucService({ host, options: { ...options, domain }, log: ctx.log, domain, admins: deps.admins, secret: deps.secret });
        await service.start();
        ctx.on("host/fenced", () => {
          service!.forgetAll();
          return false;
        });
        deps.onService?.(service);
      }
      const placement = new MucPlacement(host, domain, ctx.log, service);
      await placement.start();
      ctx.onUnload(() => placement.stop());
      ctx.onUnload(host.routes.addComponent(domain, MUC_COMPONENT));
      ctx.onUnload(addDiscoItem(host, { jid: domain, name: "Chatrooms" }));
      ctx.on("route/component", async (ev) => {
        if (ev.component !== MUC_COMPONENT) return false;
        await placement.route(ev);
        return true;
      });
      ctx.on("bus/component", async ({ envelope }) => {
        if (envelope.component !== MUC_COMPONENT) return false;
        await placement.receive(envelope);
        return true;
      });
      // A session of a node that died said no goodbye to its rooms (its directed presence died
      // with it): the rooms the user is in hear that this session is gone.
      ctx.on("session/purged", async ({ info }) => {
        for (const room of await host.roomDirectory.joinedBy(bareOf(info.jid))) {
          if (room.endsWith(`@${domain}`)) await host.router.route(x("presence", { from: info.jid, to: room, type: "unavailable" }));
        }
        return false;
      });
    },
  });
}

function defineLimits(host: Parameters<ModuleDefinition<MucOptions>["setup"]>[0]["host"], options: MucOptions): void {
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
}
