// Stanza errors (RFC 6120 §8.3) and stream errors (RFC 6120 §4.9).
import { Element, x } from "./element.js";
import { NS_STANZAS, NS_STREAM, NS_STREAMS } from "./ns.js";

/** RFC 6120 §8.3.2: the error type tells the sender what it may do next. */
export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** RFC 6120 §8.3.3: defined stanza error conditions. */
export type StanzaErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

/** The error type each subsection of RFC 6120 §8.3.3 gives (or shows in its example). */
export const DEFAULT_ERROR_TYPE: Readonly<Record<StanzaErrorCondition, StanzaErrorType>> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

export interface ErrorOptions {
  cause?: unknown;
  /** Character data of the condition element: the new address for 'gone'/'redirect' (§8.3.3.5, §8.3.3.14). */
  conditionText?: string;
  /** An application-specific condition (§8.3.2), e.g. XEP-0060's pubsub#errors elements. */
  appCondition?: Element;
}

/** A refusal that becomes an error stanza; throw it from handlers, the router replies. */
export class StanzaError extends Error {
  override readonly name = "StanzaError";
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  readonly conditionText: string | undefined;
  readonly appCondition: Element | undefined;

  constructor(condition: StanzaErrorCondition, text?: string, type?: StanzaErrorType, options?: ErrorOptions) {
    super(text ? `${condition}: ${text}` : condition, options?.cause === undefined ? undefined : { cause: options.cause });
    this.condition = condition;
    this.type = type ?? DEFAULT_ERROR_TYPE[condition];
    this.text = text;
    this.conditionText = options?.conditionText;
    this.appCondition = options?.appCondition;
  }

  /** `<error type='…'><condition xmlns='…stanzas'/><text xmlns='…stanzas'>…</text></error>` (§8.3.2). */
  toElement(): Element {
    return x(
      "error",
      { type: this.type },
      x(this.condition, { xmlns: NS_STANZAS }, this.conditionText),
      this.text !== undefined && x("text", { xmlns: NS_STANZAS }, this.text),
      this.appCondition,
    );
  }
}

/** message, presence or iq: the three stanza kinds of RFC 6120 §8. */
export function isStanza(el: Element): boolean {
  return el.name === "message" || el.name === "presence" || el.name === "iq";
}

/**
 * The error response to `stanza` (RFC 6120 §8.3.1): addresses swapped, same id, type 'error'.
 * Message and presence errors carry a copy of the original payload so the sender can tell what
 * bounced; IQ errors do not, since the request is identified by its id.
 */
export function errorReply(stanza: Element, condition: StanzaErrorCondition, text?: string, type?: StanzaErrorType): Element {
  const { from, to, id, xmlns } = stanza.attrs;
  const reply = x(stanza.name, { xmlns, from: to, to: from, id, type: "error" });
  if (stanza.name !== "iq") {
    for (const child of stanza.children) reply.cnode(typeof child === "string" ? child : cloneElement(child));
  }
  reply.cnode(new StanzaError(condition, text, type).toElement());
  return reply;
}

function cloneElement(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const child of el.children) copy.cnode(typeof child === "string" ? child : cloneElement(child));
  return copy;
}

/** RFC 6120 §4.9.3: defined stream error conditions. */
export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "remote-connection-failed"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "see-other-host"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-feature"
  | "unsupported-stanza-type"
  | "unsupported-version";

/** A fatal stream-level error (RFC 6120 §4.9): sent as <stream:error/>, then the stream closes. */
export class StreamError extends Error {
  override readonly name = "StreamError";
  readonly condition: StreamErrorCondition;
  readonly text: string | undefined;
  readonly conditionText: string | undefined;

  /** an application-specific condition element (RFC 6120 §4.9.4), e.g. XEP-0198's <handled-count-too-high/> */
  readonly appCondition: Element | undefined;

  /** For 'see-other-host' pass the alternate host as options.conditionText (§4.9.3.19). */
  constructor(condition: StreamErrorCondition, text?: string, options?: ErrorOptions & { appCondition?: Element }) {
    super(text ? `${condition}: ${text}` : condition, options?.cause === undefined ? undefined : { cause: options.cause });
    this.condition = condition;
    this.text = text;
    this.conditionText = options?.conditionText;
    this.appCondition = options?.appCondition;
  }

  /**
   * `<stream:error><condition xmlns='…streams'/><text xmlns='…streams'>…</text></stream:error>`.
   * The stream prefix is declared on the element itself so it is also valid standalone,
   * e.g. as a WebSocket frame (RFC 7395 §3.6).
   */
  toElement(): Element {
    return x(
      "stream:error",
      { "xmlns:stream": NS_STREAM },
      x(this.condition, { xmlns: NS_STREAMS }, this.conditionText),
      this.text !== undefined && x("text", { xmlns: NS_STREAMS }, this.text),
      this.appCondition,
    );
  }
}
