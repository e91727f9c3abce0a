/**
 * The MUC service (XEP-0045) at its domain: the rooms this process serves, each handling its
 * stanzas one at a time in arrival order (a lane per room, so a join, a kick and a message never
 * interleave halfway), dispatched to the feature files by stanza kind and address: the service
 * itself (disco), a room (groupchat, invitations, admin and owner IQs) or an occupant (entering,
 * private messages, self-ping). Persistent rooms are kept in the RoomStore and loaded at start.
 */
import { createHmac } from "node:crypto";
import { Element, type Jid, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, StanzaError, errorReply, parseJid, x } from "@switchboard/xml";
import { iqResult, type Host, type Logger, type StanzaEvent } from "@switchboard/core";
import { adminGet, adminSet } from "./admin.js";
import { JoinedRooms, type MucContext } from "./context.js";
import { roomInfo, roomItems, serviceInfo, serviceItems } from "./disco.js";
import { handleRoomPresence, removeOccupant } from "./join.js";
import { handlePrivateMessage, handleRoomMessage } from "./messages.js";
import { NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_USER, STATUS } from "./ns.js";
import type { MucOptions } from "./options.js";
import { ownerGet, ownerSet } from "./owner.js";
import { occupantPresence } from "./presence.js";
import { Room, defaultConfig, type Affiliation } from "./room.js";

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
  private readonly rooms = new Map<string, Room>();
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly ctx: MucContext;

  constructor(private readonly deps: MucServiceDeps) {
    const { host, options, log, domain } = deps;
    const admins = new Set(deps.admins);
    const service = this;
    this.ctx = {
      host,
      options,
      log,
      domain,
      admins,
      joined: new JoinedRooms(),
      send: (room, stanza) => this.send(room, stanza),
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
      persistentRoomsOwnedBy: (bare) => [...this.rooms.values()].filter((r) => r.config.persistent && r.affiliationOf(bare) === "owner").length,
      destroy: (room, detail) => this.destroy(room, detail),
      dropRoom: async (room, opts) => {
        if (!opts?.keepLive) {
          room.destroyed = true;
          if (service.rooms.get(room.bare) === room) service.rooms.delete(room.bare);
        }
        await host.store.rooms.delete(room.bare);
      },
      limitHit: (limit, room, user, detail) => log.info({ limit, room: "bare" in room ? room.bare : String(room), user, ...detail }, `refused by ${limit}`),
    };
  }

  /** Loads the persistent rooms of the service's domain. */
  async start(): Promise<void> {
    for (const stored of await this.deps.host.store.rooms.list(this.deps.domain)) {
      try {
        const jid = parseJid(stored.jid);
        this.rooms.set(jid.bare, Room.restore(jid, stored.data, this.deps.options.historyMessages));
      } catch (err) {
        this.deps.log.error({ err, room: stored.jid }, "a stored room could not be read; it is left in the store untouched");
      }
    }
    this.deps.log.info({ domain: this.deps.domain, persistentRooms: this.rooms.size }, "MUC service ready");
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  room(bare: string): Room | undefined {
    return this.rooms.get(bare);
  }

  /** A stanza for the service's domain; always handled (answered when refused). */
  async handle(ev: StanzaEvent): Promise<void> {
    if (ev.to.local === "") return this.handleService(ev);
    await this.inLane(ev.to.bare, () => this.handleRoom(ev));
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
    await this.answerIq(ev, (payload) => {
      const type = stanza.attrs.type;
      if (type === "get" && payload.attrs.xmlns === NS_DISCO_INFO) return serviceInfo(payload);
      if (type === "get" && payload.attrs.xmlns === NS_DISCO_ITEMS) return serviceItems([...this.rooms.values()], payload);
      if (type === "get" && payload.attrs.xmlns === NS_PING) return undefined;
      throw new StanzaError("service-unavailable");
    });
  }

  private async handleRoom(ev: StanzaEvent): Promise<void> {
    const live = this.rooms.get(ev.to.bare);
    const room = live && !live.destroyed ? live : undefined;
    const kind = ev.stanza.name;
    if (kind === "presence") {
      await handleRoomPresence(this.ctx, ev, {
        room,
        create: (jid) => this.createRoom(jid),
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

  private createRoom(jid: Jid): Room {
    const room = new Room(jid, defaultConfig(this.deps.options.historyMessages));
    this.rooms.set(jid.bare, room);
    return room;
  }

  private later(room: Room, delayMs: number, fn: () => Promise<void>): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.inLane(room.bare, fn);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  private async roomIq(ev: StanzaEvent, room: Room | undefined): Promise<void> {
    const type = ev.stanza.attrs.type;
    if (type !== "get" && type !== "set") return; // the rooms send no requests
    await this.answerIq(ev, async (payload) => {
      const ns = payload.attrs.xmlns;
      if (ev.to.resource !== "") {
        // XEP-0410: a client checks it is still joined by pinging its own occupant JID.
        if (type === "get" && ns === NS_PING && payload.name === "ping") {
          if (room && room.occupantByFull(ev.from.full)?.nick === ev.to.resource) return undefined;
          throw new StanzaError("not-acceptable", "you are not in this room under that nickname");
        }
        throw new StanzaError("service-unavailable", "requests to occupants are not passed on");
      }
      if (!room || (room.locked && this.ctx.affiliation(room, ev.from.bare) !== "owner")) throw new StanzaError("item-not-found", "there is no such room");
      if (type === "get" && ns === NS_DISCO_INFO) return roomInfo(this.ctx, room, payload);
      if (type === "get" && ns === NS_DISCO_ITEMS) return roomItems(payload);
      if (type === "get" && ns === NS_PING) return undefined;
      if (ns === NS_MUC_ADMIN && payload.name === "query") return type === "get" ? adminGet(this.ctx, room, ev.from.full, payload) : adminSet(this.ctx, room, ev.from.full, payload);
      if (ns === NS_MUC_OWNER && payload.name === "query") return type === "get" ? ownerGet(this.ctx, room, ev.from.full) : ownerSet(this.ctx, room, ev.from.full, payload);
      throw new StanzaError("service-unavailable");
    });
  }

  /** Runs an IQ handler and answers: its result, its StanzaError, or internal-server-error. */
  private async answerIq(ev: StanzaEvent, handler: (payload: Element) => Promise<Element | void> | Element | void): Promise<void> {
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
    reply.attrs.to = ev.from.full;
    await this.deps.host.router.reply(ev, reply);
  }

  /**
   * Writes from a room to one of its occupants' sessions (or an invitee). A local session that
   * is gone, or refuses the stanza because it is being closed, leaves the room (status 333).
   */
  private async send(room: Room, stanza: Element): Promise<void> {
    const to = stanza.attrs.to!;
    const host = this.deps.host;
    const domain = to.slice(to.indexOf("@") + 1, to.includes("/") ? to.indexOf("/") : undefined);
    if (!host.isLocalDomain(domain)) {
      await host.router.route(stanza);
      return;
    }
    const outcome = await host.deliverToResource(to, stanza);
    if (outcome !== "offline" && outcome !== "unreachable" && outcome !== "refused") return;
    const occupant = room.occupantByFull(to);
    if (!occupant || stanza.name === "presence" && stanza.attrs.type === "unavailable") return;
    this.deps.log.debug({ room: room.bare, to, outcome }, "occupant's session is gone; it leaves the room");
    void this.inLane(room.bare, async () => {
      const still = room.occupantByFull(to);
      if (!still) return;
      if (still.sessions.size > 1) {
        still.sessions.delete(to);
        room.nickOf.delete(to);
        return;
      }
      await removeOccupant(this.ctx, room, still, { statuses: [STATUS.technical] });
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
      if (!room.occupantByBare(occupant.bare)) this.ctx.joined.remove(occupant.bare, room.bare);
      for (const full of occupant.sessions.keys()) {
        const p = occupantPresence(this.ctx, room, occupant, full, { self: true, withJid: true, unavailable: true, destroy });
        const item = p.getChild("x", NS_MUC_USER)?.getChild("item");
        if (item) item.attrs.affiliation = "none";
        await this.send(room, p);
      }
    }
    await this.ctx.dropRoom(room);
  }
}
