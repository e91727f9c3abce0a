/**
 * One room's state (XEP-0045 §4): its configuration, affiliations (long-lived, by bare JID),
 * occupants (by nick, each with the sessions that joined under it), subject and history. The
 * feature files (join.ts, messages.ts, admin.ts, owner.ts) change it; only the persistent part
 * (configuration, affiliations, subject) is serialised, for the RoomStore.
 */
import { type Element, type Jid, parseFrame } from "@switchboard/xml";
import { History } from "./history.js";

export type Affiliation = "owner" | "admin" | "member" | "outcast" | "none";
export type Role = "moderator" | "participant" | "visitor" | "none";

export const AFFILIATIONS: readonly Affiliation[] = ["owner", "admin", "member", "outcast", "none"];
export const ROLES: readonly Role[] = ["moderator", "participant", "visitor", "none"];

/** §10.2: what the owner's form sets (muc#roomconfig fields, config-form.ts). */
export interface RoomConfig {
  name: string;
  description: string;
  persistent: boolean;
  /** listed in the service's disco#items */
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  /** empty: no password */
  password: string;
  /** 0: the service's limit */
  maxUsers: number;
  /** who sees occupants' real JIDs */
  whois: "moderators" | "anyone";
  /** participants may change the subject */
  changeSubject: boolean;
  /** participants may invite others (always true for admins and owners) */
  allowInvites: boolean;
  /** who may send private messages */
  allowPm: "anyone" | "participants" | "moderators" | "none";
  /** groupchat messages kept for new occupants */
  historyLength: number;
}

export function defaultConfig(historyLength: number): RoomConfig {
  return {
    name: "",
    description: "",
    persistent: false,
    public: true,
    membersOnly: false,
    moderated: false,
    password: "",
    maxUsers: 0,
    whois: "moderators",
    changeSubject: false,
    allowInvites: false,
    allowPm: "anyone",
    historyLength,
  };
}

export interface AffiliationEntry {
  affiliation: Exclude<Affiliation, "none">;
  reason?: string;
  /** the nick reserved for a member (§7.10) */
  nick?: string;
}

export interface Occupant {
  nick: string;
  /** the user's bare JID */
  bare: string;
  role: Role;
  /** full JID → that session's latest presence as the client sent it */
  sessions: Map<string, Element>;
  /** XEP-0421: stable per (room, user) */
  occupantId: string;
  /** epoch ms the room last saw this occupant's presence */
  presenceAt: number;
  /** a status change waiting for muc.minPresenceIntervalSeconds to pass (join.ts) */
  pendingPresence?: { full: string; timer: NodeJS.Timeout };
}

export interface Subject {
  text: string;
  /** nick of who set it ('' when set by the service) */
  by: string;
  at: number;
}

export class Room {
  config: RoomConfig;
  readonly affiliations = new Map<string, AffiliationEntry>();
  readonly occupants = new Map<string, Occupant>();
  /** full JID → nick */
  readonly nickOf = new Map<string, string>();
  subject?: Subject;
  readonly history: History;
  /** §10.1.1: created and waiting for its owner's configuration; nobody else may enter */
  locked = false;
  /** set once destroyed: stanzas still queued for it are answered as for a room that does not exist */
  destroyed = false;
  /** epoch ms of the last join or leave, per bare JID (muc.minJoinIntervalSeconds) */
  readonly lastJoinOrLeave = new Map<string, number>();
  /** the live-state fields as last written to the RoomDirectory (service.ts writes the difference) */
  readonly written = new Map<string, string>();
  /** live-state fields to write after the stanza being handled (holding.ts) */
  readonly dirtyFields = new Set<string>();
  /** its disco#items entry as last listed (undefined: not listed) */
  listedAs?: string;

  constructor(
    readonly jid: Jid,
    config: RoomConfig,
  ) {
    this.config = config;
    this.history = new History(config.historyLength);
  }

  get bare(): string {
    return this.jid.bare;
  }

  affiliationOf(bare: string): Affiliation {
    return this.affiliations.get(bare)?.affiliation ?? "none";
  }

