/**
 * What becomes of a stream-managed session when its stream goes away (XEP-0198 §5, §7):
 *
 * - dropped without a stream close, and resumable: detached — its state goes to the resumption
 *   store with a deadline (sm.resumeTimeoutSeconds), its registry entry stays (resource and
 *   presence: contacts see nothing), stanzas for it are queued in the store (sm.maxQueue; past
 *   it messages go to offline storage), and this process lets go of it;
 * - closed, not resumable, or its deadline passed: it ends, and what it held is not lost and not
 *   sent twice — messages go to the user's other resources or offline storage, IQ requests get
 *   an error, presence is dropped;
 * - its node died (cluster): the purge keeps the registry entry and the store record is
 *   orphaned, so it can still be resumed (or expire) like any detached session.
 */
import { errorReply, parseFrame, type Element, type StreamError } from "@switchboard/xml";
import { EXPIRY_OWNER, busIdOf, delivered, type Host, type Logger, type ModuleContext, type QueuedStanza, type ResumptionRecord, type Session, type SessionInfo } from "@switchboard/core";
import type { SmOptions } from "./options.js";
import type { SmSessions } from "./protocol.js";
import type { SmSession } from "./session.js";

const SWEEP_MS = 1000;

export function registerLifecycle(ctx: ModuleContext<SmOptions>, sessions: SmSessions): void {
  const { host, options, log } = ctx;
  const detaching = new Set<Promise<unknown>>();

  ctx.on("session/connection-lost", async ({ session, reason, abrupt }) => {
    const sm = sessions.get(session);
    if (!sm) return false;
    if (!abrupt || !sm.resumable) return false; // it ends: session/closed below
    const done = detachSession(host, sessions, sm, options, log, reason);
    detaching.add(done);
    void done.finally(() => detaching.delete(done));
    return done;
  });

  ctx.on("session/closed", async ({ session }) => {
    const sm = sessions.get(session);
    if (!sm) return;
    sessions.delete(session);
    sm.stop();
    await reroute(host, log, [...sm.queue.map((p) => p.el), ...sm.takeLate()]);
    sm.releasePins();
    if (sm.id) await host.resumption.delete(sm.id).catch(() => {});
  });

  // Another stream resumed it: what this node had not saved yet goes to the new holder.
  ctx.on("session/moved", async ({ session }) => {
    const sm = sessions.get(session);
    if (!sm) return;
    sessions.delete(session);
    sm.stop();
    await routeToHolder(host, sm.takeUnsaved());
    sm.releasePins();
    for (const el of sm.takeLate()) await host.router.route(el).catch(() => {});
  });

  ctx.on("session/queue", async ({ target, stanza }) => {
    const id = target.ext?.sm;
    if (typeof id !== "string") return false;
    return queueForDetached(host, log, options, target, id, stanza);
  });

  ctx.on("session/orphaned", async ({ info }) => {
    const id = info.ext?.sm;
    if (typeof id !== "string") return;
    await host.resumption.orphan(id, info.nodeId, info.detachedUntil ?? Date.now() + options.resumeTimeoutSeconds * 1000).catch((err: unknown) => {
      log.warn({ err, jid: info.jid }, "stream management: could not keep a dead node's session for resumption");
    });
  });

  // A new stream bound the resource of a detached session: it will not be resumed. What it
  // held goes where the resource's stanzas go now (the new stream), contacts see it leave.
  ctx.on("session/replaced", async ({ info }) => {
    const id = info.ext?.sm;
    if (typeof id !== "string") return;
    const record = await host.resumption.claim(id, { nodeId: host.nodeId, sessionId: `${EXPIRY_OWNER}${host.nodeId}` }, "resume").catch(() => undefined);
    if (!record) return;
    await host.hooks.fire("session/purged", { info }).catch((err: unknown) => log.error({ err }, "session/purged handler failed"));
    await endForGood(host, log, record);
  });

  // Shutdown: clients are asked for acks, then their connections are cut without closing the
  // XML stream (a closed stream cannot be resumed, XEP-0198 §5), so they resume elsewhere.
  ctx.on("host/draining", async ({ deadline }) => {
    const resumable = [...host.sessions.values()].map((s) => sessions.get(s)).filter((sm): sm is SmSession => !!sm?.resumable && sm.live);
    if (resumable.length === 0) return;
    for (const sm of resumable) sm.requestAck();
    const wait = Math.max(0, Math.min(1000, deadline - Date.now() - 500));
    await Promise.all(resumable.map((sm) => sm.allAcknowledged(wait)));
    for (const sm of resumable) sm.session.currentConnection?.abort?.("draining: resume on another edge");
    await Promise.allSettled([...detaching]);
    log.info({ sessions: resumable.length }, "stream management: sessions handed on for resumption elsewhere");
  });

  const sweep = setInterval(() => void expire(host, log).catch((err: unknown) => log.debug({ err }, "stream management: expiry sweep failed")), SWEEP_MS);
  sweep.unref();
  ctx.onUnload(() => clearInterval(sweep));
}

