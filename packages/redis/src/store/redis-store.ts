/**
 * Redis implementation of the Store port (@switchboard/core ports.ts) for cluster mode: all
 * durable user state lives in Redis so edges stay stateless (ARCHITECTURE.md "Edges are
 * stateless"). Semantics match the SQLite and in-memory stores (test/contracts/store-contract.ts).
 *
 * DURABILITY: "nothing accepted is lost on a crash" holds only if Redis runs with
 * `appendonly yes` and `appendfsync always` (each write fsynced to the AOF before the reply).
 * With the default `everysec`, a Redis crash or power loss may drop up to a second of accepted
 * offline messages and roster changes. The adapter cannot enforce server configuration; it
 * exposes checkDurability() so an entry point can log a warning or fail readiness. (The
 * project's docker-compose sets both options.)
 *
 * FAILURE: every method returns a promise that rejects on a Redis error or outage; nothing is
 * thrown asynchronously, so a Redis outage never crashes the process (ARCHITECTURE.md "Failure is
 * normal"). See openRedisStore for the client settings that make calls fail fast.
 */

import { setTimeout as sleep } from "node:timers/promises";
import { Redis, type RedisOptions } from "ioredis";
import type {
  AccountStore,
  BanStore,
  BlockStore,
  FastTokenStore,
  LastActivityStore,
  LoginRecord,
  OfflineStore,
  PepStore,
  PrivateStore,
  PushStore,
  RoomStore,
  RosterStore,
  Store,
  VCardStore,
} from "@switchboard/core";
import { redisPush } from "./push.js";
import { redisAccounts } from "./accounts.js";
import { redisBans } from "./bans.js";
import { redisRooms } from "./rooms.js";
import { redisPep } from "./pep.js";
import { assertValidPrefix } from "./keys.js";
import { defineStoreScripts, type RedisClient } from "./scripts.js";
import { redisBlocklist, redisFastTokens, redisLastActivity, redisOffline, redisPrivate, redisRoster, redisVCard } from "./user-data.js";
import { redisLoginReads, type LoginReads } from "./login-read.js";

export const DEFAULT_KEY_PREFIX = "sb";
const CLOSE_WAIT_MS = 1_000;

export interface RedisStoreOptions {
  /** Key prefix, default "sb". Must not contain "{", "}" or glob characters. */
  prefix?: string;
  /**
   * Quit the client on close(). Default false: a client handed in is shared and owned by the
   * caller. openRedisStore sets it for the client it creates.
   */
  quitClientOnClose?: boolean;
}

export interface DurabilityReport {
  /** appendonly is "yes" */
  aof: boolean;
  /** appendfsync value ("always" | "everysec" | "no"), or "unknown" if CONFIG is unavailable */
  fsync: string;
  /** why the settings could not be read (managed Redis often forbids CONFIG) */
  error?: string;
}

export class RedisStore implements Store {
  readonly accounts: Required<AccountStore>;
  readonly bans: BanStore;
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly vcard: VCardStore;
  readonly blocklist: BlockStore;
  readonly lastActivity: LastActivityStore;
  readonly privateXml: PrivateStore;
  readonly rooms: RoomStore;
  readonly push: PushStore;
  readonly fastTokens: FastTokenStore;
  readonly pep: PepStore;
  readonly prefix: string;
  private closed = false;
  private readonly logins: LoginReads;

  constructor(
    readonly client: RedisClient,
    private readonly options: RedisStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    assertValidPrefix(this.prefix);
    const scripts = defineStoreScripts(client);
    this.accounts = redisAccounts(client, scripts, this.prefix);
    this.bans = redisBans(client, scripts, this.prefix);
    this.logins = redisLoginReads(client, this.prefix);
    this.roster = { ...redisRoster(client, scripts, this.prefix), snapshot: (owner) => this.logins.rosterSnapshot(owner) };
    this.offline = redisOffline(client, scripts, this.prefix);
    this.vcard = redisVCard(client, this.prefix);
    this.blocklist = redisBlocklist(client, scripts, this.prefix);
    this.lastActivity = redisLastActivity(client, this.prefix);
    this.privateXml = redisPrivate(client, scripts, this.prefix);
    this.rooms = redisRooms(client, this.prefix);
    this.push = redisPush(client, scripts, this.prefix);
    this.fastTokens = redisFastTokens(client, scripts, this.prefix);
    this.pep = redisPep(client, this.prefix);
  }

