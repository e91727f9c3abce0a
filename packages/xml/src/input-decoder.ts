// Turns stream input (bytes or already decoded text) into complete, validated UTF-16 text.
// A character split across two writes waits for its remaining bytes or code unit.
import { isUtf8 } from "node:buffer";
import { StreamError } from "./errors.js";
import { isWellFormedUtf16, notWellFormed } from "./xml-chars.js";

export class InputDecoder {
  private pendingBytes: Buffer | null = null;
  private pendingHighSurrogate = "";
  /** UTF-8 length of the text returned by the last decode. */
  byteLength = 0;

  reset(): void {
    this.pendingBytes = null;
    this.pendingHighSurrogate = "";
  }

  /** True when no partial character is held back. */
  idle(): boolean {
    return this.pendingBytes === null && this.pendingHighSurrogate === "";
  }

  decodeBytes(chunk: Buffer): string {
    let bytes = chunk;
    if (this.pendingBytes !== null) {
      bytes = Buffer.concat([this.pendingBytes, chunk]);
      this.pendingBytes = null;
    }
    const complete = completeUtf8Length(bytes);
    if (complete < bytes.length) {
      this.pendingBytes = Buffer.from(bytes.subarray(complete)); // copy: the caller may reuse chunk
      bytes = bytes.subarray(0, complete);
    }
    // RFC 6120 §11.6 and §4.9.3.22: improperly encoded UTF-8 is 'unsupported-encoding'.
    if (!isUtf8(bytes)) throw new StreamError("unsupported-encoding", "stream is not valid UTF-8");
    this.byteLength = bytes.length;
    return bytes.toString("utf8");
  }

  decodeString(chunk: string): string {
    let str = this.pendingHighSurrogate + chunk;
    this.pendingHighSurrogate = "";
    const last = str.charCodeAt(str.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.pendingHighSurrogate = str.slice(-1);
      str = str.slice(0, -1);
    }
    if (!isWellFormedUtf16(str)) throw notWellFormed("unpaired surrogate in input");
    this.byteLength = Buffer.byteLength(str, "utf8");
    return str;
  }
}

/** Length of the prefix of `bytes` that does not end inside a multi-byte UTF-8 sequence. */
function completeUtf8Length(bytes: Buffer): number {
  const len = bytes.length;
  for (let i = len - 1; i >= 0 && i >= len - 3; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back for the lead
    if (b < 0xc0) return len; // ASCII
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return len - i < need ? i : len;
  }
  return len;
}
