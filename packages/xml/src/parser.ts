// Streaming parser for XMPP streams (RFC 6120 §4, §11) and WebSocket frames (RFC 7395 §3.3).
//
// Turns bytes into a stream header, top-level elements ("stanzas": also stream features,
// SASL and TLS negotiation elements) and the stream end. Hostile input is expected: every
// problem becomes a StreamError carrying the condition to send and a text naming the rule;
// write() never throws.
import { EventEmitter } from "node:events";
import { Element } from "./element.js";
import { StreamError } from "./errors.js";
import { NS_STREAM } from "./ns.js";
import { XmlTokenizer, type TokenSink } from "./tokenizer.js";
import { notWellFormed } from "./xml-chars.js";

export interface ParserLimits {
  /** Largest top-level element, in bytes from its '<' to the end of its closing tag. */
  maxStanzaBytes: number;
  /** Deepest element nesting inside a stanza; the stanza element itself is depth 1. */
  maxDepth: number;
  /** Bounds the stream header (with any XML declaration) and the text between two stanzas. */
  maxHeaderBytes?: number;
}

export const DEFAULT_LIMITS: Readonly<Required<ParserLimits>> = {
  maxStanzaBytes: 262_144,
  maxDepth: 32,
  maxHeaderBytes: 4096,
};

export interface StreamParserEvents {
  streamStart: [attrs: Record<string, string>, name: string];
  stanza: [el: Element, bytes: number];
  streamEnd: [];
  error: [err: StreamError];
}

const WHITESPACE_ONLY = /^[ \t\r\n]*$/;

/**
 * Events: 'streamStart' (attrs, name), 'stanza' (el, bytes: its size from '<' to the end of its
 * closing tag), 'streamEnd', 'error' (StreamError).
 * After 'error' or 'streamEnd' further writes are ignored until reset().
 */
export class StreamParser extends EventEmitter<StreamParserEvents> {
  readonly limits: Readonly<Required<ParserLimits>>;
  /** The error that stopped the parser, if any. */
  error: StreamError | undefined;
  private readonly tokenizer: XmlTokenizer;
  /** Frame mode (RFC 7395): the document is one element, with no stream root around it. */
  private readonly frameMode: boolean;
  private stopped = false;
  private streamOpen = false;
  private rootName = "";
  private rootAttrs: Record<string, string> = {};
  /** Open elements of the current stanza, outermost first. */
  private stack: Element[] = [];
  // The region being measured: a stanza, or the header / text between stanzas.
  private regionStart = 0;
  private regionMax: number;
  private regionWhat = "stream header";

  constructor(limits?: Partial<ParserLimits>, options?: { frame?: boolean }) {
    super();
    this.limits = { ...DEFAULT_LIMITS, ...definedOnly(limits) };
    this.frameMode = options?.frame === true;
    this.regionMax = this.limits.maxHeaderBytes;
    this.tokenizer = new XmlTokenizer(this.sink());
  }

