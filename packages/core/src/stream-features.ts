/**
 * Stream features contributed by modules (RFC 6120 §4.3.2), and IQs allowed before
 * authentication (XEP-0077 in-band registration is the only one so far).
 */
import type { Element } from "@switchboard/xml";

export interface PreAuthContext {
  ip: string;
  secure: boolean;
}

export type PreAuthIqHandler = (stanza: Element, payload: Element, ctx: PreAuthContext) => Promise<Element | void> | Element | void;

export class StreamFeatures {
  /** offered with the SASL mechanisms, before authentication */
  readonly preAuth: Array<() => Element> = [];
  /** offered with resource binding, after authentication */
  readonly postAuth: Array<() => Element> = [];
  private readonly preAuthIqs = new Map<string, PreAuthIqHandler>();

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
