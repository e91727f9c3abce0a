/**
 * The routing core (RFC 6120 §10): resolve where a stanza goes and fire the matching event;
 * features hook those events. Only the last-resort behaviour lives here: full-JID delivery,
 * IQ dispatch with the central service-unavailable, and bounces that never answer an error.
 */
import { Element, Jid, StanzaError, errorReply, tryParseJid, type StanzaErrorCondition } from "@switchboard/xml";
import type { CoreEvents, StanzaEvent, StanzaKind } from "./events.js";
import type { Host } from "./host.js";
import type { LocalSession } from "./session.js";
import { delivered } from "./delivery.js";
import type { Span } from "./tracing.js";

type Target = "host" | "bare" | "full";

/**
 * Parsed addresses, kept for the addresses a busy server sees again and again (a chat partner's
 * JID), since RFC 7622 normalisation is not free. Bounded: cleared when full.
 */
const JID_CACHE_MAX = 10_000;
const jidCache = new Map<string, Jid | null>();

function cachedJid(text: string): Jid | undefined {
  let jid = jidCache.get(text);
  if (jid === undefined) {
    jid = tryParseJid(text) ?? null;
    if (jidCache.size >= JID_CACHE_MAX) jidCache.clear();
    jidCache.set(text, jid);
  }
  return jid ?? undefined;
}

export class Router {
  constructor(private readonly host: Host) {}

  /**
   * Routes one stanza. `from` must already be stamped (by the stream for client stanzas, by the
   * module for server-generated ones; absent means the server domain).
   */
  route(stanza: Element, origin?: LocalSession): Promise<void> {
    // A sampled stanza's route is an attribute of the span it is in (the stream's root, or the
    // bus hop that brought it): routing is a phase within one node, not a span (tracing.ts).
    return this.routeNow(stanza, origin, this.host.traces.of(stanza));
  }

  private async routeNow(stanza: Element, origin?: LocalSession, span?: Span): Promise<void> {
    const host = this.host;
    host.meters.routed.add();
    const kind = stanza.name as StanzaKind;
    // The stream stamped `from` with its own JID: reuse the parsed one (hot path).
    const fromAttr = stanza.attrs.from;
    const from = !fromAttr ? host.domainJid : origin && !origin.closed && fromAttr === origin.jid.full ? origin.jid : cachedJid(fromAttr);
    if (!from) {
      host.log.warn({ from: stanza.attrs.from }, "dropping stanza with an unparseable from");
      return;
    }
    let to: Jid | undefined;
    if (stanza.attrs.to === undefined || stanza.attrs.to === "") {
      if (kind === "presence" && origin) {
        const ev: StanzaEvent = { stanza, kind, from, to: from.toBare(), origin };
        if (await host.hooks.fire("stanza/out", ev)) return;
        await host.hooks.fire("presence/self", ev);
        return;
      }
      // RFC 6120 §10.3: no 'to' means the user's own account.
      to = from.toBare();
    } else {
      to = cachedJid(stanza.attrs.to);
      if (!to) {
        await this.bounceTo(stanza, from, origin, "jid-malformed", "the 'to' address is not a valid JID");
        return;
      }
    }
    const ev: StanzaEvent = { stanza, kind, from, to, origin };
    if (origin && (await host.hooks.fire("stanza/out", ev))) return;

    const route = host.routes.resolve(to.domain);
    span?.set("switchboard.route", route.kind === "local" ? `${kind}/${to.local ? (to.resource ? "full" : "bare") : "host"}` : route.kind);
    if (route.kind === "remote") {
      if (!(await host.hooks.fire("route/remote", ev))) {
        await this.bounce(ev, "remote-server-not-found", `no route to ${to.domain}`);
      }
      return;
    }
    if (route.kind === "component") {
      if (await host.hooks.fire("route/component", { ...ev, component: route.component })) return;
      // A component's own IQ table answers what its handlers do not (its disco, say).
      if (kind === "iq" && (await this.dispatchIq(ev, to.local ? (to.resource ? "full" : "bare") : "host", to.domain))) return;
      await this.bounce(ev, "service-unavailable", `${to.domain} is not available right now`);
      return;
    }
    const target: Target = to.local ? (to.resource ? "full" : "bare") : "host";
    const event = `${kind}/${target}` as keyof CoreEvents & `${StanzaKind}/${Target}`;
    if (await host.hooks.fire(event, ev)) return;
    await this.fallback(ev, target);
  }

  private async fallback(ev: StanzaEvent, target: Target): Promise<void> {
    const { stanza, kind } = ev;
    const type = stanza.attrs.type;
    if (kind === "iq") {
      if (type === "result" || type === "error") {
        if (target === "host" && this.host.pendingIqs.settle(stanza)) return;
        if (target === "full") await this.deliverToFull(ev);
        return;
      }
      if (type !== "get" && type !== "set") {
        await this.bounce(ev, "bad-request", "IQ type must be get, set, result or error");
        return;
      }
      if (await this.dispatchIq(ev, target, this.host.domain)) return;
      if (target === "full" && (await this.deliverToFull(ev))) return;
      await this.bounce(ev, "service-unavailable");
      return;
    }
    if (target === "full") {
      const delivered = await this.deliverToFull(ev);
      // RFC 6121 §8.5.3.2: message to an offline resource: modules hook message/full first;
      // here nothing did, so tell the sender.
      if (!delivered && kind === "message") await this.bounce(ev, "service-unavailable");
      return;
    }
    if (kind === "message" && target === "bare") await this.bounce(ev, "service-unavailable");
  }

  /** Runs the IQ handler of `domain` for a get/set; false when there is none. */
  private async dispatchIq(ev: StanzaEvent, target: Target, domain: string): Promise<boolean> {
    const found = this.host.iq.find(ev.stanza, target, domain);
    if (!found) return false;
    const response = await this.host.iq.run(ev, found.handler, found.payload);
    if (response) await this.reply(ev, response);
    return true;
  }

  /** Delivers to a full JID if that resource is online anywhere in the cluster and can take it. */
  async deliverToFull(ev: StanzaEvent): Promise<boolean> {
    return delivered(await this.host.deliverToResource(ev.to.full, ev.stanza));
  }

  /** Sends a server-built response back to the stanza's sender. */
  async reply(ev: StanzaEvent, response: Element): Promise<void> {
    if (ev.origin && !ev.origin.closed && response.attrs.to === ev.origin.jid.full) {
      ev.origin.send(response);
      return;
    }
    await this.route(response);
  }

  /** Answers with a stanza error, unless the stanza is itself an error (RFC 6120 §8.3.1). */
  async bounce(ev: StanzaEvent, condition: StanzaErrorCondition, text?: string): Promise<void> {
    if (ev.stanza.attrs.type === "error") return;
    const err = errorReply(ev.stanza, condition, text);
    if (!err.attrs.to) err.attrs.to = ev.from.full;
    await this.reply(ev, err);
  }

  async bounceError(ev: StanzaEvent, error: StanzaError): Promise<void> {
    if (ev.stanza.attrs.type === "error") return;
    const err = errorReply(ev.stanza, error.condition, error.text, error.type);
    if (!err.attrs.to) err.attrs.to = ev.from.full;
    await this.reply(ev, err);
  }

  private async bounceTo(stanza: Element, from: Jid, origin: LocalSession | undefined, condition: StanzaErrorCondition, text: string): Promise<void> {
    await this.bounce({ stanza, kind: stanza.name as StanzaKind, from, to: from, origin }, condition, text);
  }
}
