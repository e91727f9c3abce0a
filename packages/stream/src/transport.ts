/**
 * A framed transport carries one XMPP stream: TCP/TLS with a <stream:stream> envelope (RFC 6120
 * §4) or WebSocket with <open/>/<close/> frames (RFC 7395). The stream state machine sees only
 * this surface, so c2s policy is written once for both.
 */
import type { Element, StreamError } from "@switchboard/xml";
import type { SecureContext } from "node:tls";
import type { TlsChannelBindings } from "./channel-binding.js";

export interface TransportEvents {
  /** the peer opened (or reopened) the stream; attrs of <stream:stream> or <open/> */
  open(attrs: Record<string, string>): void;
  /** a top-level element and its size on the wire in bytes */
  element(el: Element, bytes: number): void;
  /** the peer closed the stream (</stream:stream> or <close/>) */
  end(): void;
  /** unrecoverable input error (not-well-formed, limits) */
  error(err: StreamError): void;
  /** the connection is gone */
  disconnect(reason: string): void;
}

export interface Transport {
  readonly kind: "tcp" | "tls" | "websocket";
  readonly ip: string;
  readonly secure: boolean;
  /** STARTTLS possible (plain TCP only) */
  readonly canStartTls: boolean;
  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): void;
  /** writes our stream header (or <open/>) with these attributes */
  openStream(attrs: Record<string, string>): void;
  /** writes one element; returns the bytes it took on the wire */
  send(el: Element): number;
  /** bytes read from the peer so far (framing and stream header included) */
  readonly bytesIn: number;
  /** sends </stream:stream> (or <close/>) and ends the connection once the peer closes or after a grace period */
  closeStream(error?: StreamError): void;
  /** bytes accepted for writing but not yet handed to the kernel */
  bufferedBytes(): number;
  /** RFC 6120 §5: upgrades to TLS; resolves when the handshake is done; the parser restarts */
  startTls(context: SecureContext): Promise<void>;
  /** the parser expects a fresh stream header (after SASL success) */
  restartStream(): void;
  /** stops / resumes reading from the peer (backpressure while stanzas are being processed) */
  pause(): void;
  resume(): void;
  /** drops the connection now */
  destroy(): void;
  /**
   * The channel bindings of the TLS this server terminated (RFC 5802 §6, channel-binding.ts);
   * undefined in the clear, or when TLS ended elsewhere (a proxy in front of WebSocket).
   */
  channelBindings?(): TlsChannelBindings | undefined;
}
