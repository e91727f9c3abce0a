/**
 * The running side of delivery receipts (bus-ledger.ts): every RECEIPT_MS this node confirms to
 * each sender what it handled, lets go of what live peers never confirm, and when a node is gone
 * (`node.gone`: purged after its death, or its own goodbye at stop) routes again what it had sent
 * there unconfirmed. Routed again means delivered to the same resource if the registry now has
 * it elsewhere (a detached or resumed stream-management session), otherwise what a vanished
 * stream's stanza gets (bus-receiver.ts): other resources, offline storage, an IQ error.
 */
import { parseFrame } from "@switchboard/xml";
import type { Host } from "./host.js";
import { RECEIPT_MS, tagBusId, type LedgerEntry } from "./bus-ledger.js";
import { addressedCopy, multicastCopyId, routeAgain } from "./bus-receiver.js";
import { delivered } from "./delivery.js";
import type { ControlMessage } from "./ports.js";

type NodeGone = Extract<ControlMessage, { type: "node.gone" }>;

/** Starts the receipt loop; the returned function stops it (with `final`: says goodbye). */
export function startReceipts(host: Host): (final: boolean) => Promise<void> {
  let ticking = false;
  const tick = async () => {
    if (ticking) return; // the previous one still waits for a module (a slow Redis): skip this one
    ticking = true;
    try {
      if (host.hooks.has("bus/before-receipts")) await host.hooks.fire("bus/before-receipts", {}).catch((err: unknown) => host.log.warn({ err }, "bus/before-receipts handler failed"));
      sendReceipts();
    } finally {
      ticking = false;
    }
  };
  const sendReceipts = () => {
    for (const r of host.ledger.due()) {
      void host.bus.publish(r.origin, { kind: "receipt", origin: host.nodeId, life: r.life, upTo: r.upTo }).catch(() => {});
    }
    for (const entry of host.ledger.expire((node) => host.isNodeAlive(node))) void route(host, entry, false);
    // held for a node presumed dead that is alive after all (it came back before a purge)
    for (const [node, entry] of host.ledger.release((n) => host.isNodeAlive(n))) {
      void host.bus.publish(node, entry.env).catch(() => {
        entry.failed = true;
        void route(host, entry, false);
      });
    }
    if (host.ledger.takeOverflowWarning()) {
      host.log.warn({ pending: Object.fromEntries(host.ledger.pending()) }, "a node does not confirm what it is sent; the oldest unconfirmed stanzas are let go");
    }
  };
  const timer = setInterval(() => void tick(), RECEIPT_MS);
  timer.unref();
  const unfollow = host.bus.subscribeControl((message) => {
    if (message.type === "node.gone" && typeof message.node === "string" && message.node !== host.nodeId) {
      void onGone(host, message).catch((err: unknown) => host.log.warn({ err, node: message.node }, "could not route again what a gone node had not confirmed"));
    }
  });
  return async (final) => {
    clearInterval(timer);
    unfollow();
    if (!final) return;
    // Held for a node presumed dead (core host.ts): this process cannot wait for it, so they go
    // now — that node is most likely a restarted one the sweep has not seen yet.
    for (const [node, entry] of host.ledger.release(() => true)) {
      await host.bus.publish(node, entry.env).catch(() => routeAgainOrLog(host, entry));
    }
    const goodbye = { type: "node.gone", origin: host.nodeId, node: host.nodeId, receipts: host.ledger.final(), stopping: true } as const;
    await host.bus.publishControl(goodbye).catch((err: unknown) => host.log.warn({ err }, "could not tell the cluster this node stops"));
  };
}

async function routeAgainOrLog(host: Host, entry: LedgerEntry): Promise<void> {
  entry.failed = true;
  await route(host, entry, false).catch((err: unknown) => host.log.warn({ err, kind: entry.env.kind }, "could not route a held stanza at stop"));
}

async function onGone(host: Host, message: NodeGone): Promise<void> {
  // Routed again below by what the router knows now: a component's next worker, not this one.
  host.markNodeGone(message.node);
  const mine = Array.isArray(message.receipts) ? message.receipts.find((r) => r?.origin === host.nodeId) : undefined;
  if (mine && typeof mine.life === "string" && typeof mine.upTo === "number") host.ledger.confirmed(message.node, mine.life, mine.upTo);
  const entries = host.ledger.takeUnconfirmed(message.node);
  for (const entry of entries) await route(host, entry, true);
  if (entries.length > 0) host.log.info({ node: message.node, stanzas: entries.length }, "routed again what a gone node had not confirmed");
}

/**
 * `fresh`: the registry was updated for the gone node (its sessions moved, detached or removed),
 * so the same resource is tried first; otherwise (a dead node nobody purged in time) only the
 * fallback of a vanished stream.
 */
async function route(host: Host, entry: LedgerEntry, fresh: boolean): Promise<void> {
  let stanza;
  try {
    stanza = parseFrame(entry.env.xml);
  } catch {
    return; // it was serialized here: cannot happen, and could never be delivered
  }
  // the same identity, so a session that had it already drops the copy
  if (entry.env.stamp) tagBusId(stanza, entry.env.stamp.id);
  // A component's stanza: the router finds the shard's worker again (a live one now).
  if (entry.env.kind === "component") return host.router.route(stanza);
  if (entry.env.kind === "multicast") {
    const id = entry.env.stamp?.id;
    for (const target of entry.env.targets) {
      const copy = addressedCopy(stanza, target.to);
      if (id) tagBusId(copy, multicastCopyId(id, target.to));
      const alone = { kind: "stanza" as const, to: target.to, sessionId: target.sessionId, xml: "" };
      if (fresh && delivered(await host.deliverToResource(target.to, copy).catch(() => "unreachable" as const))) continue;
      await routeAgain(host, alone, copy);
    }
    return;
  }
  if (fresh) {
    const outcome = await host.deliverToResource(entry.env.to, stanza).catch(() => "unreachable" as const);
    if (delivered(outcome)) return;
  }
  await routeAgain(host, entry.env, stanza);
}
