/**
 * WebSocket transport (RFC 7395): every frame is one complete element; the stream is opened and
 * closed with <open/> and <close/> in the framing namespace instead of <stream:stream>.
 */
import type { SecureContext, TLSSocket } from "node:tls";
import type { WebSocket } from "ws";
import { Element, NS_FRAMING, StreamError, parseFrame, x, type ParserLimits } from "@switchboard/xml";
import { FramedTransport } from "./framed-transport.js";
import { normaliseIp } from "./tcp-transport.js";
import { tlsChannelBindings, type TlsChannelBindings } from "./channel-binding.js";

export class WebSocketTransport extends FramedTransport {
  readonly kind = "websocket" as const;
  readonly canStartTls = false;
  readonly ip: string;

  constructor(
    private readonly ws: WebSocket,
    ip: string,
    readonly secure: boolean,
    private readonly limits: ParserLimits,
    private readonly defaultNamespace = "jabber:client",
    /** the TLS socket under the WebSocket when this server terminated TLS (wss), for channel binding */
    private readonly tlsSocket?: TLSSocket,
  ) {
    super();
    this.ip = normaliseIp(ip);
    ws.on("message", (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on("close", () => this.disconnect("websocket closed"));
    ws.on("error", (err) => this.disconnect(`websocket error: ${err.message}`));
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.isGone) return;
    this.bytesIn += data.length;
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
    else this.emit("element", el, data.length);
  }

  private bindings?: TlsChannelBindings;

  channelBindings(): TlsChannelBindings | undefined {
    if (!this.tlsSocket) return undefined;
    return (this.bindings ??= tlsChannelBindings(this.tlsSocket));
  }

  openStream(attrs: Record<string, string>): void {
    this.writeRaw(x("open", { xmlns: NS_FRAMING, ...attrs }).toString());
  }

  /**
   * RFC 7395 §3.3.3: each stanza carries its namespace since there is no stream root. Added to
   * the text, not to the element: the same element may be on its way to other streams too.
   */
  protected serialize(el: Element): string {
    const text = el.toString();
    if (el.attrs.xmlns || (el.name !== "message" && el.name !== "presence" && el.name !== "iq")) return text;
    return `<${el.name} xmlns='${this.defaultNamespace}'${text.slice(el.name.length + 1)}`;
  }

  protected writeRaw(text: string): void {
    if (this.isGone || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(text);
  }

  protected closingTag(): string {
    return x("close", { xmlns: NS_FRAMING }).toString();
  }

  protected endConnection(): void {
    this.ws.close(1000);
  }

  protected destroyConnection(): void {
    this.ws.terminate();
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
}
