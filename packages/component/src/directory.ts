/**
 * Where each external component (XEP-0114) is connected, across the cluster. A component's
 * stream lives on the one node it connected to; every node must know which, so a stanza for
 * its domain reaches it over the bus. Like the tap's interest (core/tap.ts) this is a lease on
 * the control channel, not a Redis key read per stanza: the holding node announces
 * `component.online` at once and every 5 s, the others keep the entry for 15 s (three
 * announcements), and `component.offline` drops it at once when the stream ends. A node that
 * starts knows every component within 5 s; a node that dies without a goodbye stops being
 * named within 15 s (or at once, by its `node.gone`).
 *
 * One connection per domain (Prosody's default, component_conflict_resolve = "kick_new"; ejabberd
 * balances several): a second handshake for a held domain is refused with `<conflict/>`, here
 * or on another node. Two handshakes on two nodes within one announcement's flight can both
 * pass; the announcements then settle it, the older connection (then the lower node id) keeps
 * the domain and the other is closed with `<conflict/>`.
 */
import type { Host } from "@switchboard/core";

export const ANNOUNCE_MS = 5_000;
export const LEASE_MS = 15_000;

declare module "@switchboard/core" {
  interface ControlMessages {
    /** `node` holds the component stream of `domain`, connected at `since` (epoch ms) */
    "component.online": { domain: string; node: string; since: number };
    /** `node` no longer holds the component stream of `domain` */
    "component.offline": { domain: string; node: string };
  }
}

/** A component stream held by this node, as the directory sees it. */
export interface LocalLink {
  readonly domain: string;
  /** epoch ms of its handshake */
  readonly since: number;
  /** ends the stream with `<conflict/>` (another node's older connection holds the domain) */
  replaced(): void;
  /** writes a stanza to the component ("refused": the stream is gone or at its hard cap) */
  send(stanza: import("@switchboard/xml").Element): "written" | "refused";
}

interface RemoteHolder {
  node: string;
  since: number;
  expires: number;
}

export class ComponentDirectory {
  private readonly local = new Map<string, LocalLink>();
  private readonly remote = new Map<string, RemoteHolder>();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  /** what connected() said last, for onChange */
  private listed = new Set<string>();

  /** `onChange`: a domain became connected somewhere in the cluster, or stopped being (disco#items) */
  constructor(
    private readonly host: Host,
    private readonly onChange: (domain: string, connected: boolean) => void = () => {},
  ) {}

  start(): void {
    this.unsubscribe = this.host.bus.subscribeControl((msg) => {
      if (msg.type === "component.online") this.heard(msg.domain, msg.node, msg.since);
      else if (msg.type === "component.offline") this.forget(msg.domain, msg.node);
      else if (msg.type === "node.gone") for (const [domain, h] of this.remote) if (h.node === msg.node) this.remote.delete(domain);
      this.sync();
    });
    this.timer = setInterval(() => {
      for (const link of this.local.values()) void this.announce(link);
      this.sync(); // leases that ran out
    }, ANNOUNCE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
    for (const link of this.local.values()) void this.publishOffline(link.domain);
    this.local.clear();
    this.remote.clear();
    this.sync();
  }

  /** The node holding `domain`'s stream (this one included), or undefined when none does. */
  holder(domain: string): string | undefined {
    if (this.local.has(domain)) return this.host.nodeId;
    const h = this.remote.get(domain);
    if (!h) return undefined;
    if (h.expires < Date.now() || !this.host.isNodeAlive(h.node)) {
      this.remote.delete(domain);
      return undefined;
    }
    return h.node;
  }

  /** This node's stream for `domain`, if it holds one. */
  localLink(domain: string): LocalLink | undefined {
    return this.local.get(domain);
  }

  /** Takes `domain` for a stream on this node: false when a stream (here or elsewhere) holds it. */
  claim(link: LocalLink): boolean {
    if (this.holder(link.domain) !== undefined) return false;
    this.local.set(link.domain, link);
    void this.announce(link);
    this.sync();
    return true;
  }

  release(link: LocalLink): void {
    if (this.local.get(link.domain) !== link) return;
    this.local.delete(link.domain);
    void this.publishOffline(link.domain);
    this.sync();
  }

  /** The domains connected anywhere in the cluster, sorted (the server's disco#items). */
  connected(): string[] {
    const domains = new Set(this.local.keys());
    for (const domain of this.remote.keys()) if (this.holder(domain)) domains.add(domain);
    return [...domains].sort();
  }

  private sync(): void {
    const now = new Set(this.connected());
    for (const domain of now) if (!this.listed.has(domain)) this.onChange(domain, true);
    for (const domain of this.listed) if (!now.has(domain)) this.onChange(domain, false);
    this.listed = now;
  }

  private heard(domain: string, node: string, since: number): void {
    if (node === this.host.nodeId || typeof domain !== "string" || typeof since !== "number") return;
    const mine = this.local.get(domain);
    if (mine) {
      // Both won a race: the older connection keeps the domain (see the header).
      const theirsOlder = since < mine.since || (since === mine.since && node < this.host.nodeId);
      if (!theirsOlder) return;
      this.local.delete(domain);
      mine.replaced();
    }
    this.remote.set(domain, { node, since, expires: Date.now() + LEASE_MS });
  }

  private forget(domain: string, node: string): void {
    if (this.remote.get(domain)?.node === node) this.remote.delete(domain);
  }

  private async announce(link: LocalLink): Promise<void> {
    try {
      await this.host.bus.publishControl({ type: "component.online", origin: this.host.nodeId, domain: link.domain, node: this.host.nodeId, since: link.since });
    } catch (err) {
      this.host.log.warn({ err, domain: link.domain }, "could not announce a component connection");
    }
  }

  private async publishOffline(domain: string): Promise<void> {
    try {
      await this.host.bus.publishControl({ type: "component.offline", origin: this.host.nodeId, domain, node: this.host.nodeId });
    } catch (err) {
      this.host.log.warn({ err, domain }, "could not announce a component disconnection");
    }
  }
}