  occupantByFull(full: string): Occupant | undefined {
    const nick = this.nickOf.get(full);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  occupantByBare(bare: string): Occupant | undefined {
    for (const o of this.occupants.values()) if (o.bare === bare) return o;
    return undefined;
  }

  /** The nick a member has reserved, or who holds `nick` as a reservation (§7.10). */
  reservedBy(nick: string): string | undefined {
    for (const [bare, entry] of this.affiliations) if (entry.nick === nick) return bare;
    return undefined;
  }

  owners(): string[] {
    return [...this.affiliations].filter(([, e]) => e.affiliation === "owner").map(([bare]) => bare);
  }

  /** The persistent part, as the RoomStore keeps it. */
  serialise(): string {
    return JSON.stringify({
      v: 1,
      config: this.config,
      affiliations: [...this.affiliations].map(([jid, e]) => ({ jid, ...e })),
      subject: this.subject,
    } satisfies SavedRoom);
  }

  /** A room as the RoomStore kept it; fields a newer build added fall back to defaults. */
  static restore(jid: Jid, data: string, historyLength: number): Room {
    const saved = JSON.parse(data) as Partial<SavedRoom>;
    const room = new Room(jid, { ...defaultConfig(historyLength), ...saved.config, persistent: true });
    for (const e of saved.affiliations ?? []) {
      if (!AFFILIATIONS.includes(e.affiliation) || e.affiliation === ("none" as string)) continue;
      room.affiliations.set(e.jid, { affiliation: e.affiliation, reason: e.reason, nick: e.nick });
    }
    if (saved.subject && typeof saved.subject.text === "string") room.subject = saved.subject;
    return room;
  }
  /** The live-state field of the room's own part; "o:<nick>" are the occupants'. */
  static readonly HEAD = "room";

  static occupantField(nick: string): string {
    return `o:${nick}`;
  }

  /**
   * One live-state field as the RoomDirectory keeps it: HEAD (configuration, affiliations,
   * subject, lock) or an occupant's (its sessions with their latest presence, role, id);
   * undefined for an occupant who is not in the room.
   */
  liveField(field: string): string | undefined {
    if (field === Room.HEAD) {
      return JSON.stringify({ v: 1, config: this.config, affiliations: [...this.affiliations].map(([jid, e]) => ({ jid, ...e })), subject: this.subject, locked: this.locked });
    }
    const o = field.startsWith("o:") ? this.occupants.get(field.slice(2)) : undefined;
    if (!o) return undefined;
    const saved: SavedOccupant = { bare: o.bare, role: o.role, occupantId: o.occupantId, presenceAt: o.presenceAt, sessions: [...o.sessions].map(([full, p]) => [full, p.toString()]) };
    return JSON.stringify(saved);
  }

  /** A room another worker served, from its live fields (a takeover); undefined when there are none. */
  static fromLive(jid: Jid, fields: Record<string, string>, historyLength: number): Room | undefined {
    const head = fields[Room.HEAD];
    if (head === undefined) return undefined;
    const saved = JSON.parse(head) as Partial<SavedRoom> & { locked?: boolean };
    const room = Room.restore(jid, head, historyLength);
    room.config = { ...defaultConfig(historyLength), ...saved.config };
    room.locked = saved.locked === true;
    for (const [field, value] of Object.entries(fields)) {
      if (!field.startsWith("o:")) continue;
      const nick = field.slice(2);
      const o = JSON.parse(value) as SavedOccupant;
      const sessions = new Map(o.sessions.map(([full, xml]) => [full, parseFrame(xml)] as const));
      room.occupants.set(nick, { nick, bare: o.bare, role: ROLES.includes(o.role) ? o.role : "participant", occupantId: o.occupantId, presenceAt: o.presenceAt, sessions });
      for (const full of sessions.keys()) room.nickOf.set(full, nick);
    }
    for (const [field, value] of Object.entries(fields)) room.written.set(field, value);
    return room;
  }
}

interface SavedOccupant {
  bare: string;
  role: Role;
  occupantId: string;
  presenceAt: number;
  sessions: Array<[string, string]>;
}

interface SavedRoom {
  v: 1;
  config: RoomConfig;
  affiliations: Array<AffiliationEntry & { jid: string }>;
  subject?: Subject;
}

/** §5.1: the role an affiliation gets on entering. */
export function entryRole(room: Room, affiliation: Affiliation): Role {
  if (affiliation === "owner" || affiliation === "admin") return "moderator";
  if (affiliation === "member") return "participant";
  return room.config.moderated ? "visitor" : "participant";
}

/** §5.2: rank for "may act on someone with a lower affiliation". */
export function rank(a: Affiliation): number {
  return a === "owner" ? 4 : a === "admin" ? 3 : a === "member" ? 2 : a === "none" ? 1 : 0;
}
