/**
 * XEP-0160 (best practices for offline messages) with XEP-0203 delayed-delivery stamps.
 * Storage hooks the core's "message/undeliverable" event; delivery waits for the initial
 * available presence with non-negative priority (XEP-0160 §4, RFC 6121 §4.2).
 */
import { defineModule, option, type OptionsOf, type Span, type StanzaEvent } from "@switchboard/core";
import { NS_OFFLINE } from "@switchboard/xml";
import { flushOffline } from "./flush.js";
import { isStorable } from "../message/storable.js";
import { parsePriority } from "../presence/index.js";
import { stampDelay } from "./storable.js";

export { delayStamp, stampDelay } from "./storable.js";

/** Operator options: the per-user cap comes from `limits.offlinePerUser`. */
export const OFFLINE_OPTIONS = {
  maxPerUser: option.integer(0, 1_000_000, 100, "Messages kept per account (XEP-0160); past it senders get <resource-constraint/>."),
};
export type OfflineOptions = OptionsOf<typeof OFFLINE_OPTIONS>;

/** Runs before the presence module so the session's previous availability is still visible. */
const BEFORE_PRESENCE = { band: "feature", offset: 100 } as const;

export const offlineModule = defineModule({
  name: "offline",
  spec: "XEP-0160 + XEP-0203",
  options: OFFLINE_OPTIONS,
  setup(ctx) {
    const { host, log } = ctx;
    ctx.hostFeature(NS_OFFLINE);
    const offline = host.metrics.counter("switchboard_offline_messages_total", { help: "Offline storage: messages stored, delivered from it, refused past the per-user cap", labels: ["event"] });
    const stored = offline.with({ event: "stored" });
    const refused = offline.with({ event: "refused" });

    const store = async (ev: StanzaEvent, span?: Span): Promise<boolean> => {
      const stamped = stampDelay(ev.stanza, host.domain, new Date());
      const kept = await host.store.offline.push(ev.to.bare, stamped.toString(), ctx.options.maxPerUser);
      span?.set("switchboard.offline", kept ? "stored" : "refused");
      return kept;
    };
    ctx.on("message/undeliverable", async (ev) => {
      if (!isStorable(ev.stanza)) return false; // the message module bounces service-unavailable
      // A sampled message's storage is a span of its trace (core tracing.ts).
      const span = host.traces.child(ev.stanza, "offline.store");
      if (await (span ? host.traces.within(ev.stanza, span, () => store(ev, span)) : store(ev))) return (stored.add(), true);
      refused.add();
      // Architecture: beyond the per-user quota, bounce — nothing silently dropped.
      log.info({ owner: ev.to.bare, cap: ctx.options.maxPerUser }, "offline storage full, message bounced");
      await host.router.bounce(ev, "resource-constraint", "offline storage for this user is full");
      return true;
    });
    // Sessions whose flush is scheduled, so a burst of presences does not flush twice at once.
    const flushing = new Set<string>();
    // Flushes of one user run one after another on this node: two resources coming online
    // together must not both read the same stored messages. The first gets them (XEP-0160 §4);
    // the second's flush finds the store empty, or what the first could not take (it left).
    const perUser = new Map<string, Promise<void>>();
    ctx.on(
      "presence/self",
      async (ev) => {
        if (!ev.origin || ev.stanza.attrs.type !== undefined) return; // only available presence
        // The presence module's reading of <priority/>, so the registry and this check agree.
        if (parsePriority(ev.stanza) < 0) return;
        const session = ev.origin;
        const info = await host.registry.get(session.jid.full);
        // Initial presence only: once available, later presences are mere updates.
        if (!info || info.sessionId !== session.id || info.available) return;
        if (flushing.has(session.id)) return;
        flushing.add(session.id);
        // Deliver after the presence module has handled the presence (XEP-0160 §4: after the
        // initial presence), without holding up the hook chain.
        const bare = session.jid.bare;
        const previous = perUser.get(bare) ?? Promise.resolve();
        const run: Promise<void> = previous
          .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
          .then(() => flushOffline(host, session.jid.full, session.id, log))
          .catch((err: unknown) => log.error({ err, jid: session.jid.full }, "offline delivery failed"))
          .finally(() => {
            flushing.delete(session.id);
            if (perUser.get(bare) === run) perUser.delete(bare);
          });
        perUser.set(bare, run);
      },
      BEFORE_PRESENCE,
    );
  },
});
