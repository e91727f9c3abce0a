/**
 * Presence, RFC 6121 §3 (subscriptions) and §4 (exchanging presence), including presence
 * pre-approval (§3.4) and directed presence (§4.6). The roster module owns the roster wire
 * format and pushes; this module owns the subscription state machine (Appendix A) and who sees
 * whose presence. Every handler returns true so the router's fallback never runs twice.
 */
import { x } from "@switchboard/xml";
import { defineModule, option, type OptionsOf } from "@switchboard/core";
import { becomeAvailable, handlePurgedSession, handleSelfPresence, handleSessionClosed, trackDirectedPresence, type PresenceLimits } from "./broadcast.js";
import { PRESENCE_POLICY, PresencePacing } from "./pacing.js";
import { handlePresenceToBare, handlePresenceToFull } from "./inbound.js";
import { handleOutboundSubscription } from "./outbound.js";
import { PRESENCE_STATE } from "./session-state.js";
import { isKnownPresenceType, isSubscriptionType, parsePriority } from "./stanzas.js";

/** The server's one reading of <priority/> (RFC 6121 §4.7.2.3); the offline module uses it too. */
export { parsePriority };

/** §3.4: stream feature announcing subscription pre-approval. */
export const NS_PRE_APPROVAL = "urn:xmpp:features:pre-approval";

/** Operator options: `modules.presence.<option>`. */
export const PRESENCE_OPTIONS = {
  broadcastsPerSecond: option.integer(0, 1_000, 1, "Presence broadcasts per second one session may make; changes past it (and past the burst) are coalesced, the latest sent when the allowance is back. 0: no pacing."),
  broadcastBurst: option.integer(1, 1_000, 5, "Presence broadcasts one session may make at once after a quiet spell."),
  maxDirected: option.integer(0, 1_000_000, 1000, "Most distinct JIDs one session tracks for directed presence (RFC 6121 §4.6); beyond, presence is still delivered but not followed by unavailable."),
};
export type PresenceOptions = OptionsOf<typeof PRESENCE_OPTIONS>;

export const presenceModule = defineModule({
  name: "presence",
  spec: "RFC 6121 §3–§4",
  options: PRESENCE_OPTIONS,
  setup(ctx) {
    const { host, options } = ctx;
    ctx.sessionState(PRESENCE_STATE);
    ctx.streamFeature("postAuth", () => x("sub", { xmlns: NS_PRE_APPROVAL }));

    ctx.on("stanza/out", async (ev) => {
      if (ev.kind !== "presence" || !ev.origin || !ev.stanza.attrs.to) return false;
      const type = ev.stanza.attrs.type;
      if (!isKnownPresenceType(type)) {
        await host.router.bounce(ev, "bad-request", `unknown presence type '${type}'`);
        return true;
      }
      if (isSubscriptionType(type)) {
        await handleOutboundSubscription(host, ev, type);
        return true;
      }
      if (type === undefined || type === "unavailable") await trackDirectedPresence(host, options, ev);
      // Directed presence, probes and errors continue through the router.
      return false;
    });
    const pacing = options.broadcastsPerSecond > 0 ? new PresencePacing(host, (session, stanza) => becomeAvailable(host, session, stanza)) : undefined;
    if (pacing) {
      host.rateLimits.define(PRESENCE_POLICY, { limit: options.broadcastsPerSecond, intervalMs: 1_000, burst: options.broadcastBurst, keyedBy: "full" });
    }
    ctx.on("presence/self", (ev) => handleSelfPresence(host, ev, pacing));
    ctx.on("presence/bare", (ev) => handlePresenceToBare(host, ev));
    ctx.on("presence/full", (ev) => handlePresenceToFull(host, ev));
    ctx.on("session/closed", async ({ session }) => {
      pacing?.drop(session);
      await handleSessionClosed(host, session);
    });
    // A resumed session (XEP-0198) carries its state, but one saved before its edge died may be
    // older than what the registry knows: the registry's availability wins.
    ctx.on("session/attached", async ({ session }) => {
      const info = await host.registry.get(session.jid.full);
      if (info?.sessionId === session.id && info.available) session.state(PRESENCE_STATE).available = true;
    });
    ctx.on("session/purged", async ({ info }) => {
      await handlePurgedSession(host, info);
    });
  },
});
