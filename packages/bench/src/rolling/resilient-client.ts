/**
 * A client that keeps its session through edge restarts and deaths the way XEP-0198 wants a
 * mobile client to: it keeps every stanza it sent until the server acknowledged it; when the
 * connection drops it reconnects (through the balancer, so to a live edge) and sends
 * <resume h previd/>, then sends again what the server's <resumed h/> says it did not handle.
 * If the session cannot be resumed it logs in afresh and sends again everything unacknowledged
 * (at least once). It records how long it was detached each time.
 */
import { LoadClient, type LoadClientOptions } from "../client.js";
import { LoadClientError } from "../errors.js";
import type { Element } from "@switchboard/xml";

export interface ResilientOptions {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  resource: string;
  onMessage(el: Element): void;
  /** give up reconnecting after this long (default 60 s) */
  reconnectForMs?: number;
}

interface Sent {
  seq: number;
  xml: string;
}

export class ResilientClient {
  private client: LoadClient | undefined;
  private smId = "";
  /** stanzas handled from the server, across connections */
  private inbound = 0;
  /** our stanzas, numbered across connections; those not acknowledged yet */
  private outbound = 0;
  private unacked: Sent[] = [];
  private stopped = false;
  private reconnecting: Promise<void> | undefined;
  private ackWaiters: Array<() => void> = [];
  jid = "";
  /** ms detached, one entry per drop */
  readonly detachedMs: number[] = [];
  resumed = 0;
  /** resumptions refused (the session was gone): logged in afresh instead */
  resumeFailures = 0;
  gaveUp = false;

  constructor(private readonly opts: ResilientOptions) {}

  get online(): boolean {
    return !!this.client?.isOnline && !this.reconnecting;
  }

  get pendingAcks(): number {
    return this.unacked.length;
  }

  /** its counters, for a failure report */
  describe(): string {
    const sm = this.client?.sm;
    const seqs = this.unacked.length > 0 ? `${this.unacked[0]!.seq}..${this.unacked.at(-1)!.seq}` : "-";
    return `${this.opts.username}: ${this.unacked.length} unacknowledged (${seqs}), outbound ${this.outbound}; connection: sent ${sm?.outbound}, acked ${sm?.acked}, resumed h ${sm?.resumedH}, online ${this.online}`;
  }

  private base(): LoadClientOptions {
    return {
      host: this.opts.host,
      port: this.opts.port,
      domain: this.opts.domain,
      username: this.opts.username,
      password: this.opts.password,
      resource: this.opts.resource,
      timeoutMs: 15_000,
      onStanza: (el) => {
        if (el.name === "message") this.opts.onMessage(el);
      },
      onAck: (h) => this.acknowledged(h),
      onClose: () => void this.reconnect(),
    };
  }

  async start(): Promise<void> {
    this.client = await LoadClient.connect({ ...this.base(), streamManagement: "resume" });
    this.jid = this.client.jid;
    this.smId = this.client.sm?.id ?? "";
    // its initial presence was stanza 1 of the session: our messages count on from there
    this.outbound = this.client.sm?.outbound ?? 0;
    if (!this.smId) throw new Error(`${this.opts.username}: the server gave no resumption id`);
  }

  /** A chat message, kept until acknowledged (written now if online, on resumption otherwise). */
  sendChat(to: string, body: string): void {
    const xml = `<message type='chat' to='${to}'><body>${body}</body></message>`;
    this.unacked.push({ seq: ++this.outbound, xml });
    if (this.online) this.client!.sendStanza(xml);
  }

  /** Resolves once everything sent was acknowledged (asking for it), or after timeoutMs. */
  async allAcknowledged(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.unacked.length > 0 && Date.now() < deadline) {
      if (this.online) this.client!.requestAck();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.ackWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.unacked.length === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reconnecting?.catch(() => {});
    await this.client?.close();
  }

  private acknowledged(h: number): void {
    while (this.unacked.length > 0 && this.unacked[0]!.seq <= h) this.unacked.shift();
    if (this.unacked.length === 0) for (const wake of this.ackWaiters.splice(0)) wake();
  }

  private reconnect(): Promise<void> {
    if (this.stopped || this.reconnecting) return this.reconnecting ?? Promise.resolve();
    const droppedAt = Date.now();
    this.inbound = this.client?.sm?.inbound ?? this.inbound;
    this.reconnecting = (async () => {
      const giveUpAt = droppedAt + (this.opts.reconnectForMs ?? 60_000);
      while (!this.stopped) {
        try {
          const client = await LoadClient.connect({ ...this.base(), resume: { previd: this.smId, h: this.inbound, jid: this.jid } });
          this.client = client;
          this.resumed++;
          // What the server handled of ours is acknowledged; the rest goes again, in order.
          this.acknowledged(liftH(client.sm!.resumedH ?? 0, this.outbound));
          this.resend(client);
          break;
        } catch (err) {
          if (err instanceof LoadClientError && err.kind === "sm") {
            this.resumeFailures++;
            const client = await LoadClient.connect({ ...this.base(), streamManagement: "resume" }).catch(() => undefined);
            if (client) {
              this.client = client;
              this.smId = client.sm?.id ?? "";
              this.inbound = 0;
              this.resend(client, true);
              break;
            }
          }
          if (Date.now() > giveUpAt) {
            this.gaveUp = true;
            return;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      this.detachedMs.push(Date.now() - droppedAt);
    })().finally(() => {
      this.reconnecting = undefined;
    });
    return this.reconnecting;
  }

  /**
   * The new connection's counter continues from what was acknowledged; `fresh`: a new session,
   * whose count starts after its initial presence, so our numbering restarts there.
   */
  private resend(client: LoadClient, fresh = false): void {
    const sm = client.sm!;
    if (fresh) {
      // the new session counted its initial presence already
      this.outbound = sm.outbound;
      for (const s of this.unacked) s.seq = ++this.outbound;
    } else {
      sm.outbound = this.unacked.length > 0 ? this.unacked[0]!.seq - 1 : this.outbound;
    }
    for (const s of this.unacked) client.sendStanza(s.xml);
    if (this.unacked.length > 0) client.requestAck();
  }
}

/** 'h' is the count modulo 2^32: the unbounded count at most `sent` that it names. */
function liftH(h: number, sent: number): number {
  const wrap = 2 ** 32;
  return sent - ((((sent - h) % wrap) + wrap) % wrap);
}
