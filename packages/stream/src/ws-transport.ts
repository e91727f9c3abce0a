/**
 * WebSocket transport (RFC 7395): every frame is one complete element; the stream is opened and
 * closed with <open/> and <close/> in the framing namespace instead of <stream:stream>.
 */
import { EventEmitter } from "node:events";
import type { SecureContext } from "node:tls";
import type { WebSocket } from "ws";
import { Element, NS_FRAMING, StreamError, parseFrame, x, type ParserLimits } from "@switchboard/xml";
import type { Transport, TransportEvents } from "./transport.js";
import { normaliseIp } from "./tcp-transport.js";

const CLOSE_GRACE_MS = 2000;

export class WebSocketTransport extends EventEmitter implements Transport {
  readonly kind = "websocket" as const;
  readonly canStartTls = false;
  private closing = false;
  private gone = false;

  constructor(
    private readonly ws: WebSocket,
    readonly ip: string,
    readonly secure: boolean,
    private readonly limits: ParserLimits,
  ) {
    super();
    this.ip = normaliseIp(ip);
    ws.on("message", (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on("close", () => this.disconnect("websocket closed"));
    ws.on("error", (err) => this.disconnect(`websocket error: ${err.message}`));
  }

  override on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.gone) return;
    if (isBinary) {
      this.emit("error", new StreamError("unsupported-encoding", "binary WebSocket frames are not allowed (RFC 7395 §3.2)"));
      return;
    }
    if (data.length > this.limits.maxStanzaBytes) {
      this.emit("error", new StreamError("policy-violation", `stanza exceeds ${this.limits.maxStanzaBytes} bytes`));
      return;
    }
    const text = data.toString("utf8");
    if (text.trim() === "") return; // keepalive
    let el: Element;
    try {
      el = parseFrame(text, this.limits);
    } catch (err) {
      this.emit("error", err instanceof StreamError ? err : new StreamError("not-well-formed", String(err)));
      return;
    }
    if (el.attrs.xmlns === NS_FRAMING && el.name === "open") this.emit("open", el.attrs);
    else if (el.attrs.xmlns === NS_FRAMING && el.name === "close") this.emit("end");
    else this.emit("element", el);
  }

  private disconnect(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    this.emit("disconnect", reason);
  }

  openStream(attrs: Record<string, string>): void {
    this.sendRaw(x("open", { xmlns: NS_FRAMING, ...attrs }).toString());
  }

  send(el: Element): void {
    // RFC 7395 §3.3.3: each stanza carries its namespace since there is no stream root.
    if (!el.attrs.xmlns && (el.name === "message" || el.name === "presence" || el.name === "iq")) el.attrs.xmlns = "jabber:client";
    this.sendRaw(el.toString());
  }

  private sendRaw(text: string): void {
    if (this.gone || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(text);
  }

  closeStream(error?: StreamError): void {
    if (this.closing) return;
    this.closing = true;
    if (error) this.sendRaw(error.toElement().toString());
    this.sendRaw(x("close", { xmlns: NS_FRAMING }).toString());
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.ws.close(1000);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  startTls(_context: SecureContext): Promise<void> {
    return Promise.reject(new Error("STARTTLS is not available over WebSocket"));
  }

  restartStream(): void {
    // RFC 7395 §3.5: the client sends a new <open/>; nothing to reset in frame parsing.
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  destroy(): void {
    this.ws.terminate();
    this.disconnect("destroyed");
  }
}
