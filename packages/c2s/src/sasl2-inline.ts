/**
 * The end of a successful XEP-0388 exchange: what the client asked inline, then the one
 * <success/> (§2.6.1). See sasl2.ts for the order (resume, then Bind 2 with stream management).
 * Stream management is reached only through the stream-level handlers its module registered
 * (host.streamHandlers), with a stream context that hands what it writes to the <success/> here.
 */
import { randomBytes } from "node:crypto";
import { x, type Element } from "@switchboard/xml";
import type { Host, LocalSession, SessionConnection, StreamElementContext } from "@switchboard/core";
import type { StreamEngine } from "@switchboard/stream";
import { NS_SASL2 } from "./sasl-negotiation.js";
import type { BindRefusal } from "./bind.js";
import { NS_BIND2, NS_SM3, type Sasl2Request } from "./sasl2.js";

/** What the client policy lends the completion: binding a resource, its post-auth features. */
export interface Sasl2Policy {
  bind(stream: StreamEngine, resource: string): Promise<BindRefusal | undefined>;
  features(stream: StreamEngine): Element[];
}

/**
 * The exchange succeeded and the stream is authenticated: runs the inline requests and writes
 * <success/> through `reply` (the negotiation's counted write).
 */
export async function completeSasl2(
  host: Host,
  stream: StreamEngine,
  policy: Sasl2Policy,
  request: Sasl2Request,
  username: string,
  additionalData: Buffer | undefined,
  reply: (el: Element) => void,
  /** what else goes into <success/> (a FAST <token/>) */
  extra: Element[] = [],
): Promise<void> {
  const bare = `${username}@${host.domain}`;
  const success = (identifier: string, ...more: Element[]) =>
    x("success", { xmlns: NS_SASL2 }, additionalData ? x("additional-data", {}, additionalData.toString("base64")) : undefined, x("authorization-identifier", {}, identifier), ...extra, ...more);
  const inline: Element[] = [];
  // Contexts lent to stream management write to the stream once <success/> is out.
  const held: CaptureContext[] = [];
  const inlineDone = (ctx: CaptureContext) => held.push(ctx);
  const finish = (el: Element) => {
    reply(el);
    for (const ctx of held) ctx.release();
  };

  if (request.resume) {
    const handler = host.streamHandlers.find("authenticated", request.resume);
    let resumed = false;
    if (handler) {
      // <resumed/> goes out inside <success/> at the moment the module writes it: the stanzas it
      // sends again follow it on the wire. The module keeps the context for its later <r/> and
      // <a/>: from then on it writes to the stream itself.
      const ctx = capture(stream, (el) => {
        if (el.name === "resumed" && !resumed) {
          resumed = true;
          reply(success(stream.session?.jid.full ?? bare, el));
          ctx.release();
          return true;
        }
        if (el.name !== "failed") return false;
        inline.push(el);
        return true;
      });
      await handler(ctx, request.resume);
      if (!resumed) ctx.holdUntil(inlineDone);
    } else inline.push(x("failed", { xmlns: NS_SM3 }, x("feature-not-implemented", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
    if (resumed || stream.closed) return;
  }

  if (request.bind) {
    const resource = `${request.bind.tag ?? "sb"}.${randomBytes(4).toString("hex")}`;
    const refused = await policy.bind(stream, resource);
    if (stream.closed) return;
    if (!refused) {
      const bound = x("bound", { xmlns: NS_BIND2 });
      const enable = request.bind.enableSm;
      const handler = enable && host.streamHandlers.find("bound", enable);
      if (enable && handler) {
        const ctx = capture(stream, (el) => {
          if (el.name !== "enabled" && el.name !== "failed") return false;
          bound.cnode(el);
          return true;
        });
        await handler(ctx, enable);
        ctx.holdUntil(inlineDone);
      }
      else if (enable) bound.cnode(x("failed", { xmlns: NS_SM3 }, x("feature-not-implemented", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
      if (stream.closed) return;
      // the modules' inline features (XEP-0280 carbons), each by its namespace; unknown ones are ignored (XEP-0386 §3.3)
      for (const asked of request.bind.inline) {
        const feature = host.streamFeatures.bindInline.get(asked.attrs.xmlns ?? "");
        const session = stream.session;
        if (!feature || !session) continue;
        try {
          const answer = await feature(session, asked);
          if (answer) bound.cnode(answer);
        } catch (err) {
          stream.log.warn({ err, xmlns: asked.attrs.xmlns }, "bind2: an inline feature failed");
        }
      }
      if (stream.closed) return;
      return finish(success(stream.session?.jid.full ?? bare, ...inline, bound));
    }
    // The account is authenticated all the same: <success/> without <bound/> and the
    // post-authentication features tell the client to bind the RFC 6120 way, where the same
    // cause (the session cap, the registry) is answered with its stanza error.
    stream.log.info({ condition: refused.condition, text: refused.text }, "bind2: inline bind refused, falling back to resource binding");
  }
  finish(success(bare, ...inline));
  stream.send(x("stream:features", { "xmlns:stream": "http://etherx.jabber.org/streams" }, ...policy.features(stream)));
}

/**
 * The stream as a module's stream-level handler sees it. Until released, what it writes is
 * offered to `take` (true: it went into <success/>); anything else waits and is written, in
 * order, once released. After that it is the stream itself.
 */
interface CaptureContext extends StreamElementContext {
  release(): void;
  /** hands the context to whoever releases it once <success/> is out */
  holdUntil(register: (ctx: CaptureContext) => void): void;
}

function capture(stream: StreamEngine, take: (el: Element) => boolean): CaptureContext {
  let open = true;
  const waiting: Element[] = [];
  const ctx: CaptureContext = {
    get state() {
      return stream.state;
    },
    get ip() {
      return stream.ip;
    },
    get secure() {
      return stream.secure;
    },
    get account() {
      return stream.account;
    },
    get session() {
      return stream.session;
    },
    send(el) {
      if (!open) return void stream.send(el);
      if (!take(el)) waiting.push(el);
    },
    close: (error) => stream.close(error),
    resumeSession: (take: (connection: SessionConnection) => Promise<LocalSession | undefined>) => stream.resumeSession(take),
    release() {
      if (!open) return;
      open = false;
      for (const el of waiting.splice(0)) stream.send(el);
    },
    holdUntil(register) {
      if (open) register(ctx);
    },
  };
  return ctx;
}