/** The session goes into the store, detached until its deadline; this process lets go of it. */
export async function detachSession(host: Host, sessions: SmSessions, sm: SmSession, options: SmOptions, log: Logger, reason: string, error?: StreamError): Promise<boolean> {
  const session = sm.session;
  // Until it is released below, stanzas for it wait in `late` (SmSession.outgoing).
  sm.detaching = true;
  sm.stop();
  const until = Date.now() + sm.resumeSeconds * 1000;
  let kept: boolean;
  const unsaved = sm.takeUnsaved();
  try {
    kept = await host.resumption.detach(sm.id!, sm.owner, {
      until,
      inbound: sm.inbound,
      outbound: sm.outbound,
      state: host.sessions.exportState(session),
      unsaved,
      acked: sm.acked,
    });
  } catch (err) {
    // Nowhere to keep it: it ends here, and what it held is routed again (session/closed).
    log.warn({ err, jid: session.jid.full }, "stream management: could not keep the session for resumption");
    return false;
  }
  // Resumed elsewhere meanwhile: the new holder's record lacks what this node had not saved.
  if (!kept) await routeToHolder(host, unsaved);
  // what it held is in the store or with the new holder: receipts to its senders may cover it
  sm.releasePins();
  if (kept) {
    await host.registry.update(session.jid.full, session.id, { detachedUntil: until }).catch((err: unknown) => {
      log.warn({ err, jid: session.jid.full }, "stream management: could not mark the session detached");
    });
    log.info({ jid: session.jid.full, reason, seconds: sm.resumeSeconds, until: new Date(until).toISOString(), unacked: sm.queue.length }, "stream management: session detached");
  }
  // Kept, or already taken over elsewhere: either way it no longer lives here.
  host.sessions.release(session as Session, error);
  sessions.delete(session);
  const late = sm.takeLate();
  if (kept) for (const el of late) await queueDetached(host, log, sm.id!, el, options);
  else for (const el of late) await host.router.route(el).catch(() => {});
  return true;
}

/** how long a stanza for a session being resumed waits for the registry to say where it went */
const RESUMING_WAIT_MS = 2_000;
const RESUMING_POLL_MS = 20;

/**
 * A stanza for a detached session joins its queue in the store. When the store no longer takes
 * it, the session is being resumed (claimed, its registry entry about to move to the new
 * stream) or has ended: once the registry says which, the stanza goes there — to the resumed
 * stream, or (false) to whatever an unavailable resource's stanzas get.
 */
async function queueForDetached(host: Host, log: Logger, options: SmOptions, target: SessionInfo, id: string, stanza: Element): Promise<boolean> {
  let outcome;
  try {
    outcome = await host.resumption.enqueue(id, stanza.toString(), Date.now(), options.maxQueue, busIdOf(stanza));
  } catch (err) {
    log.warn({ err, jid: target.jid }, "stream management: could not queue a stanza for a detached session");
    return false;
  }
  if (outcome === "queued" || outcome === "duplicate") return true;
  if (outcome === "full") return false;
  const giveUpAt = Date.now() + RESUMING_WAIT_MS;
  for (;;) {
    const now = await host.registry.get(target.jid).catch(() => undefined);
    if (!now) return false; // it ended
    if (now.sessionId !== target.sessionId || now.detachedUntil === undefined) return delivered(await host.deliver(now, stanza));
    if (Date.now() > giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, RESUMING_POLL_MS));
  }
}

