/**
 * XEP-0388 Extensible SASL Profile (SASL2) with XEP-0386 Bind 2 and XEP-0198 inline, for one
 * client stream. The exchange itself (mechanisms, admission, throttling, bans) is SaslNegotiation's
 * in its "sasl2" profile; this file reads <authenticate/> (§2.3), then, once the mechanism
 * succeeded, runs what the client asked inline and writes the one <success/> (§2.6.1):
 *
 *   <resume/> (XEP-0198 §5 inline)  → <resumed/> inside <success/>; the bind request is then void
 *   <bind/> (XEP-0386 §3)          → resource <tag>.<random>, <bound/> inside <success/>, with
 *                                    <enabled/> when stream management was enabled inline
 *   neither                        → <success/>, then the post-authentication <stream:features/>
 *                                    (no stream restart in SASL2: the stream goes on)
 *
 * Stream management is reached only through the stream-level handlers its module registered
 * (host.streamHandlers), with a stream context that hands what it writes to the <success/> here:
 * the module's rules (counters, resumption store, conflicts) apply unchanged.
 */
import { randomBytes } from "node:crypto";
import { Element, NS_SASL, x } from "@switchboard/xml";
import type { Host, LocalSession, SessionConnection, StreamElementContext } from "@switchboard/core";
import type { StreamEngine } from "@switchboard/stream";
import type { ChannelBindings, SaslServerMechanism } from "@switchboard/sasl";
import { NS_SASL2 } from "./sasl-negotiation.js";
import type { BindRefusal } from "./bind.js";
import { HtMechanism, TokenSeal, fastFeature, fastMechanisms, invalidateTokens, isFastMechanism, issueToken, parseFastRequest, type FastRequest } from "./fast.js";

export const NS_BIND2 = "urn:xmpp:bind:0";
export const NS_SM3 = "urn:xmpp:sm:3";

/** XEP-0388 §2.3 user-agent: `id` identifies the client installation (FAST keys its tokens by it) */
export interface UserAgent {
  id?: string;
  software?: string;
  device?: string;
}

export interface Sasl2Request {
  mechanism: string;
  /** base64 text of <initial-response/>, "" when absent */
  initialResponse: string;
  userAgent?: UserAgent;
  /** XEP-0386 <bind/>: the tag, and the inline feature requests it carries */
  bind?: { tag?: string; enableSm?: Element };
  /** XEP-0198 inline <resume/> */
  resume?: Element;
  /** XEP-0484 <request-token/> and <fast/> */
  fast: FastRequest;
}

/** the longest user-agent id, tag, software or device name accepted */
const MAX_NAME = 128;

/** Reads <authenticate/>; a string says what is malformed (→ <malformed-request/>). */
export function parseAuthenticate(el: Element): Sasl2Request | string {
  const mechanism = el.attrs.mechanism ?? "";
  const initial = el.getChild("initial-response");
  const fast = parseFastRequest(el);
  if (typeof fast === "string") return fast;
  const request: Sasl2Request = { mechanism, initialResponse: initial ? initial.getText() : "", fast };
  const agent = el.getChild("user-agent");
  if (agent) {
    const id = agent.attrs.id;
    if (id !== undefined && (id === "" || id.length > MAX_NAME)) return `user-agent id must be 1 to ${MAX_NAME} characters`;
    const software = agent.getChildText("software") ?? undefined;
    const device = agent.getChildText("device") ?? undefined;
    if ((software?.length ?? 0) > MAX_NAME || (device?.length ?? 0) > MAX_NAME) return `user-agent software and device are at most ${MAX_NAME} characters`;
    request.userAgent = { ...(id === undefined ? {} : { id }), ...(software ? { software } : {}), ...(device ? { device } : {}) };
  }
  const bind = el.getChild("bind", NS_BIND2);
  if (bind) {
    const tag = bind.getChildText("tag")?.trim();
    if (tag !== undefined && tag.length > MAX_NAME) return `the bind tag is at most ${MAX_NAME} characters`;
    const enableSm = bind.getChild("enable", NS_SM3);
    request.bind = { ...(tag ? { tag } : {}), ...(enableSm ? { enableSm } : {}) };
  }
  const resume = el.getChild("resume", NS_SM3);
  if (resume) request.resume = resume;
  // XEP-0484 §3.2: tokens belong to a user agent, so FAST needs its id.
  if ((request.fast.requestToken || isFastMechanism(mechanism)) && !request.userAgent?.id) return "FAST needs a user-agent id";
  if (isFastMechanism(mechanism) && request.fast.count === undefined) return "a FAST login needs <fast count/>";
  return request;
}

