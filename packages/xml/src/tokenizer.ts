// Incremental XML tokenizer for XMPP streams (RFC 6120 §11: a restricted XML 1.0 subset).
//
// Written for hostile input and for the hot path:
// - work is per token, not per character: indexOf and sticky regexes find delimiters natively;
// - nothing is re-scanned: text and CDATA are handed on as they arrive, and a tag split across
//   chunks is kept as pieces and only the new chunk is searched for its end, so a peer that
//   trickles bytes cannot make parsing quadratic;
// - DTDs, comments, processing instructions and undeclared entities are refused outright
//   (RFC 6120 §11.1), which also rules out billion-laughs and external-entity attacks;
// - byte offsets (for the size limits) are derived per token from UTF-8 lengths, with a
//   shortcut for pure-ASCII chunks.
// The tokenizer checks well-formedness of each token; nesting and limits are the sink's job.
import { StreamError } from "./errors.js";
import { InputDecoder } from "./input-decoder.js";
import {
  MAX_REFERENCE_LENGTH,
  NAME,
  WS,
  checkTextChars,
  decodeAttributeValue,
  decodeReferences,
  notWellFormed,
  restrictedXml,
} from "./xml-chars.js";

export interface TokenSink {
  startTag(name: string, attrs: Record<string, string>, selfClosing: boolean, startByte: number, endByte: number): void;
  endTag(name: string, startByte: number, endByte: number): void;
  text(text: string): void;
  /** After each write: bytes received since reset, and where an unfinished tag began (-1: none). */
  chunkEnd(receivedBytes: number, openTagStartByte: number): void;
}

const TEXT = 0;
const TAG = 1;
const CDATA = 2;

