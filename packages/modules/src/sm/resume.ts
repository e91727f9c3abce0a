/**
 * XEP-0198 §5 resumption, on whichever edge the client reaches: <resume h previd/> after
 * authentication takes the session over from the resumption store (atomic claim), moves its
 * registry entry to this stream (SessionRegistry.move), restores its module state, answers
 * <resumed h previd/> and sends again, with XEP-0203 delay stamps, every stanza the client had
 * not acknowledged and those queued while it was away. A stream still holding the session
 * somewhere is closed with <conflict/>. An unknown, expired, already resumed or another user's
 * id is <failed><item-not-found/></failed>.
 */
import { StreamError, parseFrame, x, type Element, type Jid } from "@switchboard/xml";
import { jidOfResumptionId, type Host, type Logger, type ModuleContext, type ResumptionRecord, type Session, type SessionConnection } from "@switchboard/core";
import { stampDelay } from "../offline/storable.js";
import { NS_SM, fromWire, parseH, toWire } from "./counters.js";
import type { SmOptions } from "./options.js";
import { failed, handledCountTooHigh, markResumable, type SmSessions } from "./protocol.js";
import { SmSession, type Pending } from "./session.js";
import type { SmSync } from "./sync.js";
import { detachSession, endForGood } from "./lifecycle.js";

type TakeOver = { kind: "resumed"; session: Session; record: ResumptionRecord; upTo: number; storedUpTo: number } | { kind: "too-high"; sent: number } | { kind: "gone" };

export function registerResume(ctx: ModuleContext<SmOptions>, sessions: SmSessions, syncs: SmSync): void {
  const { host, options, log } = ctx;
  const resumptions = host.metrics.counter("switchboard_sm_resumptions_total", { help: "XEP-0198 resumptions, by result", labels: ["result"] });
  const resumed = resumptions.with({ result: "ok" });
  const failedCount = resumptions.with({ result: "failed" });
  ctx.streamElement({ states: ["authenticated"], xmlns: NS_SM, name: "resume" }, async (stream, el) => {
    const previd = el.attrs.previd ?? "";
    const h = parseH(el.attrs.h);
    if (h === undefined) return stream.close(new StreamError("bad-format", "the 'h' attribute must be a number from 0 to 4294967295"));
    const jid = jidOfResumptionId(previd);
    // Another user's session is as unknown as a made-up one.
    if (!jid || jid.bare !== stream.account || !stream.resumeSession) return (failedCount.add(), stream.send(failed("item-not-found")));

    let outcome: TakeOver = { kind: "gone" };
    let sm: SmSession | undefined;
    await stream.resumeSession(async (connection) => {
      await handOverLocal(jid);
      // Once stanzas can reach the session they are numbered and held until <resumed/> is out.
      outcome = await takeOver(host, log, previd, jid, h, connection, options.maxUnacked, (session, record, upTo) => {
        sm = new SmSession(host, session, stream, previd, options, log, { inbound: record.inbound, outbound: record.outbound, acked: upTo, seen: record.seen, holding: true }, syncs);
        sessions.set(session, sm);
        session.facts.sm = true;
      });
      return outcome.kind === "resumed" ? outcome.session : undefined;
    });
    const result = outcome as TakeOver;
    if (result.kind !== "resumed") failedCount.add();
    if (result.kind === "too-high") return handledCountTooHigh(stream, h, result.sent);
    if (result.kind === "gone") {
      // §5: a session that timed out recently is named with what it had handled.
      const h = await host.resumption.ended(previd).catch(() => undefined);
      return stream.send(failed("item-not-found", h));
    }
    // The connection went away while the session was taken over: the stream layer reported it
    // lost, and the session waits detached again (lifecycle.ts).
    if (stream.state !== "bound" || !sm) return;
    const { session, record, upTo, storedUpTo } = result;
    // the store's queue goes (numbered as before); release() stores it again, numbered as sent now
    void host.resumption.ack(previd, sm.owner, storedUpTo, record.inbound, record.outbound).catch(() => {});
    stream.send(x("resumed", { xmlns: NS_SM, h: toWire(record.inbound), previd }));
    resumed.add();
    sm.release(unacknowledged(host, sm, record.queue));
    log.info({ jid: session.jid.full, resent: sm.queue.length, from: record.owner?.nodeId ?? "detached" }, "stream management: session resumed");
  });

  /**
   * The client came back before this node noticed its old connection was gone (it is still
   * attached here): that session is saved to the store first, as after a drop, so nothing it
   * held in memory is lost, and its old stream is closed with <conflict/>.
   */
  async function handOverLocal(jid: Jid): Promise<void> {
    const info = await host.registry.get(jid.full).catch(() => undefined);
    if (info?.nodeId !== host.nodeId) return;
    const local = host.sessions.get(info.sessionId);
    const localSm = local && sessions.get(local);
    if (!local || !localSm?.resumable) return;
    await detachSession(host, sessions, localSm, options, log, "resumed by a new connection", new StreamError("conflict", "the session was resumed by another connection"));
  }
}

