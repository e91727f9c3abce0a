/**
 * Presence, RFC 6121 §3 (subscriptions) and §4 (exchanging presence), including presence
 * pre-approval (§3.4) and directed presence (§4.6). The roster module owns the roster wire
 * format and pushes; this module owns the subscription state machine (Appendix A) and who sees
 * whose presence. Every handler returns true so the router's fallback never runs twice.
 */
import { x } from "@switchboard/xml";
import { defineModule } from "@switchboard/core";
import { handlePurgedSession, handleSelfPresence, handleSessionClosed, trackDirectedPresence, type PresenceLimits } from "./broadcast.js";
import { handlePresenceToBare, handlePresenceToFull } from "./inbound.js";
import { handleOutboundSubscription } from "./outbound.js";
import { PresenceSessions } from "./session-state.js";
import { isKnownPresenceType, isSubscriptionType, parsePriority } from "./stanzas.js";

/** The server's one reading of <priority/> (RFC 6121 §4.7.2.3); the offline module uses it too. */
export { parsePriority };

/** §3.4: stream feature announcing subscription pre-approval. */
export const NS_PRE_APPROVAL = "urn:xmpp:features:pre-approval";

export type PresenceOptions = PresenceLimits;

export const presenceModule = defineModule<PresenceOptions>({
  name: "presence",
  spec: "RFC 6121 §3–§4",
  defaults: { maxDirected: 1000 },
  validate(o) {
    if (!Number.isInteger(o.maxDirected) || o.maxDirected < 0) throw new Error("presence option maxDirected must be a non-negative integer");
  },
  setup(ctx) {
    const { host, options } = ctx;
    const sessions = new PresenceSessions();
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
      if (type === undefined || type === "unavailable") await trackDirectedPresence(host, sessions, options, ev);
      // Directed presence, probes and errors continue through the router.
      return false;
    });
    ctx.on("presence/self", (ev) => handleSelfPresence(host, sessions, ev));
    ctx.on("presence/bare", (ev) => handlePresenceToBare(host, ev));
    ctx.on("presence/full", (ev) => handlePresenceToFull(host, ev));
    ctx.on("session/closed", async ({ session }) => {
      await handleSessionClosed(host, sessions, session);
    });
    ctx.on("session/purged", async ({ info }) => {
      await handlePurgedSession(host, info);
    });
  },
});
