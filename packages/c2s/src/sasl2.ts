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
 * (host.streamHandlers), with a stream context that hands what it writes to the <success/>
 * (sasl2-inline.ts): the module's rules (counters, resumption store, conflicts) apply unchanged.
 * FAST (XEP-0484) is fast.ts.
 */
import { Element, NS_SASL, x } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { NS_SASL2, type SaslNegotiation, type SaslOutcome } from "./sasl-negotiation.js";
import { fastFeature, fastMechanismFor, fastMechanisms, isFastMechanism, parseFastRequest, type FastContext, type FastRequest } from "./fast.js";

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
  /** XEP-0386 <bind/>: the tag, and the inline feature requests it carries (stream management's; the others, modules') */
  bind?: { tag?: string; enableSm?: Element; inline: Element[] };
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
    const inline = bind.getChildElements().filter((c) => c.name !== "tag" && c.attrs.xmlns !== NS_SM3 && c.attrs.xmlns !== NS_BIND2);
    request.bind = { ...(tag ? { tag } : {}), ...(enableSm ? { enableSm } : {}), inline };
  }
  const resume = el.getChild("resume", NS_SM3);
  if (resume) request.resume = resume;
  // XEP-0484 §3.2: tokens belong to a user agent, so FAST needs its id.
  if ((request.fast.requestToken || isFastMechanism(mechanism)) && !request.userAgent?.id) return "FAST needs a user-agent id";
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
  for (const xmlns of host.streamFeatures.bindInline.keys()) bindInline.cnode(x("feature", { var: xmlns }));
  inline.cnode(x("bind", { xmlns: NS_BIND2 }, bindInline));
  return x("authentication", { xmlns: NS_SASL2 }, ...mechanisms.getChildElements().map((m) => x("mechanism", {}, m.getText())), inline);
}

function smHandler(host: Host, state: "authenticated" | "bound", name: string) {
  return host.streamHandlers.find(state, x(name, { xmlns: NS_SM3 }));
}

/** The XEP-0388 exchange of one stream: <authenticate/>, <response/>, <abort/>, in its SaslNegotiation's "sasl2" profile. */
export class Sasl2Exchange {
  /** the <authenticate/> in progress: what to do inline once it succeeds */
  private request?: Sasl2Request;

  constructor(private readonly host: Host) {}

  /** Forgets the exchange (an RFC 6120 <auth/> started instead). */
  reset(): void {
    this.request = undefined;
  }

  /** One SASL2 element: the outcome, with the request once authenticated. */
  async handle(sasl: SaslNegotiation, el: Element, fast: FastContext): Promise<{ outcome: SaslOutcome; request?: Sasl2Request }> {
    const none = { outcome: { done: false } as const };
    if (el.name === "authenticate") {
      const request = parseAuthenticate(el);
      if (typeof request === "string") return (sasl.reply(sasl2Failure("malformed-request", request)), none);
      this.request = request;
      return this.settle(await sasl.begin(request.mechanism, request.initialResponse, "sasl2", fastMechanismFor(this.host, request, fast)));
    }
    if (el.name === "response" && this.request) return this.settle(await sasl.respond(el.getText(), "sasl2"));
    if (el.name === "abort") return this.settle(sasl.abort("sasl2"));
    sasl.reply(sasl2Failure("malformed-request", el.name === "response" ? "no SASL2 authentication in progress" : `unexpected <${el.name}/>`));
    return none;
  }

  private settle(outcome: SaslOutcome): { outcome: SaslOutcome; request?: Sasl2Request } {
    if (!outcome.done) return { outcome };
    const request = this.request;
    this.request = undefined;
    return { outcome, request };
  }
}

/** XEP-0388 §2.6.2 failure for a malformed <authenticate/> (nothing was attempted). */
export function sasl2Failure(condition: string, text?: string): Element {
  return x("failure", { xmlns: NS_SASL2 }, x(condition, { xmlns: NS_SASL }), text ? x("text", {}, text) : undefined);
}
