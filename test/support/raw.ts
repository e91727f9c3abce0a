/**
 * A raw XMPP connection for hostile-input tests: speaks just enough (STARTTLS, SASL PLAIN, bind)
 * to reach any stream state, then lets a test write arbitrary bytes and read what comes back.
 */
import net from "node:net";
import tls from "node:tls";

export class RawConnection {
  private socket: net.Socket;
  buffer = "";
  closed = false;
  private listeners: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /**
   * `localAddress`: source address in 127.0.0.0/8 (per-IP limits); `preamble`: bytes written
   * before anything else (a PROXY protocol header); `tls`: direct TLS (XEP-0368) after the preamble.
   */
  static async open(port: number, opts: { localAddress?: string; preamble?: Buffer | string; tls?: boolean; tlsOptions?: tls.ConnectionOptions } = {}): Promise<RawConnection> {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    if (opts.preamble !== undefined) socket.write(opts.preamble);
    if (!opts.tls) return new RawConnection(socket);
    const secure = tls.connect({ socket, servername: "localhost", rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"], ...opts.tlsOptions });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    return new RawConnection(secure);
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.buffer += d;
      this.notify();
    });
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** the TLS socket once TLS is up (channel binding tests compute their end of it) */
  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** reads again after pause() */
  resume(): void {
    this.socket.resume();
  }

  /** writes everything, waiting for the socket to take each chunk (a bounded sender) */
  async writeAll(chunks: Iterable<string>): Promise<void> {
    for (const chunk of chunks) {
      if (!this.socket.write(chunk)) await new Promise<void>((resolve) => this.socket.once("drain", resolve));
    }
  }

  /** waits until the received text matches (and returns it), or the timeout */
  async waitFor(re: RegExp, timeoutMs = 5000): Promise<string> {
    if (re.test(this.buffer)) return this.buffer;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(this.buffer)) done(() => resolve(this.buffer));
        else if (this.closed) done(() => reject(new Error(`connection closed before ${re}; got: ${this.buffer.slice(-500)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${re}; got: ${this.buffer.slice(-500)}`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== check);
        f();
      };
      this.listeners.push(check);
    });
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connection still open")), timeoutMs);
      const check = () => {
        if (this.closed) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.listeners.push(check);
    });
  }

  /** `server`: a jabber:server header from that domain, with the dialback prefix (XEP-0220) */
  open(domain = "localhost", server?: { from: string }): void {
    const ns = server ? `xmlns='jabber:server' xmlns:db='jabber:server:dialback' from='${server.from}'` : "xmlns='jabber:client'";
    this.write(`<?xml version='1.0'?><stream:stream to='${domain}' ${ns} xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
  }

  async startTls(domain = "localhost", server?: { from: string }): Promise<void> {
    this.open(domain, server);
    await this.waitFor(/<\/stream:features>/);
    this.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.waitFor(/<proceed/);
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    const secure = tls.connect({ socket: raw, servername: domain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    this.socket = secure;
    this.buffer = "";
    this.attach(secure);
  }

  /** STARTTLS (unless already on TLS), PLAIN, bind: leaves a bound stream with an empty buffer */
  async login(local: string, password: string, resource = "raw", domain = "localhost"): Promise<void> {
    await this.authenticate(local, password, domain);
    this.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await this.waitFor(/<\/iq>/);
    this.buffer = "";
  }

  /**
   * STARTTLS (unless already on TLS), PLAIN and the stream restart: leaves an authenticated
   * stream before bind, the restarted stream's features in the buffer.
   */
  async authenticate(local: string, password: string, domain = "localhost"): Promise<void> {
    if (this.socket instanceof tls.TLSSocket) {
      this.buffer = "";
    } else {
      await this.startTls(domain);
    }
    this.open(domain);
    await this.waitFor(/<\/stream:features>/);
    const creds = Buffer.from(`\0${local}\0${password}`).toString("base64");
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`);
    await this.waitFor(/<success|<failure/);
    if (!/<success/.test(this.buffer)) throw new Error(`login failed: ${this.buffer}`);
    this.buffer = "";
    this.open(domain);
    await this.waitFor(/<\/stream:features>/);
  }

  /** login(), reported as "success" or the SASL failure condition (e.g. "not-authorized") */
  async loginOutcome(local: string, password: string): Promise<string> {
    try {
      await this.login(local, password);
      return "success";
    } catch (err) {
      const message = (err as Error).message;
      return /<failure[^>]*><([a-z-]+)/.exec(message)?.[1] ?? message;
    }
  }

  /** stops reading: the kernel buffers fill and the server's writes back up */
  pause(): void {
    this.socket.pause();
  }

  close(): void {
    this.socket.destroy();
  }
}