/** XEP-0388 §2.1 the <authentication/> feature: the mechanisms, and what may be done inline. */
export function authenticationFeature(host: Host, mechanisms: Element, fast: FastContext): Element {
  const inline = x("inline");
  const fastInline = fast.seal && fastFeature(fastMechanisms(fast.secure, fast.bindings));
  if (fastInline) inline.cnode(fastInline);
  if (smHandler(host, "authenticated", "resume")) inline.cnode(x("sm", { xmlns: NS_SM3 }));
  const bindInline = x("inline");
  if (smHandler(host, "bound", "enable")) bindInline.cnode(x("feature", { var: NS_SM3 }));
  inline.cnode(x("bind", { xmlns: NS_BIND2 }, bindInline));
  return x("authentication", { xmlns: NS_SASL2 }, ...mechanisms.getChildElements().map((m) => x("mechanism", {}, m.getText())), inline);
}

function smHandler(host: Host, state: "authenticated" | "bound", name: string) {
  return host.streamHandlers.find(state, x(name, { xmlns: NS_SM3 }));
}

/** What FAST needs of the stream: the seal (none without a server secret) and the channel. */
export interface FastContext {
  seal?: TokenSeal;
  secure: boolean;
  bindings?: ChannelBindings;
}

const seals = new WeakMap<Buffer, TokenSeal>();
/** One TokenSeal per server secret (the HKDF runs once). */
export function tokenSeal(secret: Buffer | undefined): TokenSeal | undefined {
  if (!secret) return undefined;
  let seal = seals.get(secret);
  if (!seal) seals.set(secret, (seal = new TokenSeal(secret)));
  return seal;
}

/** The HT mechanism for an <authenticate/> naming one this channel offers; undefined otherwise (the usual lookup then answers). */
export function fastMechanismFor(host: Host, request: Sasl2Request, fast: FastContext): SaslServerMechanism | undefined {
  if (!fast.seal || !fastMechanisms(fast.secure, fast.bindings).includes(request.mechanism)) return undefined;
  return new HtMechanism(request.mechanism, host, fast.seal, request.userAgent!.id!, request.fast.count!, fast.bindings);
}

/** After success: <fast invalidate/> ends this agent's tokens; <request-token/> gets a new one (rotation). */
export async function fastAfterSuccess(host: Host, request: Sasl2Request, fast: FastContext, username: string): Promise<Element[]> {
  const agent = request.userAgent?.id;
  if (!fast.seal || !agent) return [];
  const owner = `${username}@${host.domain}`;
  if (request.fast.invalidate && isFastMechanism(request.mechanism)) {
    await invalidateTokens(host, owner, agent).catch((err: unknown) => host.log.warn({ err, user: owner }, "FAST: could not invalidate the tokens"));
    return [];
  }
  const asked = request.fast.requestToken;
  if (!asked || !fastMechanisms(fast.secure, fast.bindings).includes(asked)) return [];
  const token = await issueToken(host, fast.seal, owner, agent, asked);
  return token ? [token] : [];
}

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

  if (request.resume) {
    const handler = host.streamHandlers.find("authenticated", request.resume);
    let resumed = false;
    if (handler) {
      // <resumed/> goes out inside <success/> at the moment the module writes it: the stanzas it
      // sends again follow it on the wire.
      await handler(
        capture(stream, (el) => {
          if (el.name === "resumed" && !resumed) {
            resumed = true;
            reply(success(stream.session?.jid.full ?? bare, el));
          } else inline.push(el);
        }),
        request.resume,
      );
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
      if (enable && handler) await handler(capture(stream, (el) => bound.cnode(el)), enable);
      else if (enable) bound.cnode(x("failed", { xmlns: NS_SM3 }, x("feature-not-implemented", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })));
      if (stream.closed) return;
      return reply(success(stream.session?.jid.full ?? bare, ...inline, bound));
    }
    // XEP-0386 leaves the refusal to the server: the account is authenticated all the same, so
    // the client hears why and binds the RFC 6120 way (where a cap gives the same answer again).
    stream.log.info({ condition: refused.condition, text: refused.text }, "bind2: inline bind refused, falling back to resource binding");
  }
  reply(success(bare, ...inline));
  stream.send(x("stream:features", { "xmlns:stream": "http://etherx.jabber.org/streams" }, ...policy.features(stream)));
}

/** The stream as a module's stream-level handler sees it, with what it writes handed to `write`. */
function capture(stream: StreamEngine, write: (el: Element) => void): StreamElementContext {
  return {
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
    send: write,
    close: (error) => stream.close(error),
    resumeSession: (take: (connection: SessionConnection) => Promise<LocalSession | undefined>) => stream.resumeSession(take),
  };
}

/** XEP-0388 §2.6.2 failure for a malformed <authenticate/> (nothing was attempted). */
export function sasl2Failure(condition: string, text?: string): Element {
  return x("failure", { xmlns: NS_SASL2 }, x(condition, { xmlns: NS_SASL }), text ? x("text", {}, text) : undefined);
}
