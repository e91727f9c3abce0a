/**
 * TCP and direct-TLS transport (RFC 6120 §4, XEP-0368) with STARTTLS upgrade (RFC 6120 §5).
 */
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import { Element, StreamError, StreamParser, escapeXml, type ParserLimits } from "@switchboard/xml";
import { FramedTransport } from "./framed-transport.js";
import { tlsChannelBindings, type TlsChannelBindings } from "./channel-binding.js";

export class TcpTransport extends FramedTransport {
  readonly kind: "tcp" | "tls";
  readonly ip: string;
  private socket: Socket;
  private parser: StreamParser;
  private upgrading = false;

  /**
   * `clientIp`: the client's address when a PROXY protocol header named it; `defaultNamespace`:
   * the stream's content namespace (jabber:client, or jabber:server later), written in the header.
   */
  constructor(
    socket: Socket,
    private readonly limits: ParserLimits,
    clientIp?: string,
    private readonly defaultNamespace = "jabber:client",
  ) {
    super();
    this.socket = socket;
    this.kind = socket instanceof TLSSocket ? "tls" : "tcp";
    this.ip = normaliseIp(clientIp ?? socket.remoteAddress ?? "unknown");
    this.onData = (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      if (!this.upgrading) this.parser.write(chunk);
    };
    this.onClose = () => this.disconnect("connection closed");
    this.onError = (err: Error) => this.disconnect(`socket error: ${err.message}`);
    this.parser = this.makeParser();
    this.attach(socket);
    // A socket handed over paused (its PROXY header was read off it first) starts reading here,
    // before anyone (load shedding) may pause it again for its own reasons.
    if (socket.isPaused()) socket.resume();
  }

  get secure(): boolean {
    return this.socket instanceof TLSSocket;
  }

  get canStartTls(): boolean {
    return !this.secure;
  }

  /** made on first use, for the TLS socket of now (STARTTLS replaces the socket) */
  private bindings?: { socket: Socket; value: TlsChannelBindings };

  channelBindings(): TlsChannelBindings | undefined {
    if (!(this.socket instanceof TLSSocket)) return undefined;
    if (this.bindings?.socket !== this.socket) this.bindings = { socket: this.socket, value: tlsChannelBindings(this.socket) };
    return this.bindings.value;
  }

  private makeParser(): StreamParser {
    const p = new StreamParser(this.limits);
    p.on("streamStart", (attrs: Record<string, string>) => this.emit("open", attrs));
    p.on("stanza", (el: Element, bytes: number) => this.emit("element", el, bytes));
    p.on("streamEnd", () => this.emit("end"));
    p.on("error", (err: StreamError) => this.emit("error", err));
    return p;
  }

  // Assigned in the constructor rather than as arrow class fields: tsx (esbuild keepNames)
  // defines `name` on a field's function, costing ~300 bytes per closure per connection.
  private readonly onData: (chunk: Buffer) => void;
  private readonly onClose: () => void;
  private readonly onError: (err: Error) => void;

  private attach(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
  }

  private detach(socket: Socket): void {
    socket.off("data", this.onData);
    socket.off("close", this.onClose);
    socket.off("error", this.onError);
  }

  openStream(attrs: Record<string, string>): void {
    let header = `<?xml version='1.0'?><stream:stream xmlns='${this.defaultNamespace}' xmlns:stream='http://etherx.jabber.org/streams'`;
    for (const [k, v] of Object.entries(attrs)) header += ` ${k}='${escapeXml(v)}'`;
    this.writeRaw(header + ">");
  }

  /** Inside <stream:stream> stanzas inherit the stream's namespace: written as they are. */
  protected serialize(el: Element): string {
    return el.toString();
  }

  private corked = false;

  /**
   * Writes made in the same tick are corked and leave as one TLS record and one syscall: a
   * burst of stanzas (a broadcast, offline delivery, a busy chat) costs far less CPU that way.
   */
  protected writeRaw(data: string): void {
    if (this.isGone || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      const socket = this.socket;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    this.socket.write(data);
  }

  protected closingTag(): string {
    return "</stream:stream>";
  }

  protected endConnection(): void {
    this.socket.end();
  }

  protected destroyConnection(): void {
    this.socket.destroy();
  }

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  startTls(context: SecureContext): Promise<void> {
    this.upgrading = true;
    const raw = this.socket;
    this.detach(raw);
    return new Promise((resolve, reject) => {
      const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
      const fail = (err: Error) => {
        secure.off("close", closed);
        secure.destroy();
        reject(err);
      };
      // Cut mid-handshake (limits.tlsHandshakeSeconds, shutdown): the raw socket's listeners
      // are detached here, so tell the stream the connection is gone.
      const closed = () => {
        secure.off("error", fail);
        reject(new Error("connection closed during the TLS handshake"));
        this.disconnect("connection closed during the TLS handshake");
      };
      secure.once("error", fail);
      secure.once("close", closed);
      secure.once("secure", () => {
        secure.off("error", fail);
        secure.off("close", closed);
        this.socket = secure;
        this.attach(secure);
        this.parser = this.makeParser();
        this.upgrading = false;
        resolve();
      });
    });
  }

  restartStream(): void {
    this.parser.reset();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1" so per-IP limits see one key per address. */
export function normaliseIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}
