/**
 * What a node does with an envelope other nodes addressed to it, by kind (ports.ts): a stanza
 * goes to the stream it names, an order to that stream, a component envelope to the component's
 * handlers, a receipt to the ledger of what this node sent (bus-ledger.ts). A kind this node
 * does not know is logged and dropped — never re-routed, so an envelope of a newer version
 * cannot loop between nodes.
 */
import { Element, StreamError, parseFrame, bareOf } from "@switchboard/xml";
import type { Host } from "./host.js";
import type { BusEnvelope, MulticastEnvelope, StanzaEnvelope } from "./ports.js";
import { tagBusId } from "./bus-ledger.js";
import { INTEREST_HEADER, sessionInterested } from "./interest.js";
import type { LocalSession, SendOutcome } from "./session.js";
import type { Span } from "./tracing.js";

export function receiveFromBus(host: Host, env: BusEnvelope): void {
  switch (env.kind) {
    case "stanza":
      return receiveStanza(host, env);
    case "multicast":
      return receiveMulticast(host, env);
    case "receipt":
      return host.ledger.confirmed(env.origin, env.life, env.upTo);
    case "session-control": {
      const session = host.sessions.get(env.sessionId);
      if (!session || session.closed) return;
      if (env.action === "conflict") session.close(new StreamError("conflict", "replaced by a new connection for the same resource"));
      else if (env.action === "moved") void host.sessions.movedAway(session);
      return;
    }
    case "component":
      void host.hooks
        .fire("bus/component", { envelope: env })
        .then((handled) => {
          if (!handled) host.log.warn({ component: env.component, shard: env.shard }, "component envelope for a component this node does not serve, dropped");
        })
        .catch((err: unknown) => host.log.error({ err, component: env.component }, "component envelope handler failed"))
        // Confirmed once handled (or passed on, itself kept by this node until confirmed).
        .finally(() => env.stamp && host.ledger.handled(env.stamp));
      return;
    default:
      host.log.warn({ kind: (env as { kind?: unknown }).kind }, "bus envelope of an unknown kind, dropped");
  }
}

function receiveStanza(host: Host, env: StanzaEnvelope): void {
  let stanza;
  try {
    stanza = parseFrame(env.xml);
  } catch (err) {
    host.log.warn({ err, to: env.to }, "malformed stanza on the bus");
    return;
  }
  if (env.stamp) tagBusId(stanza, env.stamp);
  // The sender's trace goes on here when it sent its context (a sampled stanza, tracing.ts).
  const span = env.headers && host.tracing.enabled ? host.tracing.startFromCarrier(env.headers, "bus.receive", "consumer") : undefined;
  if (span) host.traces.attach(stanza, span);
  const session = host.sessions.get(env.sessionId);
  // A push of a list (roster, blocklist) goes to every resource; one that never fetched the
  // list does not get it (interest.ts).
  const interest = env.headers?.[INTEREST_HEADER];
  if (interest !== undefined && session && !session.closed && !sessionInterested(session, interest)) {
    if (env.stamp) host.ledger.handled(env.stamp);
    span?.end();
    return;
  }
  // Written, held or coalesced: done. Gone, or refused (a full outbound buffer): routed again.
  if (session && !session.closed && (span ? tracedSend(session, stanza, span) : session.send(stanza)) !== "refused") {
    if (env.stamp) host.ledger.handled(env.stamp);
    span?.end();
    return;
  }
  span?.set("switchboard.delivery", "routed again");
  routeAgain(host, env, stanza)
    .catch((err: unknown) => host.log.warn({ err, to: env.to }, "could not re-route a stanza for a stream that could not take it"))
    .finally(() => {
      span?.end();
      if (env.stamp) host.ledger.handled(env.stamp);
    });
}

/** The receiving node's write to the stream: its outcome is the bus hop's (tracing.ts). */
function tracedSend(session: LocalSession, stanza: Element, span: Span): SendOutcome {
  const outcome = session.send(stanza);
  span.set("switchboard.delivery", outcome);
  return outcome;
}

/**
 * A copy for each target stream; one that cannot take it is routed again like a lone stanza.
 * Each copy's bus id is the envelope's and its target's, so a copy routed again by the sender
 * after this node died is recognised by a resumed session that had it already.
 */
function receiveMulticast(host: Host, env: MulticastEnvelope): void {
  let base;
  try {
    base = parseFrame(env.xml);
  } catch (err) {
    host.log.warn({ err, targets: env.targets.length }, "malformed multicast stanza on the bus");
    return;
  }
  const pending: Array<Promise<void>> = [];
  for (const target of env.targets) {
    const copy = addressedCopy(base, target.to);
    if (env.stamp) tagBusId(copy, multicastCopyId(env.stamp.id, target.to));
    const session = host.sessions.get(target.sessionId);
    if (session && !session.closed && session.send(copy) !== "refused") continue;
    const alone: StanzaEnvelope = { kind: "stanza", to: target.to, sessionId: target.sessionId, xml: copy.toString() };
    pending.push(routeAgain(host, alone, copy).catch((err: unknown) => host.log.warn({ err, to: target.to }, "could not re-route a multicast copy")));
  }
  void Promise.all(pending).finally(() => env.stamp && host.ledger.handled(env.stamp));
}

/** `stanza` addressed to `to` (a new element sharing the children: nothing shared is changed). */
export function addressedCopy(stanza: Element, to: string): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs, to });
  for (const child of stanza.children) copy.children.push(child);
  return copy;
}

/** The bus id of one target's copy of a multicast stanza. */
export function multicastCopyId(id: string, to: string): string {
  return `${id}>${to}`;
}

/**
 * The stream a bus stanza was sent to closed while it was in flight (the sender's node routed
 * with what it knew a moment earlier), or refused it. Messages and IQ requests are routed again
 * from here, where the registry knows better: a message reaches the user's other resources or
 * the offline store, an IQ gets its error — never silence. A message that was addressed to the
 * bare JID is routed again only when no other resource is available, since the sender's node
 * fanned it out to those already. Presence is dropped: a presence for a resource that is gone
 * has no one to inform, and replaying subscription handling would run it twice.
 */
export async function routeAgain(host: Host, env: StanzaEnvelope, stanza: ReturnType<typeof parseFrame>): Promise<void> {
  const type = stanza.attrs.type;
  const request = stanza.name === "iq" ? type === "get" || type === "set" : stanza.name === "message" && type !== "error";
  if (!request) {
    host.log.debug({ to: env.to, name: stanza.name }, "bus stanza for a stream that could not take it, dropped");
    return;
  }
  const addressed = stanza.attrs.to ?? "";
  if (stanza.name === "message" && !addressed.includes("/")) {
    const others = (await host.registry.list(bareOf(env.to))).filter((s) => s.available && s.sessionId !== env.sessionId);
    if (others.length > 0) return;
  }
  host.log.debug({ to: env.to, name: stanza.name }, "bus stanza for a stream that could not take it, routing it again");
  await host.router.route(stanza);
}
