/**
 * What the room feature files share: the host, the settings, and the service's few operations
 * on rooms (sending from a room, saving, removing occupants, counting a user's rooms).
 */
import type { Element, Jid, StanzaErrorCondition } from "@switchboard/xml";
import type { Host, Logger, StanzaEvent } from "@switchboard/core";
import type { MucOptions } from "./options.js";
import type { Affiliation, Occupant, Room } from "./room.js";

export interface MucContext {
  readonly host: Host;
  readonly options: MucOptions;
  readonly log: Logger;
  /** the service's domain (conference.<domain>) */
  readonly domain: string;
  /** service administrators (top-level `admins`): owners of every room */
  readonly admins: ReadonlySet<string>;
  /** Writes a stanza from a room to one full JID; an occupant whose session is gone leaves. */
  send(room: Room, stanza: Element): Promise<void>;
  /**
   * Writes one stanza (no 'to') from a room to many of its occupants' sessions: one bus message
   * per edge holding some of them (Host.deliverMany), each edge fanning out to its own.
   */
  sendMany(room: Room, stanza: Element, fulls: readonly string[]): Promise<void>;
  /** Answers the event's sender with a stanza error (never an error to an error). */
  refuse(ev: StanzaEvent, condition: StanzaErrorCondition, text?: string): Promise<void>;
  /** Writes the room's persistent part to the store (no-op for a temporary room). */
  save(room: Room): Promise<void>;
  /** The affiliation that counts: service admins are owners everywhere. */
  affiliation(room: Room, bare: string): Affiliation;
  /** XEP-0421 id of a user in a room: stable, opaque, the same on every node. */
  occupantId(room: Room, bare: string): string;
  /**
   * Removes a room (destroyed, or temporary and empty) from memory and from the store;
   * `keepLive` only removes it from the store (it stopped being persistent but has occupants).
   */
  dropRoom(room: Room, opts?: { keepLive?: boolean }): Promise<void>;
  /** Persistent rooms of this service the user owns (muc.maxPersistentRoomsPerUser). */
  persistentRoomsOwnedBy(bare: string): Promise<number>;
  /**
   * Marks part of the room's live state as changed: the entries of the occupants named (changed
   * or gone), or with no nick the room's own (configuration, affiliations, subject, lock). It is
   * written to the RoomDirectory when the stanza is done, so another worker can take it over;
   * only what was marked is serialised again.
   */
  changed(room: Room, ...nicks: string[]): void;
  /** Writes the live state now, before an answer that others may act on (a room's listing). */
  flush(room: Room): Promise<void>;
  /** Destroys a room (§10.9): its occupants are told, then it is dropped. */
  destroy(room: Room, detail: { reason?: string; alternate?: string }): Promise<void>;
  /** Logs a refusal naming the limit that made it (the rate limits log themselves). */
  limitHit(limit: string, room: Room | Jid, user: string, detail?: Record<string, unknown>): void;
}

export type { Occupant };
