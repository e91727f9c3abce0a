/**
 * The rooms this worker holds (XEP-0045 in a cluster, architecture.md "Multi-user chat"): a room
 * is served by the node holding it in the RoomDirectory. A stanza for a room nobody live holds
 * makes this node claim it — taking it over from a dead holder — and load it from its live
 * state (occupants included) or from the RoomStore. After each stanza that changed a room, the
 * fields it marked (the occupants it touched, or the room's own) are serialised and those that
 * differ from what was last written go to the directory, with the room's disco listing: a join
 * costs one occupant's entry, not the whole room's.
 */
import { type Jid, parseJid } from "@switchboard/xml";
import type { Host, Logger } from "@switchboard/core";
import { Room, defaultConfig } from "./room.js";

declare module "@switchboard/core" {
  interface ControlMessages {
    /** a MUC worker took `room` over from `from`, which it presumed dead: `from`, if alive, lets go */
    "muc.taken": { room: string; by: string; from: string };
  }
}

export class RoomHolding {
  private readonly rooms = new Map<string, Room>();
  /** rooms with live-state fields marked changed during the stanza being handled */
  private readonly dirty = new Set<Room>();
  /** rooms another live worker holds, as last looked up (so a stray stanza is passed on cheaply) */
  private readonly elsewhere = new Map<string, string>();
  private unfollow?: () => void;

  constructor(
    private readonly host: Host,
    private readonly domain: string,
    private readonly historyLength: number,
    private readonly log: Logger,
  ) {
    host.metrics.observe("switchboard_muc_rooms", { help: "Rooms held by this MUC worker" }, () => [[this.rooms.size]]);
    host.metrics.observe("switchboard_muc_occupants", { help: "Occupants of the rooms held here" }, () => {
      let n = 0;
      for (const room of this.rooms.values()) n += room.occupants.size;
      return [[n]];
    });
  }

  private get node(): string {
    return this.host.nodeId;
  }

  /**
   * Announces this node as a worker of the domain and lists the persistent public rooms for
   * disco#items (the listing is shared; rooms themselves are loaded when a stanza needs them).
   */
  async start(): Promise<void> {
    // Nodes can disagree for a moment on who is alive: a worker that took a room over from this
    // one while it was serving it says so, and this one stops serving the room.
    this.unfollow = this.host.bus.subscribeControl((m) => {
      if (m.type !== "muc.taken" || m.from !== this.node || m.by === this.node || typeof m.room !== "string") return;
      const room = this.rooms.get(m.room);
      this.elsewhere.set(m.room, m.by);
      if (!room) return;
      this.rooms.delete(m.room);
      this.log.warn({ room: m.room, by: m.by }, "another worker took over a room this node was serving (it presumed this node dead); letting it go");
    });
    await this.host.roomDirectory.addWorker(this.domain, this.node);
    let persistent = 0;
    for (const stored of await this.host.store.rooms.list(this.domain)) {
      try {
        const room = Room.restore(parseJid(stored.jid), stored.data, this.historyLength);
        await this.host.roomDirectory.list(this.domain, room.bare, listing(room));
        persistent++;
      } catch (err) {
        this.log.error({ err, room: stored.jid }, "a stored room could not be read; it is left in the store untouched");
      }
    }
    this.log.info({ domain: this.domain, persistentRooms: persistent }, "MUC service ready");
  }

  /** Gives every room up (a stop): other workers take them over from their live state at once. */
  async releaseAll(): Promise<void> {
    this.unfollow?.();
    const held = [...this.rooms.keys()];
    this.rooms.clear();
    await this.host.roomDirectory.removeWorker(this.domain, this.node).catch(() => {});
    for (const bare of held) await this.host.roomDirectory.release(bare, this.node).catch(() => {});
  }

  /** Forgets every room without giving it up (this node was fenced: others may hold them now). */
  forgetAll(): void {
    this.rooms.clear();
    this.elsewhere.clear();
  }

  /** A held room, unless destroyed. */
  get(bare: string): Room | undefined {
    const room = this.rooms.get(bare);
    return room && !room.destroyed ? room : undefined;
  }

