/**
 * What client streams read and write, counted once for the metrics and the session's own
 * traffic (admin listing, per-user accounting): stanzas by kind and bytes, each way. The
 * instruments are made once per host and bound to their labels, so a count is an addition.
 */
import type { Element } from "@switchboard/xml";
import type { Host, Session } from "@switchboard/core";

type Add = { add(value?: number): void };
type Kind = "message" | "presence" | "iq";
const KINDS: readonly Kind[] = ["message", "presence", "iq"];

export class ClientTraffic {
  private readonly stanzasIn: Record<Kind, Add>;
  private readonly stanzasOut: Record<Kind, Add>;
  private readonly bytesIn: Add;
  private readonly bytesOut: Add;

  constructor(private readonly host: Host) {
    const stanzas = host.metrics.counter("switchboard_stanzas_total", { help: "Stanzas read from and written to clients", labels: ["direction", "kind"] });
    const bytes = host.metrics.counter("switchboard_bytes_total", { help: "Bytes read from and written to clients", labels: ["direction"] });
    const bind = (direction: string) => Object.fromEntries(KINDS.map((kind) => [kind, stanzas.with({ direction, kind })])) as Record<Kind, Add>;
    this.stanzasIn = bind("in");
    this.stanzasOut = bind("out");
    this.bytesIn = bytes.with({ direction: "in" });
    this.bytesOut = bytes.with({ direction: "out" });
  }

  /**
   * a stanza the client sent; `bytes` is what its stream read since the one before (exact in
   * sum, not per stanza: a chunk holding several stanzas counts with the first)
   */
  read(session: Session, el: Element, bytes: number): void {
    const t = session.traffic;
    if (this.host.tap.isWatched(session.jid.bare)) this.publishTap(session, "in", el);
    t.stanzasIn++;
    t.bytesIn += bytes;
    const kind = kindOf(el);
    if (kind) {
      this.stanzasIn[kind].add(1);
      if (kind === "message") t.messagesIn++;
      else if (kind === "presence") t.presencesIn++;
      else t.iqsIn++;
    }
    this.bytesIn.add(bytes);
  }

  /** a stanza (or stream element) written to the client */
  wrote(session: Session | undefined, el: Element, bytes: number): void {
    const kind = kindOf(el);
    if (session) {
      const t = session.traffic;
      if (kind && this.host.tap.isWatched(session.jid.bare)) this.publishTap(session, "out", el);
      if (kind) {
        t.stanzasOut++;
        if (kind === "message") t.messagesOut++;
        else if (kind === "presence") t.presencesOut++;
        else t.iqsOut++;
      }
      t.bytesOut += bytes;
    }
    if (kind) this.stanzasOut[kind].add(1);
    this.bytesOut.add(bytes);
  }

  /** The tap: this stanza to whoever watches the user (tap.ts); best effort, never in the way. */
  private publishTap(session: Session, direction: "in" | "out", el: Element): void {
    const event = { user: session.jid.bare, node: this.host.nodeId, direction, jid: session.jid.full, xml: el.toString(), at: Date.now() };
    this.host.bus.publishTap(event).catch(() => {});
  }
}

function kindOf(el: Element): Kind | undefined {
  return el.name === "message" || el.name === "presence" || el.name === "iq" ? el.name : undefined;
}

const perHost = new WeakMap<Host, ClientTraffic>();

export function clientTraffic(host: Host): ClientTraffic {
  let t = perHost.get(host);
  if (!t) perHost.set(host, (t = new ClientTraffic(host)));
  return t;
}
