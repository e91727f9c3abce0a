/**
 * IQ handlers keyed by (type, namespace, element), RFC 6120 §8.2.3: every get/set gets exactly
 * one result or error; an IQ nothing handles gets <service-unavailable/> from one central place.
 */
import { Element, StanzaError, errorReply, x } from "@switchboard/xml";
import type { StanzaEvent } from "./events.js";

export type IqTarget = "host" | "bare" | "full";

export interface IqSpec {
  type: "get" | "set";
  /** the domain whose IQs this handles (default: the server's own); a component registers its own */
  domain?: string;
  xmlns: string;
  /** payload element name; '*' for any */
  name: string;
  /** where the IQ must be addressed; default ['host'] */
  targets?: IqTarget[];
}

/** Return the result payload (or nothing for an empty result); throw StanzaError to refuse. */
export type IqHandler = (ev: StanzaEvent, payload: Element) => Promise<Element | void | typeof REPLIED> | Element | void | typeof REPLIED;

/** Returned by a handler that sent its own response. */
export const REPLIED = Symbol("replied");

interface Registered {
  spec: IqSpec;
  handler: IqHandler;
}

/**
 * IQ tables per domain: the server's domain and each hosted component keep their own, so a MUC
 * room's disco#info never collides with the server's.
 */
export class IqDispatcher {
  private readonly handlers = new Map<string, Registered>();

  constructor(private readonly defaultDomain: string) {}

  private key(domain: string, type: string, xmlns: string, name: string): string {
    return `${domain} ${type} ${xmlns} ${name}`;
  }

  handle(spec: IqSpec, handler: IqHandler): () => void {
    const k = this.key(spec.domain ?? this.defaultDomain, spec.type, spec.xmlns, spec.name);
    if (this.handlers.has(k)) throw new Error(`IQ handler already registered for ${k}`);
    this.handlers.set(k, { spec, handler });
    return () => {
      if (this.handlers.get(k)?.handler === handler) this.handlers.delete(k);
    };
  }

  /** Finds the handler for a get/set IQ aimed at `target` of `domain`; undefined when none applies. */
  find(stanza: Element, target: IqTarget, domain = this.defaultDomain): { handler: IqHandler; payload: Element } | undefined {
    const type = stanza.attrs.type;
    if (type !== "get" && type !== "set") return undefined;
    const payload = stanza.children.find((c): c is Element => typeof c !== "string");
    if (!payload) return undefined;
    const xmlns = payload.attrs.xmlns ?? "";
    const entry = this.handlers.get(this.key(domain, type, xmlns, payload.name)) ?? this.handlers.get(this.key(domain, type, xmlns, "*"));
    if (!entry) return undefined;
    if (!(entry.spec.targets ?? ["host"]).includes(target)) return undefined;
    return { handler: entry.handler, payload };
  }

  /** Runs a handler and builds the response stanza (result or error). */
  async run(ev: StanzaEvent, handler: IqHandler, payload: Element): Promise<Element | undefined> {
    try {
      const out = await handler(ev, payload);
      if (out === REPLIED) return undefined;
      return iqResult(ev.stanza, out ?? undefined);
    } catch (err) {
      if (err instanceof StanzaError) {
        const reply = errorReply(ev.stanza, err.condition, err.text, err.type);
        if (err.appCondition) reply.getChild("error")?.cnode(err.appCondition);
        return reply;
      }
      throw err;
    }
  }
}

export function iqResult(request: Element, payload?: Element): Element {
  const attrs: Record<string, string> = { type: "result", id: request.attrs.id ?? "" };
  if (request.attrs.from) attrs.to = request.attrs.from;
  if (request.attrs.to) attrs.from = request.attrs.to;
  return x("iq", attrs, payload);
}

/** Tracks IQs the server sent and waits for their answer with a timeout (never blocks others). */
export class PendingIqs {
  private readonly pending = new Map<string, { resolve: (el: Element) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private seq = 0;

  nextId(): string {
    return `sb-${(++this.seq).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  }

  wait(id: string, timeoutMs: number): Promise<Element> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new IqTimeoutError(id, timeoutMs));
      }, timeoutMs);
      timer.unref?.();
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  /** Settles a waiting request with its result/error stanza; false when nobody waits for it. */
  settle(stanza: Element): boolean {
    const id = stanza.attrs.id;
    const entry = id ? this.pending.get(id) : undefined;
    if (!entry || !id) return false;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.resolve(stanza);
    return true;
  }

  get size(): number {
    return this.pending.size;
  }

  clear(): void {
    for (const [id, e] of this.pending) {
      clearTimeout(e.timer);
      e.reject(new Error(`server stopping, IQ ${id} abandoned`));
    }
    this.pending.clear();
  }
}

export class IqTimeoutError extends Error {
  override name = "IqTimeoutError";
  constructor(readonly id: string, readonly timeoutMs: number) {
    super(`no answer to IQ ${id} within ${timeoutMs} ms`);
  }
}