  holds(room: Room): boolean {
    return this.rooms.get(room.bare) === room;
  }

  create(jid: Jid): Room {
    const room = new Room(jid, defaultConfig(this.historyLength));
    this.rooms.set(jid.bare, room);
    return room;
  }

  /** Marks occupants' entries (or, with none, the room's own) to be written after the stanza. */
  changed(room: Room, nicks: readonly string[]): void {
    this.dirty.add(room);
    if (nicks.length === 0) room.dirtyFields.add(Room.HEAD);
    for (const nick of nicks) room.dirtyFields.add(Room.occupantField(nick));
  }

  /** The room is gone (destroyed, or temporary and empty): out of memory and of the directory. */
  async drop(room: Room): Promise<void> {
    room.destroyed = true;
    this.dirty.delete(room);
    if (this.rooms.get(room.bare) === room) this.rooms.delete(room.bare);
    await this.host.roomDirectory.dropLive(room.bare, this.domain);
  }

  /**
   * Who serves the room: this node when it holds it (loading it on a first stanza), or the live
   * worker that does. A room nobody live holds is claimed here, taking it over from a dead one.
   */
  async own(bare: string): Promise<string> {
    if (this.rooms.has(bare)) return this.node;
    const known = this.elsewhere.get(bare);
    if (known !== undefined && this.host.isNodeAlive(known)) return known;
    this.elsewhere.delete(bare);
    const directory = this.host.roomDirectory;
    const current = await directory.holder(bare);
    if (current !== undefined && current !== this.node && this.host.isNodeAlive(current)) {
      this.elsewhere.set(bare, current);
      return current;
    }
    const holder = current === this.node ? current : await directory.claim(bare, this.node, current);
    if (holder !== this.node) {
      this.elsewhere.set(bare, holder);
      return holder;
    }
    const room = await this.load(bare);
    if (room) {
      this.rooms.set(bare, room);
      if (current !== undefined && current !== this.node) {
        this.log.info({ room: bare, from: current }, "took over a room from a gone worker");
        await this.host.bus.publishControl({ type: "muc.taken", origin: this.node, room: bare, by: this.node, from: current }).catch(() => {});
      }
    }
    return this.node;
  }

  /** A room's live state (a worker that held it is gone) or, failing that, its persistent part. */
  private async load(bare: string): Promise<Room | undefined> {
    const jid = parseJid(bare);
    const live = Room.fromLive(jid, await this.host.roomDirectory.getLive(bare), this.historyLength);
    if (live) return live;
    const stored = await this.host.store.rooms.get(bare);
    return stored ? Room.restore(jid, stored.data, this.historyLength) : undefined;
  }

  /** Writes what changed in a room's live state (and its disco listing) to the directory. */
  async flush(bare: string): Promise<void> {
    const room = this.rooms.get(bare);
    const directory = this.host.roomDirectory;
    if (!room) {
      // a stanza for a room that does not exist: give the claim back
      await directory.release(bare, this.node);
      return;
    }
    if (!this.dirty.delete(room)) return;
    const set: Record<string, string> = {};
    const remove: string[] = [];
    for (const field of room.dirtyFields) {
      const value = room.liveField(field);
      if (value === undefined) {
        if (room.written.has(field)) remove.push(field);
      } else if (room.written.get(field) !== value) set[field] = value;
    }
    room.dirtyFields.clear();
    if (remove.length > 0 || Object.keys(set).length > 0) await directory.putLive(bare, set, remove);
    for (const field of remove) room.written.delete(field);
    for (const [field, value] of Object.entries(set)) room.written.set(field, value);
    const entry = listing(room);
    if (entry !== room.listedAs) {
      await directory.list(this.domain, bare, entry);
      room.listedAs = entry;
    }
  }
}

/** A room's disco#items entry (XEP-0045 §6.3): public, configured rooms only. */
function listing(room: Room): string | undefined {
  if (!room.config.public || room.locked || room.destroyed) return undefined;
  return JSON.stringify({ name: room.config.name || room.jid.local });
}
