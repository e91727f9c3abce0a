/**
 * Where a MUC stanza goes in a cluster (ARCHITECTURE.md "Routes and an addressable bus"): every
 * node, edge or worker, routes stanzas for the service domain to the room's worker as component
 * envelopes on the bus (shard = the room). The worker is found without a Redis round trip per
 * stanza: rendezvous hashing of the room over the live workers (the directory's worker set,
 * re-read every couple of seconds, filtered by node liveness), so every node picks the same one
 * and one sender's stanzas to a room keep their order. A worker that gets a stanza for a room
 * another live worker holds (the worker set changed since the room was claimed) passes it on
 * once; a room whose worker died is claimed by the next one picked, within the liveness TTL.
 */
import { createHash } from "node:crypto";
import { parseFrame, parseJid, errorReply, type Element } from "@switchboard/xml";
import type { ComponentEnvelope, Host, Logger, StanzaEvent, StanzaKind } from "@switchboard/core";
import type { MucService } from "./service.js";

export const MUC_COMPONENT = "muc";
const HOPS_HEADER = "muc-hops";
/** a stanza passed on more often than this is refused (the workers disagree for a moment) */
const MAX_HOPS = 2;
const REFRESH_MS = 2_000;

export class MucPlacement {
  private workers: string[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly host: Host,
    private readonly domain: string,
    private readonly log: Logger,
    /** the service, on a node with the muc role */
    private readonly local: MucService | undefined,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      this.workers = await this.host.roomDirectory.workers(this.domain);
    } catch (err) {
      this.log.warn({ err }, "could not read the MUC workers; keeping the last list");
    }
  }

  /** The live workers, this node first when it is one (it may not be listed yet at start). */
  private live(): string[] {
    const alive = this.workers.filter((n) => this.host.isNodeAlive(n));
    if (this.local && !alive.includes(this.host.nodeId)) alive.push(this.host.nodeId);
    return alive;
  }

  /** Rendezvous (highest random weight) hashing: the same worker for a room on every node. */
  private pick(key: string): string | undefined {
    let best: string | undefined;
    let bestScore = "";
    for (const node of this.live()) {
      const score = createHash("sha1").update(`${key}\0${node}`).digest("hex");
      if (score > bestScore) (best = node), (bestScore = score);
    }
    return best;
  }

  /** A stanza a client (or this server) sent to the service domain. */
  async route(ev: StanzaEvent, hops = 0): Promise<void> {
    const key = ev.to.local === "" ? this.domain : ev.to.bare;
    let target = ev.to.local === "" && this.local ? this.host.nodeId : this.pick(key);
    if (target === undefined) {
      // none known: a worker may have started since the last look
      await this.refresh();
      target = this.pick(key);
    }
    if (target === undefined) return this.refuse(ev, "no chat room service is running right now");
    if (target === this.host.nodeId && this.local) return this.local.handle(ev, (holder) => this.send(holder, ev, hops + 1));
    await this.send(target, ev, hops);
  }

  /** A component envelope from another node. */
  async receive(env: ComponentEnvelope): Promise<void> {
    let stanza: Element;
    try {
      stanza = parseFrame(env.xml);
    } catch (err) {
      this.log.warn({ err, room: env.shard }, "malformed MUC stanza on the bus, dropped");
      return;
    }
    const from = stanza.attrs.from ? parseJid(stanza.attrs.from) : this.host.domainJid;
    const ev: StanzaEvent = { stanza, kind: stanza.name as StanzaKind, from, to: parseJid(stanza.attrs.to!) };
    const hops = Number(env.headers?.[HOPS_HEADER] ?? 0);
    if (!this.local) return this.route(ev, hops);
    await this.local.handle(ev, (holder) => this.send(holder, ev, hops + 1));
  }

  private async send(node: string, ev: StanzaEvent, hops: number): Promise<void> {
    if (hops > MAX_HOPS) {
      this.log.warn({ room: ev.to.bare, node }, "MUC stanza passed between workers too often; refused");
      return this.refuse(ev, "the room's server could not be reached; try again");
    }
    const env: ComponentEnvelope = { kind: "component", component: MUC_COMPONENT, shard: ev.to.bare, xml: ev.stanza.toString(), headers: { [HOPS_HEADER]: String(hops) } };
    try {
      await this.host.publishComponent(node, env, ev.stanza);
    } catch (err) {
      this.log.warn({ err, node, room: ev.to.bare }, "could not pass a MUC stanza to its worker");
      await this.refuse(ev, "the room's server could not be reached; try again");
    }
  }

  private async refuse(ev: StanzaEvent, text: string): Promise<void> {
    if (ev.stanza.attrs.type === "error" || (ev.kind === "iq" && ev.stanza.attrs.type === "result")) return;
    const reply = errorReply(ev.stanza, "service-unavailable", text);
    reply.attrs.to = ev.from.full;
    await this.host.router.reply(ev, reply);
  }
}