  /** Credentials, ban, roster and blocklist in one script (login-read.ts). */
  readLogin(bare: string, now?: number): Promise<LoginRecord> {
    return this.logins.readLogin(bare, now);
  }

  /**
   * Reads appendonly/appendfsync. Never rejects: when CONFIG is forbidden or Redis is down the
   * report says "unknown" with the reason. On a Cluster this asks one node only.
   */
  async checkDurability(): Promise<DurabilityReport> {
    try {
      const [, appendonly] = (await this.client.config("GET", "appendonly")) as string[];
      const [, appendfsync] = (await this.client.config("GET", "appendfsync")) as string[];
      return { aof: appendonly === "yes", fsync: appendfsync ?? "unknown" };
    } catch (error) {
      return { aof: false, fsync: "unknown", error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Quits an owned client and waits until its socket is closed; a no-op for a shared client. */
  async close(): Promise<void> {
    if (this.closed || !this.options.quitClientOnClose) return;
    this.closed = true;
    const client = this.client;
    if (client.status === "end") return;
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    if (client.status === "ready") {
      // QUIT lets replies to commands already sent arrive before the socket closes.
      await client.quit().catch(() => client.disconnect());
    } else {
      // Connecting or reconnecting: nothing in flight can succeed, stop the reconnect loop.
      client.disconnect();
    }
    // Between reconnect attempts there is no socket, so ioredis never emits "end"; the client
    // is inert once disconnect() cleared its timer, so waiting is bounded rather than required.
    await Promise.race([ended, sleep(CLOSE_WAIT_MS)]);
  }
}

export interface OpenRedisStoreOptions {
  prefix?: string;
  /** Overrides for the ioredis client (merged over the fail-fast defaults below). */
  redis?: RedisOptions;
  /** Receives client errors (connection refused, reconnects); without it ioredis logs them. */
  onError?: (error: Error) => void;
}

/**
 * Client settings for cluster mode, chosen so that during a Redis outage calls fail within a few
 * seconds (new logins get a temporary error, readiness turns false) instead of hanging:
 * - maxRetriesPerRequest 1: a command issued while disconnected waits for at most one reconnect
 *   attempt, then rejects. The offline queue stays enabled so commands issued during the initial
 *   connect or a sub-second blip still succeed; with enableOfflineQueue=false every call made
 *   before "ready" would fail instantly, including at boot.
 * - connectTimeout 5 s: a blackholed host (no RST) does not hold commands for the OS default.
 * - commandTimeout 5 s: a hung or overloaded Redis that keeps the TCP connection open would
 *   otherwise hold a call forever, since retries only count reconnects.
 * - retryStrategy: ioredis reconnects forever with capped back-off, so recovery is automatic.
 */
export const FAIL_FAST_CLIENT_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  connectTimeout: 5_000,
  commandTimeout: 5_000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
};

/** Creates its own ioredis client for `url` (redis:// or rediss://); close() quits it. */
export function openRedisStore(url: string, options: OpenRedisStoreOptions = {}): RedisStore {
  const client = new Redis(url, { ...FAIL_FAST_CLIENT_OPTIONS, ...options.redis });
  if (options.onError) client.on("error", options.onError);
  const storeOptions: RedisStoreOptions = { quitClientOnClose: true };
  if (options.prefix !== undefined) storeOptions.prefix = options.prefix;
  return new RedisStore(client, storeOptions);
}
