/**
 * XEP-0357 Push Notifications, the user's server side. A client enables an app server (its JID
 * and node, an optional publish-options form, registration.ts); the registration is kept per
 * account in the store (`Store.push`), so it holds on every node and across restarts. When a
 * message worth keeping (message/storable.ts, the offline rule) cannot reach a live stream —
 * it goes to offline storage (`message/undeliverable`), or is queued for a stream-management
 * session waiting for its client to resume (`session/queue`) — each registration of the user
 * gets a notification (§7, notification.ts) with the summary form: message-count (the messages
 * in offline storage then, at least 1), last-message-sender and, only with `push.includeBody`,
 * last-message-body.
 *
 * Bounded: `push.maxPerMinutePerDevice` notifications per registration per minute, a
 * cluster-scoped limiter policy taken exactly (`acquire`: one limiter call per notification,
 * beside the registration read it already costs; a lease of a tenth of so small a bucket would
 * refuse a second message at once). What is past it is skipped: the message itself is stored or
 * queued as ever. One user's notifications are made one after another on a node, so the app
 * server sees that node's messages in order. The app server's answer may come to
 * any node: an error of type cancel or auth removes that registration only (§7.1); others, and no
 * answer, leave it. An app server may also take its registration back itself (§8).
 */
import { StanzaError, bareOf, tryParseJid, type Element } from "@switchboard/xml";
import { defineModule, type Host, type Logger, type StanzaEvent } from "@switchboard/core";
import { isStorable } from "../message/storable.js";
import { PUSH_OPTIONS, type PushOptions } from "./options.js";
import { MAX_REGISTRATIONS, NS_PUSH, parseDisable, parseEnable } from "./registration.js";
import { NS_PUBSUB, isPermanent, nodeOfAnswer, notificationIq } from "./notification.js";

export { PUSH_OPTIONS, type PushOptions } from "./options.js";
export { NS_PUSH } from "./registration.js";

export const PUSH_POLICY = "push.notifications";

/** Watches, never takes: the message goes on to offline storage or the queue either way. */
const OBSERVE = { band: "observe" } as const;
/** ahead of the message module's delivery (§8's notice is for the server) */
const BEFORE_MESSAGES = { band: "feature", offset: 100 } as const;

