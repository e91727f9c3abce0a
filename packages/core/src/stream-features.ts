/**
 * Stream features contributed by modules (RFC 6120 §4.3.2), and IQs allowed before
 * authentication (XEP-0077 in-band registration is the only one so far).
 */
import type { Element } from "@switchboard/xml";
import type { LocalSession } from "./session.js";

export interface PreAuthContext {
  ip: string;
  secure: boolean;
}

/**
 * XEP-0386 §3.3: a feature a client enables inside its Bind 2 request, by an element in the
 * feature's namespace (XEP-0280 carbons' <enable/>). Runs once the session is bound, before
 * <success/>; what it returns goes into <bound/>.
 */
export type BindInlineHandler = (session: LocalSession, request: Element) => Promise<Element | void> | Element | void;

export type PreAuthIqHandler = (stanza: Element, payload: Element, ctx: PreAuthContext) => Promise<Element | void> | Element | void;

export class StreamFeatures {
  /** offered with the SASL mechanisms, before authentication */
  readonly preAuth: Array<() => Element> = [];
  /** offered with resource binding, after authentication */
  readonly postAuth: Array<() => Element> = [];
  private readonly preAuthIqs = new Map<string, PreAuthIqHandler>();
  /** XEP-0386 inline features by namespace, in registration order (advertised in that order) */
  readonly bindInline = new Map<string, BindInlineHandler>();

  addBindInline(xmlns: string, handler: BindInlineHandler): () => void {
    if (this.bindInline.has(xmlns)) throw new Error(`a Bind 2 inline feature for ${xmlns} is already registered`);
    this.bindInline.set(xmlns, handler);
    return () => {
      if (this.bindInline.get(xmlns) === handler) this.bindInline.delete(xmlns);
    };
  }

  add(phase: "preAuth" | "postAuth", feature: () => Element): () => void {
    this[phase].push(feature);
    return () => {
      const i = this[phase].indexOf(feature);
      if (i >= 0) this[phase].splice(i, 1);
    };
  }

  handlePreAuthIq(xmlns: string, handler: PreAuthIqHandler): () => void {
    this.preAuthIqs.set(xmlns, handler);
    return () => {
      if (this.preAuthIqs.get(xmlns) === handler) this.preAuthIqs.delete(xmlns);
    };
  }

  findPreAuthIq(xmlns: string): PreAuthIqHandler | undefined {
    return this.preAuthIqs.get(xmlns);
  }
}
