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
import { Element, type Jid, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, StanzaError, errorReply, parseJid, x } from "@switchboard/xml";
import { addressedCopy, delivered, iqResult, type Host, type Logger, type SessionInfo, type StanzaEvent } from "@switchboard/core";
import { adminGet, adminSet } from "./admin.js";
import type { MucContext } from "./context.js";
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
  /** rooms whose live state changed during the stanza being handled */
  private readonly dirty = new Set<Room>();
  /** rooms another live worker holds, as last looked up (so a stray stanza is passed on cheaply) */
  private readonly elsewhere = new Map<string, string>();
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
      changed: (room) => void this.dirty.add(room),
      flush: (room) => this.flushLive(room.bare),
      send: (room, stanza) => this.send(room, stanza),
      sendMany: (room, stanza, fulls) => this.sendMany(room, stanza, fulls),
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
        if (opts?.keepLive) return;
        room.destroyed = true;
        service.dirty.delete(room);
        if (service.rooms.get(room.bare) === room) service.rooms.delete(room.bare);
        await host.roomDirectory.dropLive(room.bare, domain);
      },
      limitHit: (limit, room, user, detail) => log.info({ limit, room: "bare" in room ? room.bare : String(room), user, ...detail }, `refused by ${limit}`),
    };
  }

  private get node(): string {
    return this.deps.host.nodeId;
  }

  /**
   * Announces this node as a worker of the domain and lists the persistent public rooms for
   * disco#items (the listing is shared; rooms themselves are loaded when a stanza needs them).
   */
  async start(): Promise<void> {
    const { host, domain, log } = this.deps;
    await host.roomDirectory.addWorker(domain, this.node);
    let persistent = 0;
    for (const stored of await host.store.rooms.list(domain)) {
      try {
        const room = Room.restore(parseJid(stored.jid), stored.data, this.deps.options.historyMessages);
        await host.roomDirectory.list(domain, room.bare, listing(room));
        persistent++;
      } catch (err) {
        log.error({ err, room: stored.jid }, "a stored room could not be read; it is left in the store untouched");
      }
    }
    log.info({ domain, persistentRooms: persistent }, "MUC service ready");
  }

  /** Stops serving: other workers take the rooms over from their live state. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const { host, domain } = this.deps;
    const held = [...this.rooms.keys()];
    this.rooms.clear();
    await host.roomDirectory.removeWorker(domain, this.node).catch(() => {});
    for (const bare of held) await host.roomDirectory.release(bare, this.node).catch(() => {});
  }

  /** The cluster presumed this node dead: its rooms may be served by others now; forget them. */
  forgetAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.rooms.clear();
    this.elsewhere.clear();
  }

  room(bare: string): Room | undefined {
    return this.rooms.get(bare);
  }

  /**
   * A stanza for the service's domain; always handled (answered when refused). `forward` sends
   * a room's stanza on to the worker that holds it, when that is another node.
   */
  async handle(ev: StanzaEvent, forward: (node: string) => Promise<void>): Promise<void> {
    if (ev.to.local === "") return this.handleService(ev);
    const bare = ev.to.bare;
    await this.inLane(bare, async () => {
      const holder = await this.own(bare);
      if (holder !== this.node) return forward(holder);
      await this.handleRoom(ev);
      await this.flushLive(bare);
    });
  }

  /**
   * Who serves the room: this node when it holds it (loading it on a first stanza), or the live
   * worker that does. A room nobody live holds is claimed here, taking it over from a dead one.
   */
  private async own(bare: string): Promise<string> {
    if (this.rooms.has(bare)) return this.node;
    const { host } = this.deps;
    const known = this.elsewhere.get(bare);
    if (known !== undefined && host.isNodeAlive(known)) return known;
    this.elsewhere.delete(bare);
    const current = await host.roomDirectory.holder(bare);
    if (current !== undefined && current !== this.node && host.isNodeAlive(current)) {
      this.elsewhere.set(bare, current);
      return current;
    }
    const holder = current === this.node ? current : await host.roomDirectory.claim(bare, this.node, current);
    if (holder !== this.node) {
      this.elsewhere.set(bare, holder);
      return holder;
    }
    const room = await this.load(bare);
    if (room) {
      this.rooms.set(bare, room);
      if (current !== undefined && current !== this.node) this.deps.log.info({ room: bare, from: current }, "took over a room from a gone worker");
    }
    return this.node;
  }

  /** A room's live state (a worker that held it is gone) or, failing that, its persistent part. */
  private async load(bare: string): Promise<Room | undefined> {
    const { host, options } = this.deps;
    const jid = parseJid(bare);
    const live = Room.fromLive(jid, await host.roomDirectory.getLive(bare), options.historyMessages);
    if (live) return live;
    const stored = await host.store.rooms.get(bare);
    return stored ? Room.restore(jid, stored.data, options.historyMessages) : undefined;
  }

  /** Writes what changed in a room's live state (and its disco listing) to the directory. */
  private async flushLive(bare: string): Promise<void> {
    const room = this.rooms.get(bare);
    if (!room) {
      // a stanza for a room that does not exist: give the claim back
      await this.deps.host.roomDirectory.release(bare, this.node);
      return;
    }
    if (!this.dirty.delete(room)) return;
    const fields = room.liveFields();
    const set: Record<string, string> = {};
    const remove: string[] = [];
    for (const [field, value] of fields) if (room.written.get(field) !== value) set[field] = value;
    for (const field of room.written.keys()) if (!fields.has(field)) remove.push(field);
    const directory = this.deps.host.roomDirectory;
    await directory.putLive(bare, set, remove);
    for (const field of remove) room.written.delete(field);
    for (const [field, value] of Object.entries(set)) room.written.set(field, value);
    const entry = listing(room);
    if (entry !== room.listedAs) {
      await directory.list(this.deps.domain, bare, entry);
      room.listedAs = entry;
    }
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
      void this.inLane(room.bare, async () => {
        if (this.rooms.get(room.bare) !== room) return;
        await fn();
        await this.flushLive(room.bare);
      });
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
    if (!host.isLocalDomain(domainOf(to))) {
      await host.router.route(stanza);
      return;
    }
    const info = await this.infoOf(to);
    if (info && delivered(await host.deliver(info, stanza))) return;
    await this.undelivered(room, to, stanza);
  }

  private async sendMany(room: Room, stanza: Element, fulls: readonly string[]): Promise<void> {
    const host = this.deps.host;
    const targets: SessionInfo[] = [];
    for (const full of fulls) {
      if (!host.isLocalDomain(domainOf(full))) {
        await host.router.route(addressedCopy(stanza, full));
        continue;
      }
      const info = await this.infoOf(full);
      if (info) targets.push(info);
      else await this.undelivered(room, full, addressedCopy(stanza, full));
    }
    for (const [full, outcome] of await host.deliverMany(targets, stanza)) {
      if (!delivered(outcome)) await this.undelivered(room, full, addressedCopy(stanza, full));
    }
  }

  /**
   * Where an occupant's session is now: the registry, whose cluster adapter caches each user's
   * sessions on every node and drops them on every change (a rebind, a resumption elsewhere),
   * so this costs no Redis round trip and is never stale for long.
   */
  private infoOf(full: string): Promise<SessionInfo | undefined> {
    return this.deps.host.registry.get(full);
  }

  /** A write to an occupant's session failed: it is gone, and leaves the room (status 333), in the room's turn. */
  private async undelivered(room: Room, to: string, stanza: Element): Promise<void> {
    const occupant = room.occupantByFull(to);
    if (!occupant || (stanza.name === "presence" && stanza.attrs.type === "unavailable")) return;
    this.deps.log.debug({ room: room.bare, to }, "occupant's session is gone; it leaves the room");
    void this.inLane(room.bare, async () => {
      const still = this.rooms.get(room.bare) === room ? room.occupantByFull(to) : undefined;
      if (!still) return;
      if (still.sessions.size > 1) {
        still.sessions.delete(to);
        room.nickOf.delete(to);
        this.dirty.add(room);
      } else await removeOccupant(this.ctx, room, still, { statuses: [STATUS.technical] });
      await this.flushLive(room.bare);
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
        await this.send(room, p);
      }
    }
    await this.ctx.dropRoom(room);
  }
}

/** A room's disco#items entry (XEP-0045 §6.3): public, configured rooms only. */
function listing(room: Room): string | undefined {
  if (!room.config.public || room.locked || room.destroyed) return undefined;
  return JSON.stringify({ name: room.config.name || room.jid.local });
}

function domainOf(jid: string): string {
  const at = jid.indexOf("@");
  const slash = jid.indexOf("/", at + 1);
  return jid.slice(at + 1, slash === -1 ? undefined : slash);
}