/** Claims the record, checks the client's 'h', closes a stream still holding it, adopts it here. */
async function takeOver(
  host: Host,
  log: Logger,
  previd: string,
  jid: Jid,
  h: number,
  connection: SessionConnection,
  maxUnacked: number,
  onAdopted: (session: Session, record: ResumptionRecord, upTo: number) => void,
): Promise<TakeOver> {
  const sessionId = host.sessions.newId();
  let record: ResumptionRecord | undefined;
  try {
    record = await host.resumption.claim(previd, { nodeId: host.nodeId, sessionId }, "resume");
  } catch (err) {
    log.warn({ err, jid: jid.full }, "stream management: resumption store unavailable");
    return { kind: "gone" };
  }
  if (!record || record.jid !== jid.full) {
    log.debug({ jid: jid.full, previd }, "stream management: nothing to resume (unknown, expired or already resumed)");
    return { kind: "gone" };
  }
  await closeOldStream(host, record);
  // Written to the client before the stream went: numbered up to `written`; queued since (for a
  // detached session), above it.
  const written = record.owner ? record.outbound : (record.written ?? record.outbound);
  // After a crash the store lags what the dead stream wrote (session.ts: stanzas acknowledged
  // soon are never stored, counts are stored with the next sync): the client can have handled
  // more than the record knows was sent, up to what a stream may leave unacknowledged, and less
  // than the first stanza stored. A session its own edge detached was saved whole: no slack.
  const slack = record.saved ? 0 : maxUnacked;
  const floor = !record.saved ? 0 : record.queue.length > 0 ? Math.min(record.queue[0]!.seq - 1, written) : written;
  const upTo = fromWire(h, record.outbound + slack, floor);
  if (upTo === undefined) {
    // §6: the client claims stanzas that were never sent; the session cannot go on.
    await endForGood(host, log, record);
    return { kind: "too-high", sent: record.outbound };
  }
  // What the client is sent again: what was written and not handled, then what was queued;
  // numbered on from what it handled (its count goes on from there, §5).
  const storedUpTo = record.queue.reduce((max, q) => Math.max(max, q.seq), record.outbound);
  const keep = record.queue.filter((q) => q.seq > Math.min(upTo, written));
  record.queue = keep.map((q, i) => ({ ...q, seq: upTo + i + 1 }));
  record.outbound = upTo + keep.length;
  // `record` is as it was before the claim: its sessionId is the registry entry's.
  const claimed = record;
  const session = await host.sessions.adopt({ jid: record.jid, sessionId: record.sessionId }, jid, record.state, connection, sessionId, (s) => onAdopted(s, claimed, upTo));
  if (!session) {
    // The registry no longer has it (it ended meanwhile): what it held goes where it would have.
    log.debug({ jid: jid.full, previd, sessionId: record.sessionId }, "stream management: the registry no longer has the session to resume");
    await endForGood(host, log, record);
    return { kind: "gone" };
  }
  await host.registry.update(jid.full, session.id, { detachedUntil: undefined }).catch(() => {});
  await markResumable(host, session, previd).catch(() => {});
  return { kind: "resumed", session, record, upTo, storedUpTo };
}

/** A stream that still holds the session (a half-open connection, another edge): <conflict/>. */
async function closeOldStream(host: Host, record: ResumptionRecord): Promise<void> {
  const old = record.owner;
  if (!old) return;
  if (old.nodeId === host.nodeId) {
    const local = host.sessions.get(old.sessionId);
    if (local) await host.sessions.movedAway(local);
    return;
  }
  await host.bus
    .publish(old.nodeId, { kind: "session-control", to: record.jid, sessionId: old.sessionId, action: "moved" })
    .catch((err: unknown) => host.log.debug({ err }, "could not tell the node that held a resumed session"));
}

/** §5: every stanza the client had not handled, stamped with when it was first sent. */
function unacknowledged(host: Host, sm: SmSession, entries: ResumptionRecord["queue"]): Pending[] {
  const out: Pending[] = [];
  for (const entry of entries) {
    let el: Element;
    try {
      el = stampDelay(parseFrame(entry.xml), host.domain, new Date(entry.at));
    } catch {
      continue; // unreadable: it could never be delivered
    }
    if (entry.bid) sm.firstTime(entry.bid);
    out.push({ seq: entry.seq, el, at: entry.at, xml: entry.xml, bid: entry.bid });
  }
  return out;
}
