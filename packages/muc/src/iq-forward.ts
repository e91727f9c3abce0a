/**
 * IQs between occupants through their room JIDs (XEP-0045 §7.5 and §18.1.2: a vCard or version
 * query to room@service/nick): the room passes a request from an occupant to the target's most
 * recent session, from the requester's room JID and under an id of its own, and passes the
 * answer back under the requester's id. The real JIDs stay hidden both ways. Requests wait at
 * most IQ_TIMEOUT_MS for their answer and at most MAX_PENDING wait at once; past that the oldest
 * is forgotten (its requester's own client times it out).
 */
import { randomBytes } from "node:crypto";
import { type Element, StanzaError, x } from "@switchboard/xml";
import type { StanzaEvent } from "@switchboard/core";
import type { MucContext } from "./context.js";
import type { Room } from "./room.js";

const IQ_TIMEOUT_MS = 60_000;
const MAX_PENDING = 10_000;

interface Pending {
  /** the requester's full JID and its own id */
  requester: string;
  id: string;
  /** the target's room JID (the answer comes from it) */
  targetRoomJid: string;
  at: number;
}

export class IqForwarding {
  private readonly pending = new Map<string, Pending>();

  /** A get or set to room/nick that is not a self-ping: passed to the target occupant. */
  async request(ctx: MucContext, room: Room, ev: StanzaEvent): Promise<void> {
    const sender = room.occupantByFull(ev.from.full);
    if (!sender) throw new StanzaError("not-acceptable", "only occupants may send requests to occupants");
    const target = room.occupants.get(ev.to.resource);
    const session = target ? [...target.sessions.keys()].at(-1) : undefined;
    if (!target || !session) throw new StanzaError("item-not-found", "nobody in the room has that nickname");
    this.expire();
    const id = `muc-${randomBytes(9).toString("base64url")}`;
    this.pending.set(id, { requester: ev.from.full, id: ev.stanza.attrs.id ?? "", targetRoomJid: ev.to.full, at: Date.now() });
    await ctx.send(room, x("iq", { type: ev.stanza.attrs.type, id, from: `${room.bare}/${sender.nick}`, to: session }, ...ev.stanza.children));
  }

  /** A result or error to room/nick: an answer to a passed request, or nothing to do. */
  async answer(ctx: MucContext, room: Room, ev: StanzaEvent): Promise<void> {
    const id = ev.stanza.attrs.id;
    const waiting = id === undefined ? undefined : this.pending.get(id);
    if (!waiting || !room.occupantByFull(ev.from.full) || `${room.bare}/${room.nickOf.get(ev.from.full)}` !== waiting.targetRoomJid) return;
    this.pending.delete(id!);
    const reply: Element = x("iq", { type: ev.stanza.attrs.type, id: waiting.id, from: waiting.targetRoomJid, to: waiting.requester }, ...ev.stanza.children);
    await ctx.send(room, reply);
  }

  private expire(): void {
    const cutoff = Date.now() - IQ_TIMEOUT_MS;
    for (const [id, p] of this.pending) {
      if (p.at > cutoff && this.pending.size < MAX_PENDING) break;
      this.pending.delete(id);
    }
  }
}
