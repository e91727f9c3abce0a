/**
 * Ports: the small interfaces the routing core depends on. Embedded (in-memory / SQLite)
 * implementations ship with the single node; Redis and NATS adapters live in their own packages
 * and are wired only by process entry points (see ARCHITECTURE.md "Ports and adapters").
 *
 * All user-keyed methods take a *bare JID string* ("user@domain", already normalised) so one
 * deployment can host several domains later without a schema change.
 */

// ---------------------------------------------------------------------------------------------
// Accounts (credentials are salted SCRAM material only; see @switchboard/sasl credentials.ts)

import type { EnvelopeStamp, Receipt } from "./bus-ledger.js";
import type { AccountCredentials } from "@switchboard/sasl";
export type { AccountCredentials, ScramCredential } from "@switchboard/sasl";

export interface AccountStore {
  /** Creates the account; rejects with AccountExistsError if it exists. */
  create(bare: string, credentials: AccountCredentials): Promise<void>;
  get(bare: string): Promise<AccountCredentials | undefined>;
  /** Replaces the credentials and forgets the account's FAST tokens (XEP-0484: a new password revokes them); rejects with AccountNotFoundError when absent. */
  setCredentials(bare: string, credentials: AccountCredentials): Promise<void>;
  /** Deletes the account and every piece of user data (roster, offline, vcard, blocklist, last activity, private XML, PEP nodes, ban, push registrations, FAST tokens). Returns false when absent. */
  delete(bare: string): Promise<boolean>;
  exists(bare: string): Promise<boolean>;
  /** Bare JIDs in lexical order. */
  list(): Promise<string[]>;
  /** Creates many accounts at once (bulk import); returns per-entry results in order. */
  createMany?(entries: Array<{ bare: string; credentials: AccountCredentials }>): Promise<Array<"created" | "exists">>;
}

export class AccountExistsError extends Error {
  override name = "AccountExistsError";
  constructor(readonly bare: string) {
    super(`account ${bare} already exists`);
  }
}

export class AccountNotFoundError extends Error {
  override name = "AccountNotFoundError";
  constructor(readonly bare: string) {
    super(`account ${bare} does not exist`);
  }
}

/**
 * A ban (`switchboard ban`): the account is refused at login on every node (RFC 6120 §6.5.1
 * `<account-disabled/>`) until it is lifted or `until` passes. It is per-user data, so deleting
 * the account deletes the ban.
 */
export interface Ban {
  /** bare JID (normalised) */
  jid: string;
  reason?: string;
  /** epoch ms the ban was made */
  since: number;
  /** epoch ms it ends; undefined = until unbanned */
  until?: number;
  /** who made it (the admin tool's label) */
  by?: string;
}

/**
 * A ban is in force while `now < until`. Readers take `now` so a caller (and a test) can ask
 * about another moment; stores only ever delete lazily what has ended by their own clock too, so
 * a question about the future never lifts a ban that is still in force today.
 */
export interface BanStore {
  /** Bans (or re-bans, replacing) a bare JID. */
  set(ban: Ban): Promise<void>;
  /** The ban in force for a bare JID, or undefined (an expired ban reads as none, and may be deleted lazily). */
  get(bare: string, now?: number): Promise<Ban | undefined>;
  /** Lifts a ban; false when there was none in force. */
  delete(bare: string): Promise<boolean>;
  /** Every ban in force, by JID. */
  list(now?: number): Promise<Ban[]>;
}

// ---------------------------------------------------------------------------------------------
// Rosters (RFC 6121 §2, subscription states §3 / Appendix A)

export type Subscription = "none" | "to" | "from" | "both";

export interface RosterItem {
  /** contact bare JID */
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  /** outbound request pending ("Pending Out", shown as ask='subscribe') */
  askOut: boolean;
  /** inbound request pending ("Pending In"); the contact's request is remembered across logins */
  askIn: boolean;
  /** optional status text sent with the pending inbound request, redelivered on login */
  askInStatus?: string;
  /** subscription pre-approved by the user (RFC 6121 §3.4) */
  approved: boolean;
  /**
   * false for entries that only hold subscription state (e.g. a pending inbound request from a
   * contact the user never added); they are not returned in roster gets or pushes.
   */
  inRoster: boolean;
}

