/**
 * Bounded FIFO of stanzas accepted while NATS is unreachable. nats.js 2.x has no reconnect buffer
 * bound and discards its outbound buffer on every dial attempt (ProtocolHandler.prepare →
 * resetOutbound), so anything handed to it while disconnected would vanish silently. We keep the
 * stanzas here instead, bounded in bytes, and replay them in order once the client reconnects.
 */
import type { MsgHdrs } from "nats";

export interface BufferedPublish {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs;
  size: number;
}

export class ReconnectBuffer {
  private items: BufferedPublish[] = [];
  private head = 0;
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  get pendingBytes(): number {
    return this.bytes;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** false when the item would exceed the bound; nothing is stored then. */
  offer(item: BufferedPublish): boolean {
    if (this.bytes + item.size > this.maxBytes) return false;
    this.items.push(item);
    this.bytes += item.size;
    return true;
  }

  peek(): BufferedPublish | undefined {
    return this.items[this.head];
  }

  shift(): void {
    const item = this.items[this.head];
    if (!item) return;
    this.bytes -= item.size;
    this.head++;
    // Compact occasionally so a long outage does not keep a huge sparse array alive.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Empties the buffer and returns how many stanzas were dropped. */
  clear(): number {
    const dropped = this.length;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return dropped;
  }
}
