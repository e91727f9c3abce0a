/**
 * The MUC service (XEP-0045) at its domain: the rooms this process serves, each handling its
 * stanzas one at a time in arrival order (a lane per room, so a join, a kick and a message never
 * interleave halfway), dispatched to the feature files by stanza kind and address: the service
 * itself (disco), a room (groupchat, invitations, admin and owner IQs) or an occupant (entering,
 * private messages, self-ping). Persistent rooms are kept in the RoomStore.
 *
 * In a cluster every muc worker runs one of these: a room is served by the worker holding it in
 * the RoomDirectory (placement.ts sends its stanzas there); a worker that gets a stanza for a
 * room nobody live holds claims it and loads it — from its live state in the directory (the
 * occupants of a worker that died are still joined) or from the RoomStore. Every change to a
 * room's occupants, roles, configuration or subject is written to the directory when the
 * stanza that made it is done.
 */
import { createHmac } from "node:crypto";
import { Element, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, StanzaError, errorReply, x } from "@switchboard/xml";
import { iqResult, type Host, type Logger, type StanzaEvent } from "@switchboard/core";
import { adminGet, adminSet } from "./admin.js";
import type { MucContext } from "./context.js";
import { roomInfo, roomItems, serviceInfo, serviceItems } from "./disco.js";
import { handleRoomPresence, removeOccupant } from "./join.js";
import { handlePrivateMessage, handleRoomMessage } from "./messages.js";
import { NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_USER, STATUS } from "./ns.js";
import type { MucOptions } from "./options.js";
import { ownerGet, ownerSet } from "./owner.js";
import { occupantPresence } from "./presence.js";
import type { Affiliation, Room } from "./room.js";
import { RoomHolding } from "./holding.js";
import { RoomOutbox } from "./outbox.js";
import { IqForwarding } from "./iq-forward.js";

export interface MucServiceDeps {
  host: Host;
  options: MucOptions;
  log: Logger;
  domain: string;
  admins: readonly string[];
  /** derives the XEP-0421 occupant ids, so every node and restart gives a user the same id */
  secret: Buffer;
}

export class MucService {
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rooms: RoomHolding;
  private readonly outbox: RoomOutbox;
  private readonly forwarding = new IqForwarding();
  readonly ctx: MucContext;

  constructor(private readonly deps: MucServiceDeps) {
    const { host, options, log, domain } = deps;
    const admins = new Set(deps.admins);
    this.rooms = new RoomHolding(host, domain, options.historyMessages, log);
    this.outbox = new RoomOutbox(host, (room, full, stanza) => this.gone(room, full, stanza));
    this.ctx = {
      host,
      options,
      log,
      domain,
      admins,
      changed: (room, ...nicks) => this.rooms.changed(room, nicks),
      flush: (room) => this.rooms.flush(room.bare),
      send: (room, stanza) => this.outbox.send(room, stanza),
      sendMany: (room, stanza, fulls) => this.outbox.sendMany(room, stanza, fulls),
      refuse: async (ev, condition, text) => {
        if (ev.stanza.attrs.type === "error") return;
        const reply = errorReply(ev.stanza, condition, text);
        reply.attrs.to = ev.from.full;
        await host.router.reply(ev, reply);
      },
      save: async (room) => {
        if (room.config.persistent && !room.destroyed) await host.store.rooms.put({ jid: room.bare, data: room.serialise() });
      },
      affiliation: (room, bare): Affiliation => (admins.has(bare) ? "owner" : room.affiliationOf(bare)),
      occupantId: (room, bare) => createHmac("sha256", deps.secret).update(`muc-occupant-id\0${room.bare}\0${bare}`).digest("base64url").slice(0, 22),
      persistentRoomsOwnedBy: async (bare) => {
        let count = 0;
        for (const stored of await host.store.rooms.list(domain)) {
          const owners = (JSON.parse(stored.data) as { affiliations?: Array<{ jid: string; affiliation: string }> }).affiliations ?? [];
          if (owners.some((a) => a.jid === bare && a.affiliation === "owner")) count++;
        }
        return count;
      },
      destroy: (room, detail) => this.destroy(room, detail),
      dropRoom: async (room, opts) => {
        await host.store.rooms.delete(room.bare);
        if (!opts?.keepLive) await this.rooms.drop(room);
      },
      limitHit: (limit, room, user, detail) => log.info({ limit, room: "bare" in room ? room.bare : String(room), user, ...detail }, `refused by ${limit}`),
    };
  }

