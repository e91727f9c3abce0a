/**
 * A lean XMPP client for load generation: TCP (optionally from a chosen loopback source address),
 * STARTTLS (RFC 6120 §5), SASL SCRAM-SHA-1 or PLAIN (§6), resource binding (§7), the legacy
 * session request when it is not optional (RFC 3921 §3, draft-cridland-xmpp-session), initial
 * presence (RFC 6121 §4.2), and optionally XEP-0198 stream management: <enable/> (with
 * resumption), acks both ways (it answers <r/> and asks for an ack every ACK_EVERY stanzas it
 * sends, as mobile clients do), or <resume/> of an earlier session instead of binding. Per
 * connection it holds only a socket, a StreamParser and a few fields, so one Node process can
 * hold thousands. Stanzas are written as strings.
 */
import net from "node:net";
import tls from "node:tls";
import { NS_BIND, NS_SASL, NS_SESSION, NS_STREAM, NS_STREAMS, NS_TLS, StreamParser, escapeXml, escapeXmlText, type Element } from "@switchboard/xml";

const NS_SM = "urn:xmpp:sm:3";
/** a stream-managed client asks for an ack after this many stanzas of its own */
const ACK_EVERY = 5;
const STANZAS = new Set(["message", "presence", "iq"]);
/** elements kept while the handshake waits for something else (a resumption's resent stanzas) */
const INBOX_MAX = 2048;
import { LoadClientError, type FailureKind } from "./errors.js";
import { ScramClientError, scramSha1Client } from "./scram.js";

export interface LoadClientOptions {
  host: string;
  port: number;
  domain: string;
  /** SASL authcid: the local part of the account */
  username: string;
  password: string;
  resource?: string;
  /** STARTTLS (default true); false only for servers configured without TLS */
  tls?: boolean;
  /** source address of the TCP connection, e.g. 127.0.0.7 */
  localAddress?: string;
  /** whole handshake, connect to bound; default 30 s */
  timeoutMs?: number;
  /** send initial presence once bound (default true; not after a resumption) */
  presence?: boolean;
  /** XEP-0198 after bind: "resume" enables it with resumption, "ack" without (default: off) */
  streamManagement?: "resume" | "ack";
  /** resume this earlier session instead of binding (XEP-0198 §5); `h`: stanzas handled from it */
  resume?: { previd: string; h: number; jid: string };
  /** the server acknowledged our stanzas up to `h` (total since the session began, unbounded) */
  onAck?: (h: number, client: LoadClient) => void;
  signal?: AbortSignal;
  /** every top-level element received once online */
  onStanza?: (el: Element, client: LoadClient) => void;
  /** the connection failed after it was online (not called for our own close()) */
  onClose?: (err: LoadClientError, client: LoadClient) => void;
}

type Phase = "connect" | "tls" | "auth" | "bind" | "online" | "closing" | "closed";

export class LoadClient {
  /** full JID assigned by the server */
  jid = "";
  /** XEP-0198 state once enabled or resumed: the resumption id, and the counters (unbounded) */
  sm: { id?: string; inbound: number; outbound: number; acked: number; resumedH?: number } | undefined;
  private phase: Phase = "connect";
  private socket: net.Socket;
  private readonly parser = new StreamParser();
  private waiter: { resolve(el: Element): void; reject(err: LoadClientError): void } | undefined;
  private inbox: Element[] = [];
  /** stanzas that came before stream management was enabled (not counted in its 'h') */
  private uncounted: Element[] = [];
  private failure: LoadClientError | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  private constructor(private readonly opts: LoadClientOptions) {
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.parser.on("stanza", (el) => this.onElement(el));
    this.parser.on("streamEnd", () => this.fail(new LoadClientError("closed", "server closed the stream")));
    this.parser.on("error", (err) => this.fail(new LoadClientError("closed", `unparsable input: ${err.message}`, { cause: err })));
    this.socket = net.connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
    this.socket.setNoDelay(true);
    this.listen(this.socket);
  }

