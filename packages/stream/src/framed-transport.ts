/**
 * What every transport does the same way: events, closing with a grace period (RFC 6120 §4.4:
 * send the closing tag, wait for the peer's, but not forever), the one-shot "disconnect", and
 * destroy. TCP/TLS and WebSocket supply only how bytes are framed and written.
 */
import { EventEmitter } from "node:events";
import type { SecureContext } from "node:tls";
import type { Element, StreamError } from "@switchboard/xml";
import type { Transport, TransportEvents } from "./transport.js";

/** how long a closed stream waits for the peer's own closing tag before the connection is cut */
export const CLOSE_GRACE_MS = 2000;

export abstract class FramedTransport extends EventEmitter implements Transport {
  abstract readonly kind: Transport["kind"];
  abstract readonly ip: string;
  abstract readonly secure: boolean;
  abstract readonly canStartTls: boolean;
  private closing = false;
  private gone = false;
  /** bytes read from the peer so far; the subclass adds each chunk or frame it receives */
  bytesIn = 0;

  override on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** the connection can no longer carry anything */
  protected get isGone(): boolean {
    return this.gone;
  }

  // --- what a transport supplies ---------------------------------------------------------
  /** one element as it goes on the wire (without changing the element) */
  protected abstract serialize(el: Element): string;
  protected abstract writeRaw(text: string): void;
  /** our closing tag or frame */
  protected abstract closingTag(): string;
  /** half-close: the peer may still send its closing tag */
  protected abstract endConnection(): void;
  protected abstract destroyConnection(): void;
  abstract openStream(attrs: Record<string, string>): void;
  abstract bufferedBytes(): number;
  abstract startTls(context: SecureContext): Promise<void>;
  abstract restartStream(): void;
  abstract pause(): void;
  abstract resume(): void;

  // --- shared ------------------------------------------------------------------------------
  send(el: Element): number {
    const text = this.serialize(el);
    this.writeRaw(text);
    return Buffer.byteLength(text);
  }

  closeStream(error?: StreamError): void {
    if (this.closing) return;
    this.closing = true;
    if (error) this.writeRaw(error.toElement().toString());
    this.writeRaw(this.closingTag());
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.endConnection();
  }

  destroy(): void {
    this.destroyConnection();
    this.disconnect("destroyed");
  }

  protected disconnect(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.emit("disconnect", reason);
  }
}