  /** Announces this worker and lists the persistent rooms (holding.ts). */
  start(): Promise<void> {
    return this.rooms.start();
  }

  /** Stops serving: other workers take the rooms over from their live state. */
  async stop(): Promise<void> {
    this.clearTimers();
    await this.rooms.releaseAll();
  }

  /** The cluster presumed this node dead: its rooms may be served by others now; forget them. */
  forgetAll(): void {
    this.clearTimers();
    this.rooms.forgetAll();
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * A stanza for the service's domain; always handled (answered when refused). `forward` sends
   * a room's stanza on to the worker that holds it, when that is another node.
   */
  async handle(ev: StanzaEvent, forward: (node: string) => Promise<void>): Promise<void> {
    if (ev.to.local === "") return this.handleService(ev);
    const bare = ev.to.bare;
    await this.inLane(bare, async () => {
      const holder = await this.rooms.own(bare);
      if (holder !== this.deps.host.nodeId) return forward(holder);
      await this.handleRoom(ev);
      await this.rooms.flush(bare);
    });
  }

  private inLane(key: string, fn: () => Promise<void>): Promise<void> {
    const next = (this.lanes.get(key) ?? Promise.resolve()).then(fn).catch((err: unknown) => this.deps.log.error({ err, room: key }, "room stanza handler failed"));
    this.lanes.set(key, next);
    void next.then(() => {
      if (this.lanes.get(key) === next) this.lanes.delete(key);
    });
    return next;
  }

  private async handleService(ev: StanzaEvent): Promise<void> {
    const { stanza } = ev;
    if (stanza.name !== "iq") {
      if (stanza.name === "message") await this.ctx.refuse(ev, "service-unavailable", "the chat service takes no messages itself; write to a room");
      return;
    }
    await this.answerIq(ev, async (payload) => {
      const type = stanza.attrs.type;
      if (type === "get" && payload.attrs.xmlns === NS_DISCO_INFO) return serviceInfo(payload);
      if (type === "get" && payload.attrs.xmlns === NS_DISCO_ITEMS) return serviceItems(await this.deps.host.roomDirectory.listed(this.deps.domain), payload);
      if (type === "get" && payload.attrs.xmlns === NS_PING) return undefined;
      throw new StanzaError("service-unavailable");
    });
  }

  private async handleRoom(ev: StanzaEvent): Promise<void> {
    const room = this.rooms.get(ev.to.bare);
    const kind = ev.stanza.name;
    if (kind === "presence") {
      await handleRoomPresence(this.ctx, ev, {
        room,
        create: (jid) => this.rooms.create(jid),
        later: (r, delayMs, fn) => this.later(r, delayMs, fn),
      });
      return;
    }
    if (kind === "message") {
      if (!room) return this.ctx.refuse(ev, "item-not-found", "there is no such room");
      if (ev.to.resource === "") await handleRoomMessage(this.ctx, room, ev);
      else await handlePrivateMessage(this.ctx, room, ev);
      return;
    }
    if (kind === "iq") await this.roomIq(ev, room);
  }

  private later(room: Room, delayMs: number, fn: () => Promise<void>): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.inLane(room.bare, async () => {
        if (!this.rooms.holds(room)) return;
        await fn();
        await this.rooms.flush(room.bare);
      });
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private async roomIq(ev: StanzaEvent, room: Room | undefined): Promise<void> {
    const type = ev.stanza.attrs.type;
    if (type !== "get" && type !== "set") {
      // the rooms' own requests are the ones passed between occupants
      if (room && ev.to.resource !== "") await this.forwarding.answer(this.ctx, room, ev);
      return;
    }
    let passed = false;
    await this.answerIq(ev, async (payload) => {
      const ns = payload.attrs.xmlns;
      if (ev.to.resource !== "") {
        // XEP-0410: a client checks it is still joined by pinging its own occupant JID.
        const own = room?.occupantByFull(ev.from.full)?.nick === ev.to.resource;
        if (type === "get" && ns === NS_PING && payload.name === "ping" && (own || !room?.occupants.has(ev.to.resource))) {
          if (own) return undefined;
          throw new StanzaError("not-acceptable", "you are not in this room under that nickname");
        }
        if (!room) throw new StanzaError("item-not-found", "there is no such room");
        await this.forwarding.request(this.ctx, room, ev);
        passed = true;
        return undefined;
      }
      if (!room || (room.locked && this.ctx.affiliation(room, ev.from.bare) !== "owner")) throw new StanzaError("item-not-found", "there is no such room");
      if (type === "get" && ns === NS_DISCO_INFO) return roomInfo(this.ctx, room, payload);
      if (type === "get" && ns === NS_DISCO_ITEMS) return roomItems(payload);
      if (type === "get" && ns === NS_PING) return undefined;
      if (ns === NS_MUC_ADMIN && payload.name === "query") return type === "get" ? adminGet(this.ctx, room, ev.from.full, payload) : adminSet(this.ctx, room, ev.from.full, payload);
      if (ns === NS_MUC_OWNER && payload.name === "query") return type === "get" ? ownerGet(this.ctx, room, ev.from.full) : ownerSet(this.ctx, room, ev.from.full, payload);
      throw new StanzaError("service-unavailable");
    }, () => passed);
  }

  /**
   * Runs an IQ handler and answers: its result, its StanzaError, or internal-server-error;
   * nothing when `skip()` says the request was passed on (its answer comes from elsewhere).
   */
  private async answerIq(ev: StanzaEvent, handler: (payload: Element) => Promise<Element | void> | Element | void, skip: () => boolean = () => false): Promise<void> {
    const payload = ev.stanza.children.find((c): c is Element => typeof c !== "string");
    let reply: Element;
    if (!payload) reply = errorReply(ev.stanza, "bad-request", "an IQ request carries one payload");
    else {
      try {
        reply = iqResult(ev.stanza, (await handler(payload)) ?? undefined);
      } catch (err) {
        if (!(err instanceof StanzaError)) this.deps.log.error({ err, to: ev.to.full }, "MUC request failed");
        reply = err instanceof StanzaError ? errorReply(ev.stanza, err.condition, err.text, err.type) : errorReply(ev.stanza, "internal-server-error");
      }
    }
    if (skip() && reply.attrs.type === "result") return;
    reply.attrs.to = ev.from.full;
    await this.deps.host.router.reply(ev, reply);
  }

  /** A write to an occupant's session failed: it is gone, and leaves the room (status 333), in the room's turn. */
  private gone(room: Room, full: string, stanza: Element): void {
    if (stanza.name === "presence" && stanza.attrs.type === "unavailable") return;
    if (!room.occupantByFull(full)) return;
    this.deps.log.debug({ room: room.bare, to: full }, "occupant's session is gone; it leaves the room");
    void this.inLane(room.bare, async () => {
      const still = this.rooms.holds(room) ? room.occupantByFull(full) : undefined;
      if (!still) return;
      if (still.sessions.size > 1) {
        still.sessions.delete(full);
        room.nickOf.delete(full);
        this.rooms.changed(room, [still.nick]);
      } else await removeOccupant(this.ctx, room, still, { statuses: [STATUS.technical] });
      await this.rooms.flush(room.bare);
    });
  }

  /** §10.9: everyone gets unavailable presence with <destroy/>, then the room is gone. */
  private async destroy(room: Room, detail: { reason?: string; alternate?: string }): Promise<void> {
    const destroy = x("destroy", { jid: detail.alternate }, detail.reason !== undefined && x("reason", {}, detail.reason));
    const occupants = [...room.occupants.values()];
    room.occupants.clear();
    room.nickOf.clear();
    for (const occupant of occupants) {
      if (occupant.pendingPresence) clearTimeout(occupant.pendingPresence.timer);
      await this.deps.host.roomDirectory.leave(occupant.bare, room.bare);
      for (const full of occupant.sessions.keys()) {
        const p = occupantPresence(this.ctx, room, occupant, full, { self: true, withJid: true, unavailable: true, destroy });
        const item = p.getChild("x", NS_MUC_USER)?.getChild("item");
        if (item) item.attrs.affiliation = "none";
        await this.outbox.send(room, p);
      }
    }
    await this.ctx.dropRoom(room);
  }
}