export interface RosterStore {
  /** All entries, including inRoster=false state entries. */
  list(owner: string): Promise<RosterItem[]>;
  get(owner: string, contact: string): Promise<RosterItem | undefined>;
  /** Inserts or replaces; returns the new roster version (monotonic per owner). */
  put(owner: string, item: RosterItem): Promise<number>;
  /** Removes; returns the new roster version. */
  remove(owner: string, contact: string): Promise<number>;
  version(owner: string): Promise<number>;
  /** Optional: items and version in one read (a cache's load). */
  snapshot?(owner: string): Promise<RosterSnapshot>;
}

// ---------------------------------------------------------------------------------------------
// Offline messages (XEP-0160)

/**
 * One stored offline stanza. `id` is opaque, unique only among the owner's stanzas, and only
 * meaningful in `remove` for the owner it was peeked for.
 */
export interface StoredStanza {
  id: string;
  xml: string;
}

/**
 * Read-then-acknowledge: `peek` never removes, the caller `remove`s what it delivered. A single
 * read-and-delete step loses the messages when the process or connection dies between the
 * delete and the delivery; XEP-0160 storage must not lose anything it accepted.
 */
export interface OfflineStore {
  /**
   * Appends a serialized stanza unless the user already holds `cap` messages.
   * Returns false (nothing stored) when the cap is reached. Must be atomic per user.
   */
  push(owner: string, stanzaXml: string, cap: number): Promise<boolean>;
  /** Up to `limit` (default all) oldest stored stanzas, in arrival order, WITHOUT removing them. */
  peek(owner: string, limit?: number): Promise<StoredStanza[]>;
  /** Removes the given ids once delivered; unknown ids are ignored (idempotent). */
  remove(owner: string, ids: string[]): Promise<void>;
  count(owner: string): Promise<number>;
  /**
   * For stores several nodes share (optional): claims, for ttlMs, the delivery of `owner`'s
   * stored messages. Resolves undefined while another holder has it. Two resources of one user
   * coming online at once on two nodes would otherwise both peek and deliver the same messages;
   * the flush holds the claim while it runs (renewing it per batch).
   */
  claimDelivery?(owner: string, ttlMs: number): Promise<OfflineClaim | undefined>;
}

