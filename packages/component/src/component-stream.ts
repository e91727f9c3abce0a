/**
 * The component policy of the stream engine (XEP-0114, jabber:component:accept): what an
 * external component's stream accepts. The engine (@switchboard/stream) keeps the order, the
 * time bounds and the one write path; this file only says:
 * - §3 the header names the component's domain in 'to' (unknown: `<host-unknown/>`), and ours
 *   answers from that domain, with no version and so no features;
 * - §3 `<handshake>` is the lower-case hex SHA-1 of our stream id and the shared secret (wrong:
 *   `<not-authorized/>`); answered with an empty `<handshake/>`; a domain already connected
 *   gets `<conflict/>` (directory.ts);
 * - then stanzas only, each `from` in the component's own domain (else `<invalid-from/>`, RFC
 *   6120 §4.9.3.9) and with a 'to' (else `<improper-addressing/>`, §4.9.3.7), routed like any
 *   server's stanza.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Element, StreamError, tryParseJid } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { StreamEngine, type StreamPolicy, type Transport } from "@switchboard/stream";
import type { ComponentDirectory, LocalLink } from "./directory.js";

export const NS_COMPONENT = "jabber:component:accept";

const STANZAS = new Set(["message", "presence", "iq"]);

export interface ComponentStreamOptions {
  /** components.hosts: secret by domain (lower case) */
  secrets: ReadonlyMap<string, string>;
  directory: ComponentDirectory;
  handshakeTimeoutMs: number;
  outboundBufferBytes: number;
  congestionTimeoutMs: number;
}

/** XEP-0114 §3: hex SHA-1 of the stream id followed by the secret. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash("sha1").update(streamId + secret).digest("hex");
}

/** `onHandshake`: the stream is a component's now (or ended before): it no longer counts as unauthenticated */
export function openComponentStream(host: Host, transport: Transport, opts: ComponentStreamOptions, onHandshake?: () => void): StreamEngine {
  return new StreamEngine(host, transport, new ComponentPolicy(host, opts, onHandshake));
}

/** The connected component as the directory and the routing see it. */
export class ComponentLink implements LocalLink {
  readonly since = Date.now();
  constructor(
    readonly domain: string,
    private readonly stream: StreamEngine,
  ) {}
  /** Writes a stanza to the component; "refused" when the stream is gone or at its hard cap. */
  send(stanza: Element): "written" | "refused" {
    return this.stream.send(stanza);
  }
  get closed(): boolean {
    return this.stream.closed;
  }
  replaced(): void {
    this.stream.close(new StreamError("conflict", `another connection holds ${this.domain}`));
  }
  close(error?: StreamError): void {
    this.stream.close(error);
  }
}

class ComponentPolicy implements StreamPolicy {
  readonly namespace = NS_COMPONENT;
  readonly requireTls = false;
  readonly tlsHandshakeMs: number;
  readonly handshakeTimeoutMs: number;
  readonly outboundBufferBytes: number;
  readonly congestionTimeoutMs: number;
  private domain?: string;
  private link?: ComponentLink;

  constructor(
    private readonly host: Host,
    private readonly opts: ComponentStreamOptions,
    private readonly onHandshake?: () => void,
  ) {
    this.tlsHandshakeMs = opts.handshakeTimeoutMs;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs;
    this.outboundBufferBytes = opts.outboundBufferBytes;
    this.congestionTimeoutMs = opts.congestionTimeoutMs;
  }

  /** §3: the server's header is from the component's name; pre-1.0, so no version, no features. */
  ownHeader(peer: Record<string, string> | undefined): Record<string, string> {
    const to = peer?.to?.toLowerCase();
    return { from: to && this.opts.secrets.has(to) ? to : this.host.domain };
  }

  checkHeader(_stream: StreamEngine, attrs: Record<string, string>): StreamError | undefined {
    if (attrs.xmlns !== NS_COMPONENT) return new StreamError("invalid-namespace", `the default namespace must be ${NS_COMPONENT}`);
    const to = attrs.to?.toLowerCase();
    if (!to || !this.opts.secrets.has(to)) return new StreamError("host-unknown", "no component of that name is configured here");
    this.domain = to;
    return undefined;
  }

  features(): Element[] {
    return [];
  }

  async element(stream: StreamEngine, el: Element): Promise<void> {
    if (stream.state !== "bound") return this.handshake(stream, el);
    if (!STANZAS.has(el.name)) return stream.close(new StreamError("unsupported-stanza-type", `<${el.name}/> is not a stanza`));
    const from = el.attrs.from ? tryParseJid(el.attrs.from) : undefined;
    // RFC 6120 §4.9.3.9: a component may speak only for addresses of its own domain.
    if (!from || from.domain !== this.domain) return stream.close(new StreamError("invalid-from", `'from' must be an address at ${this.domain}`));
    if (!el.attrs.to) return stream.close(new StreamError("improper-addressing", "a stanza from a component needs a 'to'"));
    // The stanza may name the stream's namespace; on a client stream it must not (it inherits).
    if (el.attrs.xmlns === NS_COMPONENT) delete el.attrs.xmlns;
    await this.host.router.route(el);
  }

  private handshake(stream: StreamEngine, el: Element): void {
    const domain = this.domain;
    if (!domain || el.name !== "handshake") return stream.close(new StreamError("not-authorized", "the handshake must come first (XEP-0114 §3)"));
    const given = Buffer.from(el.text().trim().toLowerCase());
    const expected = Buffer.from(handshakeDigest(stream.streamId, this.opts.secrets.get(domain)!));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      stream.log.info({ domain, ip: stream.ip }, "component handshake refused: wrong secret");
      return stream.close(new StreamError("not-authorized", "wrong handshake"));
    }
    const link = new ComponentLink(domain, stream);
    if (!this.opts.directory.claim(link)) {
      stream.log.info({ domain, ip: stream.ip }, "component refused: its domain is already connected");
      return stream.close(new StreamError("conflict", `${domain} is already connected`));
    }
    this.link = link;
    stream.authenticated(domain, { restart: false });
    stream.bound();
    stream.send(new Element("handshake"));
    this.onHandshake?.();
    stream.log.info({ domain, ip: stream.ip }, "component connected");
  }

  ended(stream: StreamEngine, reason: string): void {
    this.onHandshake?.();
    if (!this.link) return;
    this.opts.directory.release(this.link);
    stream.log.info({ domain: this.link.domain, reason }, "component disconnected");
  }
}
