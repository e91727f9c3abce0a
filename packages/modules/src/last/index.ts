/**
 * XEP-0012 Last Activity, the server's part:
 * - to the server domain (§5): seconds since this server (its module set) started;
 * - to a local account's bare JID (§4): 0 while any of its resources is connected ("the
 *   response MUST contain ... seconds '0'": the user is not gone, and an online user's idle
 *   time is its clients' to tell, §6), otherwise the seconds since its last resource went
 *   away and the status it left with (recorder.ts). No record → <service-unavailable/>, as
 *   ejabberd answers ("no info about last activity"); Prosody answers seconds='0', which a
 *   client shows as "online just now".
 * - to a full JID (§6): the router delivers it to that client; only the permission check of §6
 *   happens here.
 *
 * Refusals (§4, §6 "MUST return a <forbidden/> error"): anyone but the user and its presence
 * subscribers gets <forbidden/>, as Prosody answers (ejabberd: <subscription-required/>). The
 * same answer goes to an account that does not exist, so the reply never tells a stranger
 * which accounts exist; only an authorized requester can tell "no record" apart.
 */
import { StanzaError, x } from "@switchboard/xml";
import { defineModule } from "@switchboard/core";
import { mayViewPresence } from "./access.js";
import { recordLastActivity } from "./recorder.js";

export const NS_LAST = "jabber:iq:last";

/** a permission check (policy band), after blocking, which answers a blocked requester as if the user did not exist */
const ACCESS_PRIORITY = { band: "policy", offset: -100 } as const;

export const lastModule = defineModule({
  name: "last",
  spec: "XEP-0012",
  defaults: {},
  setup(ctx) {
    const { host } = ctx;
    // monotonic: a wall-clock step (NTP, a VM resumed) must not make the uptime jump
    const startedAt = performance.now();
    ctx.hostFeature(NS_LAST);
    ctx.accountFeature(NS_LAST);
    recordLastActivity(ctx);

    ctx.iq({ type: "get", xmlns: NS_LAST, name: "query", targets: ["host", "bare"] }, async (ev) => {
      if (ev.to.local === "") return lastQuery((performance.now() - startedAt) / 1000);
      const owner = ev.to.bare;
      if (!(await mayViewPresence(host, ev.from, owner))) throw new StanzaError("forbidden", "you are not subscribed to this user's presence");
      if ((await host.registry.list(owner)).length > 0) return lastQuery(0);
      const last = await host.store.lastActivity.get(owner);
      if (!last) throw new StanzaError("service-unavailable", "no last activity recorded");
      return lastQuery((Date.now() - last.at) / 1000, last.status);
    });

    ctx.on(
      "iq/full",
      async (ev) => {
        if (ev.stanza.attrs.type !== "get" || !ev.stanza.getChild("query", NS_LAST)) return false;
        if (await mayViewPresence(host, ev.from, ev.to.bare)) return false;
        await host.router.bounce(ev, "forbidden", "you are not subscribed to this user's presence");
        return true;
      },
      ACCESS_PRIORITY,
    );
  },
});

/** Whole seconds, never negative (another node's clock may run a little ahead of ours). */
function lastQuery(seconds: number, status?: string) {
  return x("query", { xmlns: NS_LAST, seconds: Math.max(0, Math.floor(seconds)) }, status);
}