const START_TAG = new RegExp(`<(${NAME})`, "y");
const ATTRIBUTE = new RegExp(`${WS}+(${NAME})${WS}*=${WS}*(?:"([^<"]*)"|'([^<']*)')`, "y");
const START_TAG_CLOSE = new RegExp(`${WS}*(/?)>`, "y");
const END_TAG = new RegExp(`</(${NAME})${WS}*>`, "y");
const TAG_DELIMITER = /[<>"']/g;
const XML_DECLARATION = new RegExp(
  `^<\\?xml${WS}+version${WS}*=${WS}*(["'])1\\.[0-9]+\\1` +
    `(?:${WS}+encoding${WS}*=${WS}*(["'])([A-Za-z][A-Za-z0-9._-]*)\\2)?` +
    `(?:${WS}+standalone${WS}*=${WS}*(["'])(?:yes|no)\\4)?${WS}*\\?>$`,
);

export class XmlTokenizer {
  private state = TEXT;
  /** Unconsumed tail of the previous chunk (a partial reference, '<…' or CDATA end); short. */
  private carry = "";
  private carryBytes = 0;
  /** A tag split across chunks, and the quote it is inside of (0, '"' or "'"). */
  private pieces: string[] = [];
  private quote = 0;
  private openTagStart = -1;
  private readonly input = new InputDecoder();
  private atDocumentStart = true;
  /** Bumped by reset()/halt(): a run notices and abandons the rest of its chunk. */
  private generation = 0;
  // Byte accounting for the string being run: bytes before s[0], and a cursor for non-ASCII.
  private base = 0;
  private ascii = true;
  private cursorPos = 0;
  private cursorBytes = 0;
  // Result of parseStartTag.
  private tagName = "";
  private tagAttrs: Record<string, string> = {};
  private tagSelfClosing = false;

  constructor(private readonly sink: TokenSink) {}

  /** Forget everything, including buffered input; byte offsets restart at 0. */
  reset(): void {
    this.generation++;
    this.state = TEXT;
    this.carry = "";
    this.carryBytes = 0;
    this.pieces = [];
    this.quote = 0;
    this.openTagStart = -1;
    this.input.reset();
    this.atDocumentStart = true;
    this.base = 0;
  }

  /** Stop processing the chunk being written (after an error or the end of the stream). */
  halt(): void {
    this.generation++;
  }

  /** True when no partial token is buffered. */
  idle(): boolean {
    return this.state === TEXT && this.carry === "" && this.input.idle();
  }

  writeBytes(chunk: Buffer): void {
    const text = this.input.decodeBytes(chunk);
    this.run(text, this.input.byteLength);
  }

  writeString(chunk: string): void {
    const text = this.input.decodeString(chunk);
    this.run(text, this.input.byteLength);
  }

  private run(chunk: string, chunkBytes: number): void {
    const generation = this.generation;
    const s = this.carry === "" ? chunk : this.carry + chunk;
    const sBytes = chunkBytes + this.carryBytes;
    this.carry = "";
    this.ascii = sBytes === s.length;
    this.cursorPos = 0;
    this.cursorBytes = 0;
    let pos = this.atDocumentStart && this.state === TEXT && s.charCodeAt(0) === 0xfeff ? 1 : 0; // byte order mark
    while (pos < s.length) {
      if (this.state === TEXT) pos = this.text(s, pos);
      else if (this.state === TAG) pos = this.continueTag(s, pos);
      else pos = this.cdata(s, pos);
      if (this.generation !== generation) return;
    }
    this.carryBytes = this.carry === "" ? 0 : this.ascii ? this.carry.length : Buffer.byteLength(this.carry, "utf8");
    const received = this.base + sBytes;
    this.base = received - this.carryBytes;
    this.sink.chunkEnd(received, this.state === TAG ? this.openTagStart : -1);
  }

  private absByte(s: string, pos: number): number {
    if (this.ascii) return this.base + pos;
    if (pos < this.cursorPos) {
      this.cursorPos = 0;
      this.cursorBytes = 0;
    }
    this.cursorBytes += Buffer.byteLength(s.slice(this.cursorPos, pos), "utf8");
    this.cursorPos = pos;
    return this.base + this.cursorBytes;
  }

  private text(s: string, pos: number): number {
    const lt = s.indexOf("<", pos);
    if (lt === pos) return this.markup(s, lt);
    if (lt !== -1) {
      this.emitText(s.slice(pos, lt));
      return lt;
    }
    // No markup in sight: pass the text on, keeping back a reference cut by the chunk end.
    let stop = s.length;
    const amp = s.lastIndexOf("&");
    if (amp >= pos && s.indexOf(";", amp) === -1) {
      if (s.length - amp > MAX_REFERENCE_LENGTH) throw notWellFormed("'&' not starting a reference");
      stop = amp;
    }
    this.carry = s.slice(stop);
    if (stop > pos) this.emitText(s.slice(pos, stop));
    return s.length;
  }

  private emitText(raw: string): void {
    checkTextChars(raw);
    this.atDocumentStart = false;
    this.sink.text(decodeReferences(raw));
  }

  private markup(s: string, lt: number): number {
    const next = s.charCodeAt(lt + 1);
    if (next !== next /* NaN: '<' ends the chunk */) {
      this.carry = s.slice(lt);
      return s.length;
    }
    if (next === 47 /* / */) return this.endTag(s, lt);
    if (next === 33 /* ! */) return this.bang(s, lt);
    if (next === 63 /* ? */) return this.declaration(s, lt);
    const end = this.parseStartTag(s, lt);
    if (end === -1) return this.unfinishedTag(s, lt);
    this.atDocumentStart = false;
    this.sink.startTag(this.tagName, this.tagAttrs, this.tagSelfClosing, this.absByte(s, lt), this.absByte(s, end));
    return end;
  }

  /** `<!`: only CDATA sections are allowed; comments and DTD declarations are refused. */
  private bang(s: string, lt: number): number {
    const head = s.slice(lt + 2, lt + 9);
    if (head === "[CDATA[") {
      this.atDocumentStart = false;
      this.state = CDATA;
      return lt + 9;
    }
    if (head.length < 7 && "[CDATA[".startsWith(head)) {
      this.carry = s.slice(lt);
      return s.length;
    }
    if (head.startsWith("-")) throw restrictedXml("XML comments are not allowed");
    const keyword = /^[A-Z]+/.exec(head);
    if (keyword) throw restrictedXml(`<!${keyword[0]}> (DTDs and entity declarations) is not allowed`);
    throw notWellFormed("malformed markup after '<!'");
  }

  /** `<?`: only the XML declaration at the very start of the stream (RFC 6120 §11.1, §11.5). */
  private declaration(s: string, lt: number): number {
    if (!this.atDocumentStart) throw restrictedXml("processing instructions are not allowed");
    const end = s.indexOf("?>", lt + 2);
    if (end === -1) {
      this.carry = s.slice(lt); // bounded by the header limit, which counts buffered bytes
      return s.length;
    }
    const declaration = s.slice(lt, end + 2);
    const match = XML_DECLARATION.exec(declaration);
    if (match === null) {
      if (/^<\?xml[\s?]/.test(declaration)) throw notWellFormed("malformed XML declaration");
      throw restrictedXml("processing instructions are not allowed");
    }
    const encoding = match[3];
    if (encoding !== undefined && encoding.toLowerCase() !== "utf-8") {
      throw new StreamError("unsupported-encoding", `encoding ${encoding} is not UTF-8 (RFC 6120 §11.6)`);
    }
    this.atDocumentStart = false;
    return end + 2;
  }

  private endTag(s: string, lt: number): number {
    END_TAG.lastIndex = lt;
    const match = END_TAG.exec(s);
    if (match === null) return this.unfinishedTag(s, lt);
    const end = END_TAG.lastIndex;
    this.atDocumentStart = false;
    this.sink.endTag(match[1]!, this.absByte(s, lt), this.absByte(s, end));
    return end;
  }

  /** Parse `<name attr='v'…>` at `lt` into tagName/tagAttrs; the index after '>' or -1. */
  private parseStartTag(s: string, lt: number): number {
    START_TAG.lastIndex = lt;
    const name = START_TAG.exec(s);
    if (name === null) return -1;
    const attrs: Record<string, string> = {};
    let i = START_TAG.lastIndex;
    for (;;) {
      ATTRIBUTE.lastIndex = i;
      const attr = ATTRIBUTE.exec(s);
      if (attr === null) break;
      const attrName = attr[1]!;
      // hasOwn, not `in`: names such as "constructor" exist on every object's prototype.
      if (Object.hasOwn(attrs, attrName)) throw notWellFormed(`duplicate attribute ${attrName}`);
      attrs[attrName] = decodeAttributeValue(attr[2] ?? attr[3]!);
      i = ATTRIBUTE.lastIndex;
    }
    START_TAG_CLOSE.lastIndex = i;
    const close = START_TAG_CLOSE.exec(s);
    if (close === null) return -1;
    this.tagName = name[1]!;
    this.tagAttrs = attrs;
    this.tagSelfClosing = close[1] === "/";
    return START_TAG_CLOSE.lastIndex;
  }

  /** A tag that did not parse: malformed if its '>' is here, else it continues in later chunks. */
  private unfinishedTag(s: string, lt: number): number {
    this.quote = 0;
    const gt = this.scanTagEnd(s, lt + 1);
    if (gt !== -1) throw notWellFormed(`malformed tag ${excerpt(s.slice(lt, gt + 1))}`);
    this.openTagStart = this.absByte(s, lt);
    this.pieces.push(s.slice(lt));
    this.state = TAG;
    return s.length;
  }

  private continueTag(s: string, pos: number): number {
    const gt = this.scanTagEnd(s, pos);
    if (gt === -1) {
      this.pieces.push(pos === 0 ? s : s.slice(pos));
      return s.length;
    }
    const tag = this.pieces.join("") + s.slice(pos, gt + 1);
    const startByte = this.openTagStart;
    const endByte = this.absByte(s, gt + 1);
    this.pieces = [];
    this.openTagStart = -1;
    this.state = TEXT;
    this.atDocumentStart = false;
    if (tag.charCodeAt(1) === 47 /* / */) {
      END_TAG.lastIndex = 0;
      const match = END_TAG.exec(tag);
      if (match === null || END_TAG.lastIndex !== tag.length) throw notWellFormed(`malformed tag ${excerpt(tag)}`);
      this.sink.endTag(match[1]!, startByte, endByte);
    } else {
      if (this.parseStartTag(tag, 0) !== tag.length) throw notWellFormed(`malformed tag ${excerpt(tag)}`);
      this.sink.startTag(this.tagName, this.tagAttrs, this.tagSelfClosing, startByte, endByte);
    }
    return gt + 1;
  }

  /** Index of the '>' closing the current tag, honouring quotes (state kept across chunks). */
  private scanTagEnd(s: string, from: number): number {
    let i = from;
    for (;;) {
      if (this.quote !== 0) {
        const q = s.indexOf(this.quote === 34 ? '"' : "'", i);
        if (q === -1) return -1;
        this.quote = 0;
        i = q + 1;
        continue;
      }
      TAG_DELIMITER.lastIndex = i;
      const match = TAG_DELIMITER.exec(s);
      if (match === null) return -1;
      const c = s.charCodeAt(match.index);
      if (c === 62 /* > */) return match.index;
      if (c === 60 /* < */) throw notWellFormed("'<' inside a tag");
      this.quote = c;
      i = match.index + 1;
    }
  }

  private cdata(s: string, pos: number): number {
    const end = s.indexOf("]]>", pos);
    if (end !== -1) {
      this.state = TEXT;
      if (end > pos) this.emitCdata(s.slice(pos, end));
      return end + 3;
    }
    // Keep back a ']' or ']]' that may begin the terminator in the next chunk.
    const keep = s.endsWith("]]") ? 2 : s.endsWith("]") ? 1 : 0;
    const stop = Math.max(pos, s.length - keep);
    this.carry = s.slice(stop);
    if (stop > pos) this.emitCdata(s.slice(pos, stop));
    return s.length;
  }

  private emitCdata(raw: string): void {
    checkTextChars(raw);
    this.sink.text(raw);
  }
}

function excerpt(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}