  /** Feed bytes (or already decoded text). Never throws: problems are 'error' events. */
  write(chunk: Buffer | Uint8Array | string): void {
    if (this.stopped) return;
    try {
      if (typeof chunk === "string") this.tokenizer.writeString(chunk);
      else this.tokenizer.writeBytes(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (err) {
      this.fail(
        err instanceof StreamError ? err : new StreamError("internal-server-error", "parser failure", { cause: err }),
      );
    }
  }

  /** Start over, e.g. for the stream restart after STARTTLS or SASL (RFC 6120 §4.3.3). Input
   * buffered or still unparsed in the chunk being written is dropped: bytes sent before the
   * restart must not be read as part of the new stream (the STARTTLS injection class of bugs). */
  reset(): void {
    this.tokenizer.reset();
    this.stopped = false;
    this.error = undefined;
    this.streamOpen = false;
    this.rootName = "";
    this.rootAttrs = {};
    this.stack = [];
    this.regionStart = 0;
    this.regionMax = this.limits.maxHeaderBytes;
    this.regionWhat = "stream header";
  }

  /** True when nothing is buffered and no element is open (used to check a frame is complete). */
  get idle(): boolean {
    return this.stack.length === 0 && this.tokenizer.idle();
  }

  private fail(err: StreamError): void {
    if (this.stopped) return;
    this.stopped = true;
    this.error = err;
    this.tokenizer.halt();
    // An 'error' event without a listener would throw out of write(): never let it.
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  /**
   * Built by assignment, not as an object literal: under tsx (esbuild keepNames) a function
   * named by a literal's key gets `name` defined on it, which moves it to a dictionary of its
   * own, ~300 bytes per closure and so per connection (measured in an idle heap snapshot).
   */
  private sink(): TokenSink {
    const sink = {} as TokenSink;
    sink.startTag = (name, attrs, selfClosing, startByte, endByte) => this.onStartTag(name, attrs, selfClosing, startByte, endByte);
    sink.endTag = (name, _startByte, endByte) => this.onEndTag(name, endByte);
    sink.text = (text) => this.onText(text);
    sink.chunkEnd = (received, openTagStart) => this.onChunkEnd(received, openTagStart);
    return sink;
  }

  private onStartTag(name: string, attrs: Record<string, string>, selfClosing: boolean, startByte: number, endByte: number): void {
    if (!this.streamOpen && !this.frameMode) return this.openStream(name, attrs, selfClosing, endByte);
    const parent = this.stack[this.stack.length - 1];
    if (this.stack.length >= this.limits.maxDepth) {
      throw policyViolation(`element nesting exceeds depth ${this.limits.maxDepth}`);
    }
    const el = new Element(name);
    el.attrs = attrs;
    if (parent === undefined) {
      if (this.frameMode && this.streamOpen) throw notWellFormed("more than one element in a frame");
      this.checkRegion(startByte);
      this.startRegion(startByte, this.limits.maxStanzaBytes, "stanza");
      if (this.frameMode) this.streamOpen = true;
    } else {
      parent.cnode(el);
    }
    if (name.includes(":")) this.resolvePrefix(el);
    if (selfClosing) this.closed(el, endByte);
    else this.stack.push(el);
  }

  private openStream(name: string, attrs: Record<string, string>, selfClosing: boolean, endByte: number): void {
    const colon = name.indexOf(":");
    if (name.slice(colon + 1) !== "stream") throw notWellFormed(`expected a stream header, got <${name}>`);
    // RFC 6120 §4.8.1: the stream element must be qualified by the streams namespace.
    const ns = colon === -1 ? attrs.xmlns : attrs[`xmlns:${name.slice(0, colon)}`];
    if (ns !== NS_STREAM) throw new StreamError("invalid-namespace", `stream element is not in namespace ${NS_STREAM}`);
    this.checkRegion(endByte);
    this.streamOpen = true;
    this.rootName = name;
    this.rootAttrs = attrs;
    this.startRegion(endByte, this.limits.maxHeaderBytes, "text between stanzas");
    this.emit("streamStart", attrs, name);
    if (selfClosing && !this.stopped) this.endStream();
  }

  private onEndTag(name: string, endByte: number): void {
    const el = this.stack.pop();
    if (el === undefined) {
      if (this.streamOpen && !this.frameMode && name === this.rootName) return this.endStream();
      throw notWellFormed(`unexpected end tag </${name}>`);
    }
    if (el.name !== name) throw notWellFormed(`mismatched end tag </${name}>, expected </${el.name}>`);
    this.closed(el, endByte);
  }

  private closed(el: Element, endByte: number): void {
    if (this.stack.length !== 0) return;
    this.checkRegion(endByte);
    // the stanza's region began at its '<' (onStartTag): its size on the wire
    const size = endByte - this.regionStart;
    this.startRegion(endByte, this.limits.maxHeaderBytes, "text between stanzas");
    this.emit("stanza", el, size);
  }

  private endStream(): void {
    this.streamOpen = false;
    this.stopped = true;
    this.tokenizer.halt();
    this.emit("streamEnd");
  }

  private onText(text: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top !== undefined) {
      const children = top.children;
      const last = children.length - 1;
      // Text arrives in pieces when it spans chunks; keep one string child per run of text.
      if (last >= 0 && typeof children[last] === "string") children[last] += text;
      else children.push(text);
      return;
    }
    // Between stanzas anything is ignored (whitespace keepalives, RFC 6120 §4.6.1) but
    // bounded by the header limit; outside the root element only whitespace is XML.
    if ((!this.streamOpen || this.frameMode) && !WHITESPACE_ONLY.test(text)) {
      throw notWellFormed(this.frameMode ? "text outside the frame element" : "text before the stream header");
    }
  }

  private onChunkEnd(received: number, openTagStart: number): void {
    if (openTagStart >= 0 && this.stack.length === 0 && (this.streamOpen || this.frameMode)) {
      // An unfinished top-level tag: the text before it, and the tag so far as a stanza.
      this.checkRegion(openTagStart);
      if (received - openTagStart > this.limits.maxStanzaBytes) throw stanzaTooLarge(this.limits.maxStanzaBytes);
      return;
    }
    this.checkRegion(received);
  }

  private startRegion(start: number, max: number, what: string): void {
    this.regionStart = start;
    this.regionMax = max;
    this.regionWhat = what;
  }

  private checkRegion(upTo: number): void {
    if (upTo - this.regionStart <= this.regionMax) return;
    if (this.regionWhat === "stanza") throw stanzaTooLarge(this.regionMax);
    throw policyViolation(`${this.regionWhat} exceeds ${this.regionMax} bytes`);
  }

  /**
   * A prefixed element name must have its prefix declared (Namespaces in XML §5). A top-level
   * element using a prefix declared on the stream root (`stream:features`) gets the declaration
   * copied onto itself, since emitted stanzas are detached from the root.
   */
  private resolvePrefix(el: Element): void {
    const prefix = el.name.slice(0, el.name.indexOf(":"));
    if (prefix === "xml" || el.findNS(prefix) !== undefined) return;
    const fromRoot = this.rootAttrs[`xmlns:${prefix}`];
    if (fromRoot === undefined) throw new StreamError("bad-namespace-prefix", `undeclared namespace prefix ${prefix}`);
    el.attrs[`xmlns:${prefix}`] = fromRoot;
  }
}

/**
 * Parse one complete element, e.g. a WebSocket frame (RFC 7395 §3.3: one element per frame).
 * Throws StreamError under the same rules as StreamParser.
 */
export function parseFrame(text: string, limits?: Partial<ParserLimits>): Element {
  const parser = new StreamParser(limits, { frame: true });
  const max = parser.limits.maxStanzaBytes;
  // A UTF-16 unit is at least one UTF-8 byte and at most three.
  if (text.length > max || (text.length * 3 > max && Buffer.byteLength(text, "utf8") > max)) {
    throw stanzaTooLarge(max);
  }
  let result: Element | undefined;
  parser.on("stanza", (el) => {
    result = el;
  });
  parser.write(text);
  if (parser.error !== undefined) throw parser.error;
  if (result === undefined || !parser.idle) throw notWellFormed("incomplete element in frame");
  return result;
}

function policyViolation(text: string): StreamError {
  return new StreamError("policy-violation", text);
}

function stanzaTooLarge(max: number): StreamError {
  return policyViolation(`stanza exceeds ${max} bytes`);
}

function definedOnly(limits: Partial<ParserLimits> | undefined): Partial<ParserLimits> {
  const out: Partial<ParserLimits> = {};
  if (limits?.maxStanzaBytes !== undefined) out.maxStanzaBytes = limits.maxStanzaBytes;
  if (limits?.maxDepth !== undefined) out.maxDepth = limits.maxDepth;
  if (limits?.maxHeaderBytes !== undefined) out.maxHeaderBytes = limits.maxHeaderBytes;
  return out;
}