/** A stanza that reached a session while it was being detached joins its queue in the store. */
async function queueDetached(host: Host, log: Logger, id: string, el: Element, options: SmOptions): Promise<void> {
  const outcome = await host.resumption.enqueue(id, el.toString(), Date.now(), options.maxQueue, busIdOf(el)).catch(() => "gone" as const);
  // full, or resumed or ended meanwhile: where the resource's stanzas go now
  if (outcome !== "queued" && outcome !== "duplicate") await reroute(host, log, [el]);
}

/** Detached sessions whose deadline passed: claimed (one node wins), ended, their queue routed. */
async function expire(host: Host, log: Logger): Promise<void> {
  const now = Date.now();
  for (const id of await host.resumption.expired(now, 100)) {
    const record = await host.resumption.claim(id, { nodeId: host.nodeId, sessionId: `${EXPIRY_OWNER}${host.nodeId}` }, "expire", now);
    if (record) await endForGood(host, log, record, true);
  }
}

/** How long a late <resume/> of a timed-out session is still told its 'h' (XEP-0198 §5). */
const REMEMBER_ENDED_MS = 3_600_000;

/**
 * A stored session ends for good: unbound (contacts told), its queue routed, its record gone;
 * `timedOut` remembers its inbound count for a late resumption's <failed h/>.
 */
export async function endForGood(host: Host, log: Logger, record: ResumptionRecord, timedOut = false): Promise<void> {
  const info = await host.registry.get(record.jid);
  const bound = info?.sessionId === record.sessionId;
  if (bound) await host.registry.unbind(record.jid, record.sessionId);
  await reroute(host, log, parseAll(record.queue));
  await host.resumption.delete(record.id, timedOut ? { inbound: record.inbound, ms: REMEMBER_ENDED_MS } : undefined).catch(() => {});
  // Last, once a late resumption would be told the session ended: as for a session of a dead
  // node, unavailable presence to contacts and last activity.
  if (bound) await host.hooks.fire("session/purged", { info: info! }).catch((err: unknown) => log.error({ err }, "session/purged handler failed"));
  log.info({ jid: record.jid, queued: record.queue.length }, "stream management: detached session ended");
}

/** What this node had not saved of a session that is held elsewhere now goes to its new holder. */
async function routeToHolder(host: Host, unsaved: QueuedStanza[]): Promise<void> {
  for (const el of parseAll(unsaved)) await host.router.route(el).catch(() => {});
}

function parseAll(queue: QueuedStanza[]): Element[] {
  const out: Element[] = [];
  for (const entry of queue) {
    try {
      out.push(parseFrame(entry.xml));
    } catch {
      // unreadable: it could never be delivered
    }
  }
  return out;
}

/**
 * XEP-0198 §5: unacknowledged stanzas are treated as if sent to an unavailable resource —
 * messages go to the user's other resources or offline storage (the router's full-JID rules,
 * the resource being gone now), IQ requests are answered with an error, presence is dropped.
 */
export async function reroute(host: Host, log: Logger, stanzas: Element[]): Promise<void> {
  for (const el of stanzas) {
    try {
      if (el.name === "message" && el.attrs.type !== "error") await host.router.route(el);
      else if (el.name === "iq" && (el.attrs.type === "get" || el.attrs.type === "set")) {
        const error = errorReply(el, "service-unavailable", "the recipient's session ended before it could answer");
        await host.router.route(error);
      }
    } catch (err) {
      log.warn({ err }, "stream management: could not route an unacknowledged stanza again");
    }
  }
}