  /** Connect, secure, authenticate, bind and (by default) send presence. Rejects with LoadClientError. */
  static async connect(opts: LoadClientOptions): Promise<LoadClient> {
    if (opts.signal?.aborted) throw new LoadClientError("aborted", "aborted before connecting");
    const client = new LoadClient(opts);
    const onAbort = () => client.fail(new LoadClientError("aborted", "aborted"));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    client.timer = setTimeout(() => client.fail(new LoadClientError("timeout", `handshake not done after ${opts.timeoutMs ?? 30_000} ms (${client.phase})`)), opts.timeoutMs ?? 30_000);
    try {
      await client.handshake();
      return client;
    } catch (err) {
      const failure = err instanceof LoadClientError ? err : new LoadClientError(client.phase === "auth" ? "auth" : "closed", String(err), { cause: err });
      client.fail(failure);
      throw failure;
    } finally {
      clearTimeout(client.timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }

  get isOnline(): boolean {
    return this.phase === "online";
  }

  /** Write raw XML (one or more stanzas); ignored once the connection is closing. */
  send(xml: string): void {
    if (this.phase !== "closed" && this.phase !== "closing") this.socket.write(xml);
  }

  /** A one-to-one chat message (RFC 6121 §5.2.2) to a full JID. */
  sendChat(to: string, body: string): void {
    this.sendStanza(`<message type='chat' to='${escapeXml(to)}'><body>${escapeXmlText(body)}</body></message>`);
  }

  /** One stanza: counted for stream management, with an ack request every ACK_EVERY. */
  sendStanza(xml: string): void {
    const sm = this.sm;
    if (!sm) return this.send(xml);
    sm.outbound++;
    this.send(sm.outbound % ACK_EVERY === 0 ? `${xml}<r xmlns='${NS_SM}'/>` : xml);
  }

  /** Asks the server how many of our stanzas it handled (its <a/> reaches onAck). */
  requestAck(): void {
    if (this.sm) this.send(`<r xmlns='${NS_SM}'/>`);
  }

  /** Drops the TCP connection without closing the stream: the session stays resumable. */
  drop(): void {
    if (this.phase === "closed") return;
    this.phase = "closing";
    this.socket.destroy();
  }

  /** Bytes queued in the socket but not yet written (back-pressure signal). */
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  /** Close the stream (RFC 6120 §4.4) and wait for the socket to close, at most graceMs. */
  close(graceMs = 2000): Promise<void> {
    if (this.phase === "closed") return Promise.resolve();
    if (this.phase !== "closing") {
      const wasOnline = this.phase === "online";
      this.phase = "closing";
      clearTimeout(this.timer);
      if (wasOnline) this.socket.end("</stream:stream>");
      else this.socket.destroy();
      const kill = setTimeout(() => this.socket.destroy(), graceMs);
      kill.unref();
    }
    return this.closedPromise;
  }

  private listen(socket: net.Socket): void {
    socket.on("data", this.onData);
    socket.on("error", this.onSocketError);
    socket.on("close", this.onSocketClose);
  }

  private unlisten(socket: net.Socket): void {
    socket.off("data", this.onData);
    socket.off("error", this.onSocketError);
    socket.off("close", this.onSocketClose);
  }

  private readonly onData = (chunk: Buffer): void => this.parser.write(chunk);

  private readonly onSocketError = (err: Error): void => {
    const kind: FailureKind = this.phase === "connect" || this.phase === "tls" ? this.phase : "closed";
    this.fail(new LoadClientError(kind, `${kind}: ${err.message}`, { cause: err }));
  };

  private readonly onSocketClose = (): void => {
    const wasClosing = this.phase === "closing";
    if (!wasClosing) this.fail(new LoadClientError("closed", `connection closed during ${this.phase}`));
    this.phase = "closed";
    this.parser.removeAllListeners();
    this.resolveClosed();
  };

  private onElement(el: Element): void {
    if (el.is("error", NS_STREAM)) {
      const condition = el.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === NS_STREAMS && c.name !== "text")?.name ?? "undefined-condition";
      const text = el.getChildText("text", NS_STREAMS) ?? undefined;
      this.fail(new LoadClientError(`stream-error:${condition}`, `stream error <${condition}/>${text ? `: ${text}` : ""}`, { condition, text }));
      return;
    }
    if (this.phase === "online") {
      const sm = this.sm;
      if (sm && el.attrs.xmlns === NS_SM) {
        if (el.name === "r") this.send(`<a xmlns='${NS_SM}' h='${sm.inbound % 2 ** 32}'/>`);
        else if (el.name === "a") this.acknowledged(Number(el.attrs.h));
        return;
      }
      if (sm && STANZAS.has(el.name)) sm.inbound++;
      this.opts.onStanza?.(el, this);
    } else if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(el);
    } else if (this.inbox.length < INBOX_MAX) this.inbox.push(el);
  }