export const pushModule = defineModule({
  name: "push",
  spec: "XEP-0357",
  options: PUSH_OPTIONS,
  setup(ctx) {
    const { host, options, log } = ctx;
    // §4.1: the account advertises the feature (disco#info to the bare JID).
    ctx.accountFeature(NS_PUSH);
    host.rateLimits.define(PUSH_POLICY, { limit: options.maxPerMinutePerDevice, intervalMs: 60_000, keyedBy: "bare", scope: "cluster" });
    const sent = host.metrics.counter("switchboard_push_notifications_total", { help: "XEP-0357 notifications: sent, skipped past push.maxPerMinutePerDevice, registrations removed on a permanent error", labels: ["event"] });

    ctx.iq({ type: "set", xmlns: NS_PUSH, name: "enable", targets: ["bare"] }, async (ev, enable) => {
      assertOwnAccount(ev);
      const registration = parseEnable(enable);
      if (!(await host.store.push.put(ev.from.bare, registration, MAX_REGISTRATIONS))) {
        throw new StanzaError("resource-constraint", `no more than ${MAX_REGISTRATIONS} push registrations per account`, "wait");
      }
      log.info({ owner: ev.from.bare, jid: registration.jid }, "push enabled");
    });

    ctx.iq({ type: "set", xmlns: NS_PUSH, name: "disable", targets: ["bare"] }, async (ev, disable) => {
      assertOwnAccount(ev);
      const { jid, node } = parseDisable(disable);
      const removed = await host.store.push.remove(ev.from.bare, jid, node);
      log.info({ owner: ev.from.bare, jid, removed }, "push disabled");
    });

    let seq = 0;
    // Per user, one notification after another (in message order); the message path never waits.
    const perUser = new Map<string, Promise<void>>();
    const notify = (owner: string, stanza: Element) => {
      const run: Promise<void> = (perUser.get(owner) ?? Promise.resolve())
        .then(() => notifyAll(host, log, options, owner, stanza, () => ++seq, sent))
        .catch((err: unknown) => log.warn({ err, owner }, "push notification failed"))
        .finally(() => {
          if (perUser.get(owner) === run) perUser.delete(owner);
        });
      perUser.set(owner, run);
    };
    ctx.on("message/undeliverable", (ev) => {
      if (isStorable(ev.stanza)) notify(ev.to.bare, ev.stanza);
      return false;
    }, OBSERVE);
    ctx.on("session/queue", ({ target, stanza }) => {
      if (stanza.name === "message" && isStorable(stanza)) notify(bareOf(target.jid), stanza);
      return false;
    }, OBSERVE);

    // §8: an app server that stops taking notifications may say so with an affiliation change
    // to the user's bare JID; the registration goes (taken here, ahead of delivery and storage:
    // it is for the server, not the user's clients). Only the app server's own registrations.
    ctx.on("message/bare", async (ev) => {
      const pubsub = ev.stanza.getChild("pubsub", NS_PUBSUB);
      const node = pubsub?.attrs.node;
      const affiliation = pubsub?.getChild("affiliation");
      if (!node || affiliation?.attrs.affiliation !== "none" || tryParseJid(affiliation.attrs.jid ?? "")?.bare !== ev.to.bare) return false;
      const removed = await host.store.push.remove(ev.to.bare, ev.from.toString(), node);
      if (removed === 0) return false;
      sent.add(1, { event: "disabled" });
      log.info({ owner: ev.to.bare, jid: ev.from.toString() }, "push registration removed: the app server took its affiliation away");
      return true;
    }, BEFORE_MESSAGES);

    // The app server's answer to a publish, addressed to the user's bare JID (notification.ts).
    ctx.on("iq/bare", async (ev) => {
      const type = ev.stanza.attrs.type;
      if (type !== "result" && type !== "error") return false;
      const node = nodeOfAnswer(ev.stanza.attrs.id);
      if (node === undefined) return false;
      if (type === "error" && isPermanent(ev.stanza)) {
        const removed = await host.store.push.remove(ev.to.bare, ev.from.toString(), node);
        if (removed > 0) {
          sent.add(1, { event: "disabled" });
          log.info({ owner: ev.to.bare, jid: ev.from.toString() }, "push registration removed: the app server refused a notification for good");
        }
      }
      return true;
    });
  },
});

/** §5: a user enables and disables push for their own account only. */
function assertOwnAccount(ev: StanzaEvent): void {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "push is enabled for one's own account only");
}

async function notifyAll(
  host: Host,
  log: Logger,
  options: PushOptions,
  owner: string,
  stanza: Element,
  nextSeq: () => number,
  sent: { add(n: number, labels: { event: string }): void },
): Promise<void> {
  const registrations = await host.store.push.list(owner);
  if (registrations.length === 0) return;
  const stored = await host.store.offline.count(owner);
  const body = options.includeBody ? stanza.getChildText("body") ?? undefined : undefined;
  const summary = { messageCount: Math.max(1, stored), lastSender: stanza.attrs.from ?? host.domain, lastBody: body };
  for (const reg of registrations) {
    const decision = await host.rateLimits.checkAcquire(PUSH_POLICY, `${owner}\n${reg.jid}\n${reg.node}`);
    if (!decision.allowed) {
      sent.add(1, { event: "skipped" });
      continue;
    }
    await host.router.route(notificationIq(owner, reg, summary, nextSeq()));
    sent.add(1, { event: "sent" });
    log.debug({ owner, jid: reg.jid }, "push notification sent");
  }
}
