/**
 * XEP-0198 on the wire: the stream feature (§2), <enable/> → <enabled/> (§3), <r/> and <a/> both
 * ways (§4), and the answers to elements that come too early or twice (§6: stream management
 * errors are recoverable <failed/> elements; a bad 'h' is a stream error). Resumption is in
 * resume.ts, what happens when a stream goes away in lifecycle.ts.
 */
import { StreamError, x, type Element } from "@switchboard/xml";
import { newResumptionId, type Host, type LocalSession, type ModuleContext, type Session, type StreamElementContext, type StreamState } from "@switchboard/core";
import { NS_SM, fromWire, parseH, toWire } from "./counters.js";
import type { SmOptions } from "./options.js";
import { SmSession } from "./session.js";
import type { SmSync } from "./sync.js";

/** The stream-managed sessions of this node. */
export type SmSessions = WeakMap<LocalSession, SmSession>;

const STANZAS = new Set(["message", "presence", "iq"]);
const BEFORE_BIND: readonly StreamState[] = ["connected", "secured", "authenticated"];

export function failed(condition: string, h?: number): Element {
  return x("failed", { xmlns: NS_SM, h: h === undefined ? undefined : toWire(h) }, x(condition, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }));
}

/** §4: an 'h' that is not a number is a stream error; one above what was sent, another. */
export function checkedAck(stream: StreamElementContext, sm: SmSession, el: Element): number | undefined {
  const h = parseH(el.attrs.h);
  if (h === undefined) {
    stream.close(new StreamError("bad-format", "the 'h' attribute must be a number from 0 to 4294967295"));
    return undefined;
  }
  const upTo = fromWire(h, sm.outbound, sm.acked);
  if (upTo === undefined) {
    handledCountTooHigh(stream, h, sm.outbound);
    return undefined;
  }
  return upTo;
}

export function handledCountTooHigh(stream: StreamElementContext, h: number, sent: number): void {
  stream.close(
    new StreamError("undefined-condition", `the client acknowledged ${h} stanzas, the server sent ${toWire(sent)}`, {
      appCondition: x("handled-count-too-high", { xmlns: NS_SM, h: String(h), "send-count": toWire(sent) }),
    }),
  );
}

export function registerProtocol(ctx: ModuleContext<SmOptions>, sessions: SmSessions, syncs: SmSync): void {
  const { host, options, log } = ctx;
  ctx.streamFeature("postAuth", () => x("sm", { xmlns: NS_SM }));

  // §3: <enable/> only once a resource is bound; before that (or before authenticating, where
  // only <resume/> would be allowed) and a second time: a recoverable failure.
  ctx.streamElement({ states: BEFORE_BIND, xmlns: NS_SM, name: "enable" }, (stream) => stream.send(failed("unexpected-request")));
  ctx.streamElement({ states: ["connected", "secured"], xmlns: NS_SM, name: "resume" }, (stream) => stream.send(failed("unexpected-request")));
  ctx.streamElement({ states: ["bound"], xmlns: NS_SM, name: "resume" }, (stream) => stream.send(failed("unexpected-request")));
  ctx.streamElement({ states: ["bound"], xmlns: NS_SM, name: "enable" }, async (stream, el) => {
    const session = stream.session as Session | undefined;
    if (!session || sessions.has(session)) return stream.send(failed("unexpected-request"));
    const wantsResume = el.attrs.resume === "true" || el.attrs.resume === "1";
    const resumable = wantsResume && options.resumeTimeoutSeconds > 0;
    const id = resumable ? newResumptionId(session.jid) : undefined;
    const sm = new SmSession(host, session, stream, id, options, log, { inbound: 0, outbound: 0 }, syncs);
    if (id) {
      try {
        await host.resumption.create({
          id, jid: session.jid.full, owner: sm.owner, sessionId: session.id, inbound: 0, outbound: 0, state: {}, queue: [],
        });
        await markResumable(host, session, id);
      } catch (err) {
        log.warn({ err, jid: session.jid.full }, "stream management: could not store resumption state");
        return stream.send(failed("internal-server-error"));
      }
    }
    // §3: the counters start here, for both sides.
    sessions.set(session, sm);
    session.facts.sm = true;
    const max = maxResumeSeconds(options, el.attrs.max);
    sm.resumeSeconds = max;
    stream.send(x("enabled", { xmlns: NS_SM, id, resume: id ? "true" : undefined, max: id ? String(max) : undefined }));
  });

  ctx.streamElement({ states: ["bound"], xmlns: NS_SM, name: "r" }, (stream) => {
    const sm = stream.session && sessions.get(stream.session);
    if (!sm) return stream.send(failed("unexpected-request"));
    // What the answer says was handled must not be lost with this process: everything routed
    // so far has reached the bus server, what went to stream-managed sessions here was
    // acknowledged by them or has reached the resumption store, and so has the count itself (a
    // resumption after a kill -9 must not answer a lower 'h'), before it is acknowledged.
    // Syncs are shared (sync.ts); `awaitingAnswer` has them store this client's stanzas. The
    // answer is not awaited here: the client's next stanzas are read meanwhile, and answers go
    // out in order.
    const handled = sm.inbound;
    if (!host.resumption.durable) return stream.send(sm.answer(handled));
    if (sm.inboundUnsaved) sm.markDirty();
    sm.answerLater(syncs.soon(), handled);
  });

  ctx.streamElement({ states: ["bound"], xmlns: NS_SM, name: "a" }, (stream, el) => {
    const sm = stream.session && sessions.get(stream.session);
    if (!sm) return stream.send(failed("unexpected-request"));
    const upTo = checkedAck(stream, sm, el);
    if (upTo !== undefined) sm.acknowledged(upTo);
  });

  // §4: stanzas the client sends count once stream management is on (handled on arrival:
  // the <r/> handler runs after every earlier stanza finished routing).
  ctx.incoming(
    (session, stanza) => {
      const sm = sessions.get(session);
      if (sm && STANZAS.has(stanza.name)) sm.inbound++;
      return stanza;
    },
    { band: "observe", offset: 4999 },
  );
  // Last of all, so what is counted is what the client gets.
  ctx.outgoing(
    (session, stanza) => {
      const sm = sessions.get(session);
      if (!sm || !STANZAS.has(stanza.name)) return stanza;
      return sm.outgoing(stanza);
    },
    { band: "after", offset: -4999 },
  );
}

/** §3: the server's 'max' (seconds), lowered to the client's preference when it gives one. */
function maxResumeSeconds(options: SmOptions, asked: string | undefined): number {
  const wanted = asked !== undefined && /^\d+$/.test(asked) ? Number(asked) : options.resumeTimeoutSeconds;
  return Math.max(1, Math.min(options.resumeTimeoutSeconds, wanted));
}

/** The registry entry says the session is resumable, so a purge of its node keeps it. */
export async function markResumable(host: Host, session: LocalSession, id: string): Promise<void> {
  const info = await host.registry.get(session.jid.full);
  if (info?.sessionId !== session.id) return;
  await host.registry.update(session.jid.full, session.id, { ext: { ...info.ext, sm: id } });
}