  /** First failure wins: reject the pending step, drop the socket, tell the owner once. */
  private fail(err: LoadClientError): void {
    if (this.failure !== undefined || this.phase === "closed" || this.phase === "closing") return;
    this.failure = err;
    const wasOnline = this.phase === "online";
    this.phase = "closing";
    this.waiter?.reject(err);
    this.waiter = undefined;
    this.socket.destroy();
    if (wasOnline) this.opts.onClose?.(err, this);
  }

  /** 'h' is the count modulo 2^32: lift it to the unbounded count nearest to ours. */
  private acknowledged(h: number): void {
    const sm = this.sm!;
    if (!Number.isFinite(h)) return;
    const wrap = 2 ** 32;
    let upTo = sm.outbound - ((sm.outbound - h) % wrap + wrap) % wrap;
    if (upTo < sm.acked) upTo = sm.acked;
    sm.acked = upTo;
    this.opts.onAck?.(upTo, this);
  }

  private next(): Promise<Element> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private async handshake(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.waiter = { resolve: () => undefined, reject };
    });
    this.waiter = undefined;
    let features = await this.openStream();
    if (this.opts.tls !== false) {
      this.phase = "tls";
      if (!features.getChild("starttls", NS_TLS)) throw new LoadClientError("tls", "server does not offer STARTTLS");
      this.send(`<starttls xmlns='${NS_TLS}'/>`);
      const answer = await this.next();
      if (!answer.is("proceed", NS_TLS)) throw new LoadClientError("tls", `STARTTLS answered with <${answer.name}>`);
      await this.upgradeToTls();
      features = await this.openStream();
    }
    this.phase = "auth";
    await this.authenticate(features);
    features = await this.openStream();
    this.phase = "bind";
    if (this.opts.resume) {
      await this.resumeSession(this.opts.resume);
      return this.goOnline();
    }
    await this.bind(features);
    if (this.opts.streamManagement) await this.enableSm(this.opts.streamManagement === "resume");
    if (this.opts.presence !== false) this.sendStanza("<presence/>");
    this.goOnline();
  }

  /** What came in the same read as the last handshake answer (<resumed/> and the stanzas sent again after it) is handled now. */
  private goOnline(): void {
    this.phase = "online";
    for (const el of this.uncounted.splice(0)) this.opts.onStanza?.(el, this);
    for (const el of this.inbox.splice(0)) this.onElement(el);
  }

  private async enableSm(resume: boolean): Promise<void> {
    this.send(resume ? `<enable xmlns='${NS_SM}' resume='true'/>` : `<enable xmlns='${NS_SM}'/>`);
    // Stanzas may come before <enabled/> once bound (a message routed to the new resource, e.g.
    // what an earlier session of it held): they are not counted (§3: counting starts at
    // <enabled/>), and are handed on once online.
    const early: Element[] = [];
    let answer = await this.next();
    while (STANZAS.has(answer.name)) {
      early.push(answer);
      answer = await this.next();
    }
    if (!answer.is("enabled", NS_SM)) throw new LoadClientError("sm", `<enable/> answered with ${truncate(answer.toString())}`);
    this.sm = { id: answer.attrs.id, inbound: 0, outbound: 0, acked: 0 };
    this.uncounted.push(...early);
  }

  private async resumeSession(r: { previd: string; h: number; jid: string }): Promise<void> {
    this.send(`<resume xmlns='${NS_SM}' h='${r.h % 2 ** 32}' previd='${escapeXml(r.previd)}'/>`);
    const answer = await this.next();
    if (!answer.is("resumed", NS_SM)) throw new LoadClientError("sm", `<resume/> answered with ${truncate(answer.toString())}`);
    this.jid = r.jid;
    // the counters go on; the server's 'h' tells what it handled of ours (the caller resends the rest)
    this.sm = { id: r.previd, inbound: r.h, outbound: 0, acked: 0, resumedH: Number(answer.attrs.h) };
  }

  /** (Re)start the stream (RFC 6120 §4.3.3): fresh parser state, header, wait for features. */
  private async openStream(): Promise<Element> {
    this.parser.reset();
    this.inbox = [];
    this.send(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' to='${escapeXml(this.opts.domain)}' version='1.0'>`,
    );
    const features = await this.next();
    if (!features.is("features", NS_STREAM)) throw new LoadClientError(this.phase as "connect" | "tls" | "auth", `expected stream features, got <${features.name}>`);
    return features;
  }

  private upgradeToTls(): Promise<void> {
    const raw = this.socket;
    this.unlisten(raw);
    // the TLS socket reports the wrapped socket's errors; this only keeps an orphan event harmless
    raw.on("error", () => undefined);
    // Certificates are not checked: the servers under test use self-signed certificates on loopback.
    const secure = tls.connect({ socket: raw, servername: net.isIP(this.opts.domain) ? undefined : this.opts.domain, rejectUnauthorized: false });
    this.socket = secure;
    this.listen(secure);
    return new Promise((resolve, reject) => {
      secure.once("secureConnect", resolve);
      this.waiter = { resolve: () => undefined, reject };
    }).then(() => {
      this.waiter = undefined;
    });
  }

  private async authenticate(features: Element): Promise<void> {
    const offered = (features.getChild("mechanisms", NS_SASL)?.getChildren("mechanism") ?? []).map((m) => m.text().trim());
    try {
      if (offered.includes("SCRAM-SHA-1")) return await this.scramSha1();
      // PLAIN sends the password itself: only inside TLS, or when the target is explicitly plain.
      const encrypted = this.socket instanceof tls.TLSSocket;
      if (offered.includes("PLAIN") && (encrypted || this.opts.tls === false)) {
        const payload = Buffer.from(`\0${this.opts.username}\0${this.opts.password}`).toString("base64");
        this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${payload}</auth>`);
        return this.expectSuccess(await this.next());
      }
    } catch (err) {
      if (err instanceof ScramClientError) throw new LoadClientError("auth", err.message, { cause: err });
      throw err;
    }
    throw new LoadClientError("auth", `no usable SASL mechanism among [${offered.join(", ")}]`);
  }

  private async scramSha1(): Promise<void> {
    const scram = scramSha1Client(this.opts.username, this.opts.password);
    this.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${scram.initial}</auth>`);
    let answer = await this.next();
    if (!answer.is("challenge", NS_SASL)) return this.expectSuccess(answer);
    this.send(`<response xmlns='${NS_SASL}'>${await scram.respond(answer.text())}</response>`);
    answer = await this.next();
    // RFC 6120 §6.3.10 allows the server-final-message in a last challenge followed by an empty success.
    if (answer.is("challenge", NS_SASL)) {
      scram.verify(answer.text());
      this.send(`<response xmlns='${NS_SASL}'/>`);
      return this.expectSuccess(await this.next());
    }
    this.expectSuccess(answer);
    scram.verify(answer.text());
  }

  private expectSuccess(answer: Element): void {
    if (answer.is("success", NS_SASL)) return;
    const condition = answer.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name ?? answer.name;
    const text = answer.getChildText("text") ?? undefined;
    throw new LoadClientError("auth", `authentication failed: <${condition}/>${text ? `: ${text}` : ""}`, { condition, text });
  }

  private async bind(features: Element): Promise<void> {
    if (!features.getChild("bind", NS_BIND)) throw new LoadClientError("bind", "server does not offer resource binding");
    const resource = this.opts.resource ?? "load";
    this.send(`<iq type='set' id='bind'><bind xmlns='${NS_BIND}'><resource>${escapeXmlText(resource)}</resource></bind></iq>`);
    const result = await this.next();
    const jid = result.getChild("bind", NS_BIND)?.getChildText("jid");
    if (!result.is("iq") || result.attrs.type !== "result" || !jid) throw new LoadClientError("bind", `bind failed: ${truncate(result.toString())}`);
    this.jid = jid;
    const session = features.getChild("session", NS_SESSION);
    if (session && !session.getChild("optional")) {
      this.send(`<iq type='set' id='sess'><session xmlns='${NS_SESSION}'/></iq>`);
      const answer = await this.next();
      if (answer.attrs.type !== "result") throw new LoadClientError("bind", `session failed: ${truncate(answer.toString())}`);
    }
  }
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