export interface OfflineClaim {
  /** extends the claim by its ttl; false when it was lost (expired and taken) */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// vcard-temp (XEP-0054) and blocking (XEP-0191)

export interface VCardStore {
  /** serialized <vCard xmlns='vcard-temp'/> element or undefined */
  get(owner: string): Promise<string | undefined>;
  set(owner: string, vcardXml: string): Promise<void>;
}

export interface BlockStore {
  list(owner: string): Promise<string[]>;
  /** Adds JIDs (any JID form); returns those actually added. */
  add(owner: string, jids: string[]): Promise<string[]>;
  /** Removes JIDs; an empty list clears everything. Returns those actually removed. */
  remove(owner: string, jids: string[]): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Last activity (XEP-0012 §4): when the user's last resource went away, and its goodbye

export interface LastActivity {
  /** epoch ms */
  at: number;
  /** the <status/> text of the unavailable presence the user left with, if any */
  status?: string;
}

export interface LastActivityStore {
  get(owner: string): Promise<LastActivity | undefined>;
  /** Replaces what was recorded. */
  set(owner: string, at: number, status?: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Private XML storage (XEP-0049): one serialized payload per namespace

export interface PrivatePayload {
  namespace: string;
  /** the serialized element(s) qualified by that namespace */
  xml: string;
}

export interface PrivateStore {
  get(owner: string, namespace: string): Promise<string | undefined>;
  /**
   * Stores or replaces the payloads, all or nothing: false (nothing stored) when the namespaces
   * the user does not hold yet would take it past `maxNamespaces`. Atomic per user.
   */
  set(owner: string, payloads: PrivatePayload[], maxNamespaces: number): Promise<boolean>;
  /** How many namespaces the user holds. */
  count(owner: string): Promise<number>;
}

/**
 * A persistent MUC room (XEP-0045 §10.1.3 `muc#roomconfig_persistentroom`): its configuration,
 * affiliations and subject as the MUC service serialises them; the store does not read `data`.
 */
export interface StoredRoom {
  /** the room's bare JID (normalised) */
  jid: string;
  data: string;
}

/** Persistent rooms, by service domain (the MUC service's `muc.domain`). */
export interface RoomStore {
  get(jid: string): Promise<StoredRoom | undefined>;
  /** Stores or replaces the room. */
  put(room: StoredRoom): Promise<void>;
  /** true when a room was removed */
  delete(jid: string): Promise<boolean>;
  /** Every persistent room of `domain`, ordered by JID. */
  list(domain: string): Promise<StoredRoom[]>;
}

/**
 * Where a MUC service's live rooms are served and what they hold right now (XEP-0045 in a
 * cluster): which worker node serves each room (exactly one at a time), the room's live state
 * (configuration, affiliations, subject, occupants) so another worker can take it over when its
 * node dies, a listing of the rooms for disco#items, and the rooms each user occupies, counted
 * across all workers. Embedded: in memory; cluster: Redis (a room's keys under its own hash tag,
 * a user's under theirs).
 */
export interface RoomDirectory {
  /** Announces `node` as a worker of the MUC service at `domain`. */
  addWorker(domain: string, node: string): Promise<void>;
  removeWorker(domain: string, node: string): Promise<void>;
  /** Nodes announced as workers of `domain` (alive or not: callers check liveness). */
  workers(domain: string): Promise<string[]>;
  /** The node serving the room, if any. */
  holder(room: string): Promise<string | undefined>;
  /**
   * Makes `node` the room's worker if nobody holds it, or if its holder is `replacing` (a node
   * the caller knows to be dead); returns the holder after the call (atomic).
   */
  claim(room: string, node: string, replacing?: string): Promise<string>;
  /** Gives the room up if `node` holds it. */
  release(room: string, node: string): Promise<void>;
  /** The room's live state: field → value, as the service wrote it. */
  getLive(room: string): Promise<Record<string, string>>;
  /** Sets and deletes fields of the room's live state in one step. */
  putLive(room: string, set: Record<string, string>, remove?: string[]): Promise<void>;
  /** Forgets the room: live state, holder and listing. */
  dropLive(room: string, domain: string): Promise<void>;
  /** Lists (or, with undefined, unlists) a room of `domain` for disco#items; `entry` is the service's JSON. */
  list(domain: string, room: string, entry: string | undefined): Promise<void>;
  /** Every listed room of `domain`: room JID → entry. */
  listed(domain: string): Promise<Map<string, string>>;
  /** Records that `user` (a bare JID) is in `room`; returns how many rooms they are in now. */
  join(user: string, room: string): Promise<number>;
  leave(user: string, room: string): Promise<void>;
  /** The rooms `user` is in, on any worker. */
  joinedBy(user: string): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Personal eventing (XEP-0163 on XEP-0060): a user's nodes, their configuration and items, and
// the entity-capabilities cache (XEP-0115) that tells which resources want which notifications.

/** XEP-0060 §4.5 access models PEP offers (XEP-0163 §4 default: presence). */
export type PepAccessModel = "presence" | "open" | "whitelist";

/** The node configuration a PEP service keeps (XEP-0060 §16.4.4 field names in comments). */
export interface PepNodeConfig {
  /** pubsub#access_model */
  accessModel: PepAccessModel;
  /** pubsub#max_items: most items kept, the newest win */
  maxItems: number;
  /** pubsub#persist_items: false keeps the last item only (for the last-published-item rule) */
  persistItems: boolean;
  /** pubsub#notify_retract */
  notifyRetract: boolean;
  /** pubsub#title */
  title?: string;
  /** pubsub#send_last_published_item (absent: on_sub_and_presence, XEP-0163 §4.3.2) */
  sendLastPublishedItem?: "never" | "on_sub" | "on_sub_and_presence";
}

export interface PepNode {
  node: string;
  config: PepNodeConfig;
}

export interface PepItem {
  id: string;
  /** the serialized payload element (the <item/>'s one child), empty when there is none */
  xml: string;
  /** bare JID of the publisher */
  publisher: string;
  /** epoch ms of publication */
  at: number;
}

export interface PepStore {
  /** The owner's nodes, by name. */
  nodes(owner: string): Promise<PepNode[]>;
  /**
   * The nodes of several owners in one step (one round trip in Redis): what a resource coming
   * online reads of every contact whose presence it receives. Owners without nodes are left out.
   */
  nodesOf(owners: string[]): Promise<Map<string, PepNode[]>>;
  node(owner: string, node: string): Promise<PepNodeConfig | undefined>;
  /** Creates a node unless it exists or the owner holds `maxNodes` already (atomic per user). */
  create(owner: string, node: string, config: PepNodeConfig, maxNodes: number): Promise<"created" | "exists" | "limit">;
  /** Replaces the configuration, dropping the oldest items past its maxItems; false when absent. */
  configure(owner: string, node: string, config: PepNodeConfig): Promise<boolean>;
  /** Deletes the node and its items; false when absent. */
  delete(owner: string, node: string): Promise<boolean>;
  /**
   * Stores an item as the node's newest (an item with the same id is replaced and moves up),
   * then drops the oldest past `maxItems`. False when the node does not exist.
   */
  publish(owner: string, node: string, item: PepItem, maxItems: number): Promise<boolean>;
  /** Items newest first, at most `limit`. */
  items(owner: string, node: string, limit?: number): Promise<PepItem[]>;
  /** The items with these ids that exist, newest first. */
  itemsById(owner: string, node: string, ids: string[]): Promise<PepItem[]>;
  /** Removes one item; false when it was not there. */
  retract(owner: string, node: string, id: string): Promise<boolean>;
  /** XEP-0115 §5.4 cache: the features of a verified `ver` (keyed by hash name and value). */
  capsGet(key: string): Promise<string[] | undefined>;
  capsPut(key: string, features: string[]): Promise<void>;
}

/** A user's roster as one read gives it: items (state entries too) and version. */
export interface RosterSnapshot {
  version: number;
  items: RosterItem[];
}

/** What a login reads of one account in one step (Store.readLogin). */
export interface LoginRecord {
  credentials?: AccountCredentials;
  /** the ban in force, as BanStore.get would say */
  ban?: Ban;
  roster: RosterSnapshot;
  blocklist: string[];
}

export interface Store {
  /**
   * Optional: credentials, ban, roster and blocklist of one account in one round trip, for a
   * login (issue 10, cheaper logins). Stores without it are read part by part.
   */
  readLogin?(bare: string, now?: number): Promise<LoginRecord>;
  accounts: AccountStore;
  bans: BanStore;
  roster: RosterStore;
  offline: OfflineStore;
  vcard: VCardStore;
  blocklist: BlockStore;
  lastActivity: LastActivityStore;
  privateXml: PrivateStore;
  rooms: RoomStore;
  push: PushStore;
  fastTokens: FastTokenStore;
  /** XEP-0163 personal eventing nodes and the XEP-0115 caps cache */
  pep: PepStore;
  close(): Promise<void>;
}

/**
 * XEP-0484 FAST: one token as stored. Never the token itself: `sealed` is the token encrypted
 * under a key derived from the server secret (c2s fast-tokens.ts), since the HT mechanisms need
 * the token as an HMAC key and a hash of it would not do.
 */
export interface FastToken {
  sealed: string;
  /** the HT mechanism it was issued for, e.g. HT-SHA-256-NONE */
  mechanism: string;
  /** epoch ms after which it is refused */
  expiry: number;
  /** the highest `count` a login with it used so far (XEP-0484 replay protection); 0: never used */
  count: number;
}

/** The tokens of one user agent: the latest issued, and the one before it, valid until `current` is first used. */
export interface FastTokens {
  current: FastToken;
  previous?: FastToken;
}

export interface FastTokenStore {
  get(owner: string, agent: string): Promise<FastTokens | undefined>;
  /**
   * Replaces the agent's tokens (`next` undefined: removes them) if they are still `expected`
   * (undefined: none), in one atomic step; false, and nothing written, when they changed meanwhile.
   * Two logins with one token cannot both pass.
   */
  swap(owner: string, agent: string, expected: FastTokens | undefined, next: FastTokens | undefined): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// Push notifications (XEP-0357): the app servers a user enabled, per account

export interface PushRegistration {
  /** the app server's JID (XEP-0357 §5 'jid') */
  jid: string;
  /** its PubSub node for this device */
  node: string;
  /** the publish-options data form the client gave, serialized (sent with every notification) */
  form?: string;
}

export interface PushStore {
  /** The user's registrations, ordered by JID then node. */
  list(owner: string): Promise<PushRegistration[]>;
  /**
   * Adds or replaces (same jid and node) a registration; false (nothing stored) when a new one
   * would take the user past `max`. Atomic per user.
   */
  put(owner: string, registration: PushRegistration, max: number): Promise<boolean>;
  /** Removes `jid`'s registration for `node`, or all of `jid`'s without one; how many went. */
  remove(owner: string, jid: string, node?: string): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Session registry: who is online where. Entries are plain data so they can live in Redis.

export interface SessionInfo {
  /** full JID (normalised) */
  jid: string;
  /** unique id of the stream holding it */
  sessionId: string;
  /** node (edge) that holds the stream */
  nodeId: string;
  /** last broadcast presence priority (RFC 6121 §4.7.2.3), 0 until presence is sent */
  priority: number;
  /** true after initial presence, false after unavailable */
  available: boolean;
  /** true once the client requested the roster ("interested resource", RFC 6121 §2.1.6) */
  interested: boolean;
  /** serialized last available presence, stamped, for probes; undefined when unavailable */
  presence?: string;
  /** epoch ms of bind */
  since: number;
  /** per-resource flags other nodes must see (e.g. carbons enabled), set by modules */
  ext?: Record<string, string | number | boolean>;
  /**
   * Set while the session has no stream (detached, e.g. waiting for a stream-management
   * resumption): epoch ms after which it ends. The resource stays bound and keeps its presence.
   */
  detachedUntil?: number;
}

/** The registry entry of a stream that has just bound: not yet available, no roster asked. */
export function freshSessionInfo(jid: string, sessionId: string, nodeId: string): SessionInfo {
  return { jid, sessionId, nodeId, priority: 0, available: false, interested: false, since: Date.now() };
}

export type SessionPatch = Partial<Pick<SessionInfo, "priority" | "available" | "interested" | "presence" | "ext" | "detachedUntil">>;

/** Where a moved session lives now (SessionRegistry.move). */
export interface SessionLocation {
  nodeId: string;
  sessionId: string;
}

export interface BindOptions {
  /**
   * Refuse (SessionLimitError) when the user already holds this many sessions, detached ones
   * included, and none of them is this full JID (a resource taken over is replaced, not added).
   * Checked in the same atomic step as the write, so two edges binding at once cannot both pass.
   * 0 or absent: no limit.
   */
  maxSessions?: number;
}

/** A bind refused by BindOptions.maxSessions (limits.maxSessionsPerUser). */
export class SessionLimitError extends Error {
  override readonly name = "SessionLimitError";
  constructor(
    readonly held: number,
    readonly max: number,
    /** the user's sessions as the refusal found them, when the registry says */
    readonly sessions?: SessionInfo[],
  ) {
    super(`the user already holds ${held} sessions (at most ${max})`);
  }
}

export interface SessionRegistry {
  /**
   * Registers a bound resource. If the full JID is already bound the previous entry is replaced
   * and returned, so the caller can close the old stream with <conflict/> (RFC 6120 §7.7.2.2).
   */
  bind(info: SessionInfo, opts?: BindOptions): Promise<SessionInfo | undefined>;
  /** Removes the entry only if it still belongs to sessionId (a newer bind wins). */
  unbind(jid: string, sessionId: string): Promise<void>;
  update(jid: string, sessionId: string, patch: SessionPatch): Promise<void>;
  /**
   * Moves a bound resource to another stream, on this node or another, atomically: only while
   * the entry still belongs to `fromSessionId` (a newer bind wins), keeping everything else
   * (availability, presence, flags) and moving its per-node index membership. Resolves the moved
   * entry, or undefined when the resource is gone or belongs to another session.
   */
  move(jid: string, fromSessionId: string, to: SessionLocation): Promise<SessionInfo | undefined>;
  get(jid: string): Promise<SessionInfo | undefined>;
  /** All resources of a bare JID. */
  list(bare: string): Promise<SessionInfo[]>;
  /** Number of sessions of a user (for limits). */
  count(bare: string): Promise<number>;
  /** Every session on one node (for purging a dead edge, admin listing). */
  listNode(nodeId: string): Promise<SessionInfo[]>;
}

/** A registry write's own result and the user's sessions right after it (ListingSessionWrites). */
export interface Listed<T> {
  result: T;
  /** every session of the user once the write applied; absent when the backend cannot say (nothing written) */
  sessions?: SessionInfo[];
}

/**
 * The writes of a SessionRegistry that also return what they left of the user's sessions, read
 * in the same atomic step (the Redis scripts). A cache in front of it (CachedSessionRegistry)
 * keeps that list instead of dropping its entry and reading the list again after its own write.
 */
export interface ListingSessionWrites {
  bindListed(info: SessionInfo, opts?: BindOptions): Promise<Listed<SessionInfo | undefined>>;
  unbindListed(jid: string, sessionId: string): Promise<Listed<void>>;
  updateListed(jid: string, sessionId: string, patch: SessionPatch): Promise<Listed<void>>;
  moveListed(jid: string, fromSessionId: string, to: SessionLocation): Promise<Listed<SessionInfo | undefined>>;
}

export function hasListingWrites(registry: SessionRegistry): registry is SessionRegistry & ListingSessionWrites {
  const r = registry as Partial<ListingSessionWrites>;
  return typeof r.bindListed === "function" && typeof r.updateListed === "function" && typeof r.unbindListed === "function" && typeof r.moveListed === "function";
}

// ---------------------------------------------------------------------------------------------
// Stanza bus: carries stanzas to the node that holds the destination stream. Envelopes have
// kinds, dispatched by kind on the receiving node; a kind a node does not know is dropped there
// (logged), never mistaken for a stanza of a closed stream.

/** Metadata that travels with an envelope: W3C trace context (`traceparent`), and the like. */
export type BusHeaders = Record<string, string>;

/** A stanza for one stream held by the destination node. */
export interface StanzaEnvelope {
  kind: "stanza";
  /** destination full JID */
  to: string;
  /** destination stream id, so a stanza for a replaced stream is not delivered to a newer one */
  sessionId: string;
  /** serialized stanza */
  xml: string;
  headers?: BusHeaders;
  /** its number from the sending node, for a delivery receipt (bus-ledger.ts) */
  stamp?: EnvelopeStamp;
}

/** The receiver's word that it handled `origin`'s numbered stanzas up to `upTo` (bus-ledger.ts). */
export interface ReceiptEnvelope {
  kind: "receipt";
  /** the node sending the receipt */
  origin: string;
  /** the life of the destination node the numbers belong to */
  life: string;
  upTo: number;
  headers?: BusHeaders;
}

/** An order for one stream on the destination node. */
export interface SessionControlEnvelope {
  kind: "session-control";
  to: string;
  sessionId: string;
  /**
   * conflict: its resource was bound by a newer stream elsewhere (RFC 6120 §7.7.2.2), the session
   * ends; moved: a resumption elsewhere took the session over, it lives on there
   */
  action: "conflict" | "moved";
  headers?: BusHeaders;
}

/** A stanza for a hosted component (MUC), for the shard of it the destination node serves. */
export interface ComponentEnvelope {
  kind: "component";
  /** the component's route name (its domain's route in host.routes) */
  component: string;
  /** which part of the component (a room), so the worker can find it without parsing */
  shard: string;
  xml: string;
  headers?: BusHeaders;
  /** its number from the sending node, for a delivery receipt (bus-ledger.ts) */
  stamp?: EnvelopeStamp;
}

/**
 * One stanza for several streams held by the destination node (a MUC room's message to its
 * occupants there): the node writes a copy addressed to each, so N occupants on E nodes cost E
 * publishes, not N. `xml` has no 'to'; each target's full JID is put in its copy.
 */
export interface MulticastEnvelope {
  kind: "multicast";
  targets: Array<{ to: string; sessionId: string }>;
  xml: string;
  headers?: BusHeaders;
  /** its number from the sending node, for a delivery receipt (bus-ledger.ts) */
  stamp?: EnvelopeStamp;
}

export type BusEnvelope = StanzaEnvelope | SessionControlEnvelope | ComponentEnvelope | MulticastEnvelope | ReceiptEnvelope;

/** One stanza seen by the traffic tap (published per user, to whoever watches that user). */
export interface TapEvent {
  /** the user watched (bare JID) */
  user: string;
  /** node that saw it */
  node: string;
  /** in: the user's client sent it; out: it was written to the user's client */
  direction: "in" | "out";
  /** the user's full JID it went through */
  jid: string;
  xml: string;
  /** epoch ms */
  at: number;
}

/**
 * Cluster-wide notices by type. The map is open: a module adds its own notice by augmenting it
 * (`declare module "@switchboard/core" { interface ControlMessages { "x.changed": { id: string } } }`),
 * so every notice is typed where it is sent and where it is read. What arrives from the wire is
 * untrusted: a handler still checks the fields it reads.
 */
export interface ControlMessages {
  /** drop these users' cached resource lists (CachedSessionRegistry) */
  "registry.invalidate": { bares: string[] };
  /** `owner`'s roster or blocklist changed: drop the cached copies (cached-user-data.ts) */
  "userdata.changed": { owner: string; parts: Array<"roster" | "blocklist"> };
  /**
   * `node` is gone (stopped, or purged after its death): what was sent to it and not confirmed
   * is routed again by its senders; a stopping node gives its exact final receipts (bus-ledger.ts)
   * and says so (`stopping`: its own goodbye, not a purge of a dead node or of a previous life)
   */
  "node.gone": { node: string; receipts: Receipt[]; stopping?: boolean };
  /** `node` is live (started, its subscriptions in force): others stop holding stanzas for it */
  "node.live": { node: string };
}

export type ControlType = keyof ControlMessages;

/** A cluster-wide notice every node receives; `origin` is the node that sent it. */
export type ControlMessage = { [K in ControlType]: { type: K; origin: string } & ControlMessages[K] }[ControlType];

/** A notice as a sender writes it (the host stamps the origin). */
export type ControlNotice = { [K in ControlType]: { type: K } & ControlMessages[K] }[ControlType];

export interface StanzaBus {
  /**
   * Sends to the node; resolves when handed to the transport, rejects when the bus cannot take
   * it (disconnected with a full reconnect buffer), so the caller can answer the sender.
   */
  publish(nodeId: string, envelope: BusEnvelope): Promise<void>;
  /** Receives everything addressed to this node. Returns an unsubscribe function. */
  subscribe(nodeId: string, handler: (envelope: BusEnvelope) => void): () => void;
  /** Sends a notice to every node (including the sender). */
  publishControl(message: ControlMessage): Promise<void>;
  /**
   * Like publishControl, but waits until `nodes` nodes (the sender included) have run their
   * control handlers, or `timeoutMs` passed; resolves to how many confirmed. For changes a user
   * must see take effect everywhere before the server answers them (a blocklist edit), never
   * for the hot path. When the bus cannot confirm (disconnected) it publishes like
   * publishControl and resolves 0: caches then converge on reconnect or by TTL.
   */
  publishControlConfirmed(message: ControlMessage, nodes: number, timeoutMs: number): Promise<number>;
  subscribeControl(handler: (message: ControlMessage) => void): () => void;
  /**
   * Resolves once everything published so far reached the bus server (optional; in-process buses
   * have nothing to wait for). Stream management calls it before acknowledging a client's
   * stanzas, so what the server said it handled is not lost with this process.
   */
  flush?(): Promise<void>;
  /** Publishes one tapped stanza of `event.user` to whoever watches that user (nobody: free). */
  publishTap(event: TapEvent): Promise<void>;
  /** Watches one user's traffic on every node (`user` a bare JID), or everyone's with "*". */
  subscribeTap(user: string, handler: (event: TapEvent) => void): () => void;
  /**
   * Answers requests on `topic` that any process on the bus may send to every node (the admin
   * commands): the handler's value, JSON-serialisable, is this node's answer; a handler that
   * throws answers `{ error: message }`. Returns an unsubscribe function.
   */
  serveRequests(topic: string, handler: (body: unknown) => Promise<unknown>): () => void;
  /**
   * Sends `body` to every node serving `topic` and collects their answers, until `enough` says
   * so or `timeoutMs` passed (nobody serving: an empty list at once, where the bus can tell).
   */
  requestAll(topic: string, body: unknown, opts: { timeoutMs: number; enough?: (answers: unknown[]) => boolean }): Promise<unknown[]>;
  /**
   * Called after the bus lost its connection and got it back: notices may have been missed, so
   * caches that rely on them must be flushed. Returns an unsubscribe function.
   */
  onReconnect(handler: () => void): () => void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Limiter: named policies and decisions that say why (the port itself lives in limits.ts).

export type { LimitDecision, LimitKeyKind, LimitPolicy, Limiter } from "./limits.js";
