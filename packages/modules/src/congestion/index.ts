/**
 * Slow receivers (ARCHITECTURE.md "Abuse and overload limits"; docs/architecture.md "Streams"):
 * what the outgoing path does while a session's connection is congested — its outbound queue past
 * `limits.outboundBufferBytes`, as the stream engine reports it (stream/congestion.ts,
 * `session/congestion`, `LocalSession.congested`).
 *
 * - Presence (not subscription requests and answers, which are messages a person acts on) is
 *   held, the latest per sender (csi/hold.ts): a contact's last word, unavailable included, is
 *   what the client gets when the queue drains.
 * - Messages offline storage would keep (message/storable.ts) go there with XEP-0203 stamps, and
 *   come back in order when the queue is under half the mark (backlog.ts); past the per-user
 *   cap they bounce with `<resource-constraint/>`.
 * - The rest (IQs, errors, groupchat, headlines, chat states) is written: it cannot wait in
 *   storage, and the engine's hard cap (4 × the mark) refuses it, so its caller falls back.
 * - A connection that takes nothing for `limits.congestionTimeoutSeconds` is cut by the engine
 *   (as a network drop: stream management may resume it); what was diverted stays stored.
 *
 * One outgoing filter in the `after` band, after CSI's (a stanza CSI releases is judged here) and
 * before stream management's (a diverted message is not numbered; it is when it is written).
 * State is made at a session's first congestion: a client that reads fast costs one flag read.
 */
import { defineModule, type LocalSession } from "@switchboard/core";
import type { Element } from "@switchboard/xml";
import { isStorable } from "../message/storable.js";
import { Backlog } from "./backlog.js";

const SUBSCRIPTION = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

/** chat/normal messages offline storage keeps (RFC 6121 §8.5.2.1.1: never groupchat or headline) */
function divertable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? "normal";
  return (type === "chat" || type === "normal") && isStorable(stanza);
}

function holdable(stanza: Element): boolean {
  return stanza.name === "presence" && !SUBSCRIPTION.has(stanza.attrs.type ?? "") && stanza.attrs.type !== "error" && stanza.attrs.type !== "probe";
}

export const congestionModule = defineModule({
  name: "congestion",
  spec: "slow receivers (RFC 6120 §10.1 order kept)",
  options: {},
  setup(ctx) {
    const { host, log } = ctx;
    const backlogs = new WeakMap<LocalSession, Backlog>();
    const released = new WeakSet<Element>();
    const backlogOf = (session: LocalSession) => {
      let b = backlogs.get(session);
      if (!b) backlogs.set(session, (b = new Backlog(host, log, session, released)));
      return b;
    };

    host.metrics.observe("switchboard_congested_connections", { help: "Client connections whose outbound queue is past limits.outboundBufferBytes now" }, () => {
      let n = 0;
      for (const s of host.sessions.values()) if (s.congested) n++;
      return [[n, {}]];
    });

    // After CSI (band "after", offset 0), before stream management (-4999).
    ctx.outgoing(
      (session, stanza) => {
        const backlog = backlogs.get(session);
        if (!session.congested && !backlog?.diverting) return stanza;
        if (released.has(stanza)) return stanza;
        if (stanza.name === "message" && divertable(stanza)) return backlogOf(session).divert(stanza);
        if (session.congested && holdable(stanza)) return backlogOf(session).hold(stanza);
        return stanza;
      },
      { band: "after", offset: -2000 },
    );

    ctx.on("session/congestion", async ({ session, state }) => {
      if (state === "congested") {
        log.info({ jid: session.jid.full }, "congestion: presence to this session coalesced and messages diverted to offline storage until its queue drains");
        backlogOf(session);
        return;
      }
      await backlogs.get(session)?.flush();
    });

    // The stream is gone: held presence is written as it ends, so stream management keeps it for
    // a resumption; without it, presence for a gone session has no one to reach. Diverted messages
    // stay in storage for the next session of the user (XEP-0160).
    ctx.on("session/connection-lost", ({ session }) => {
      backlogs.get(session)?.writePresence();
      backlogs.delete(session);
    }, { band: "observe" });
    ctx.on("session/closed", ({ session }) => {
      backlogs.delete(session);
    }, { band: "observe" });
  },
});
