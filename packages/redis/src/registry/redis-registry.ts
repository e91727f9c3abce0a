/**
 * SessionRegistry on Redis for cluster mode: which resource is online on which edge.
 * Semantics match MemorySessionRegistry in @switchboard/core (registry-contract.ts proves it).
 *
 * A user's entries live in one hash (atomic per user via Lua); each node keeps an index set of its
 * sessions so a dead edge can be purged (liveness.ts). Hash and index live in different Cluster
 * slots, so they are written by separate commands, ordered so that a failure in between leaves
 * at worst an index member without an entry (harmless: purge and listNode check the entry), never
 * an entry without an index member (it would outlive its edge).
 */
import type { Redis } from "ioredis";
import { SessionLimitError, type BindOptions, type Listed, type ListingSessionWrites, type SessionInfo, type SessionLocation, type SessionPatch, type SessionRegistry } from "@switchboard/core";
import { BindBatcher } from "./bind-batch.js";
import { bounded, RegistryUnavailableError } from "./errors.js";
import { DEFAULT_PREFIX, memberOf, parseMember, RegistryKeys } from "./keys.js";
import { withScripts, type RegistryCommands } from "./scripts.js";

export interface RedisSessionRegistryOptions {
  /** key prefix, default "sb"; must not contain "{" or "}" (they would change the hash tag) */
  prefix?: string;
  /** every method rejects with RegistryUnavailableError("timeout") after this long; default 2000 ms */
  commandTimeoutMs?: number;
  /**
   * This node's liveness (NodeLiveness). When given, bind() rejects with reason "not-live" while
   * it is not ready: a session bound by a fenced node could be deleted by a purge still running
   * against it, leaving a stream the cluster cannot route to.
   */
  liveness?: { readonly ready: boolean };
}

/** The SessionInfo fields a patch may change (SessionPatch). */
const PATCHABLE = ["priority", "available", "interested", "presence", "ext", "detachedUntil"] as const;

export class RedisSessionRegistry implements SessionRegistry, ListingSessionWrites {
  private readonly redis: Redis & RegistryCommands;
  private readonly binds: BindBatcher;
  private readonly keys: RegistryKeys;
  private readonly timeoutMs: number;

  constructor(
    redis: Redis,
    private readonly opts: RedisSessionRegistryOptions = {},
  ) {
    this.redis = withScripts(redis);
    this.keys = new RegistryKeys(opts.prefix ?? DEFAULT_PREFIX);
    this.timeoutMs = opts.commandTimeoutMs ?? 2000;
    this.binds = new BindBatcher(this.redis, this.keys);
  }

  /**
   * If bind() rejects, the write may still happen later (a timeout cannot cancel it): the caller
   * should unbind(jid, sessionId) when it drops the stream; commands of one client run in order,
   * so that unbind cannot overtake the late bind. Binds of one tick share a pipeline
   * (bind-batch.ts): index members first, then the entries.
   */
  async bind(info: SessionInfo, opts?: BindOptions): Promise<SessionInfo | undefined> {
    return (await this.bindListed(info, opts)).result;
  }

  bindListed(info: SessionInfo, opts: BindOptions = {}): Promise<Listed<SessionInfo | undefined>> {
    return this.run("bind", async (expired) => {
      if (this.opts.liveness && !this.opts.liveness.ready) throw new RegistryUnavailableError("not-live", "bind");
      const max = opts.maxSessions ?? 0;
      const reply = await this.binds.bind(info, max, expired);
      // The caller already got a timeout: nothing was written (bind-batch.ts).
      if (!reply) return { result: undefined };
      const [raw, entries, refused] = reply;
      if (refused === "limit") {
        // The index member went in first; without an entry it is only a stale member.
        await this.redis.srem(this.keys.nodeSessions(info.nodeId), memberOf(info.jid, info.sessionId)).catch(() => undefined);
        const sessions = decodeAll(entries);
        throw new SessionLimitError(sessions.length, max, sessions);
      }
      const previous = decode(raw);
      if (previous && (previous.nodeId !== info.nodeId || previous.sessionId !== info.sessionId)) {
        // The replaced session no longer lives there. A failure here leaves only a stale member.
        await this.redis
          .srem(this.keys.nodeSessions(previous.nodeId), memberOf(previous.jid, previous.sessionId))
          .catch(() => undefined);
      }
      return { result: previous, sessions: decodeAll(entries) };
    });
  }

  async unbind(jid: string, sessionId: string): Promise<void> {
    await this.unbindListed(jid, sessionId);
  }

  unbindListed(jid: string, sessionId: string): Promise<Listed<void>> {
    return this.run("unbind", async () => {
      const [raw, entries] = await this.redis.switchboardRegistryUnbind(this.keys.sessionsOf(jid), jid, sessionId);
      const removed = decode(raw);
      if (removed) await this.redis.srem(this.keys.nodeSessions(removed.nodeId), memberOf(jid, sessionId));
      return { result: undefined, sessions: decodeAll(entries) };
    });
  }

  async update(jid: string, sessionId: string, patch: SessionPatch): Promise<void> {
    await this.updateListed(jid, sessionId, patch);
  }

  updateListed(jid: string, sessionId: string, patch: SessionPatch): Promise<Listed<void>> {
    return this.run("update", async () => {
      const set: Record<string, unknown> = {};
      const clear: string[] = [];
      for (const field of PATCHABLE) {
        if (!(field in patch)) continue;
        if (patch[field] === undefined) clear.push(field);
        else set[field] = patch[field];
      }
      const [, entries] = await this.redis.switchboardRegistryUpdate(this.keys.sessionsOf(jid), jid, sessionId, JSON.stringify(set), ...clear);
      return { result: undefined, sessions: decodeAll(entries) };
    });
  }

  async move(jid: string, fromSessionId: string, to: SessionLocation): Promise<SessionInfo | undefined> {
    return (await this.moveListed(jid, fromSessionId, to)).result;
  }

  /**
   * Index of the new node first, then the entry (checked and moved in one script), then the old
   * node's member: in between, at worst a stale member exists (see the file comment).
   */
  moveListed(jid: string, fromSessionId: string, to: SessionLocation): Promise<Listed<SessionInfo | undefined>> {
    return this.run("move", async () => {
      const member = memberOf(jid, to.sessionId);
      await this.redis.sadd(this.keys.nodeSessions(to.nodeId), member);
      const [fromNode, moved, entries] = await this.redis.switchboardRegistryMove(this.keys.sessionsOf(jid), jid, fromSessionId, to.nodeId, to.sessionId);
      if (fromNode === null || moved === null) {
        await this.redis.srem(this.keys.nodeSessions(to.nodeId), member);
        return { result: undefined, sessions: decodeAll(entries) };
      }
      if (fromNode !== to.nodeId || fromSessionId !== to.sessionId) {
        await this.redis.srem(this.keys.nodeSessions(fromNode), memberOf(jid, fromSessionId)).catch(() => undefined);
      }
      return { result: decode(moved), sessions: decodeAll(entries) };
    });
  }

  get(jid: string): Promise<SessionInfo | undefined> {
    return this.run("get", async () => decode(await this.redis.hget(this.keys.sessionsOf(jid), jid)));
  }

  list(bare: string): Promise<SessionInfo[]> {
    return this.run("list", async () => {
      const values = await this.redis.hvals(this.keys.userSessions(bare));
      return values.map((raw) => decode(raw)).filter((e): e is SessionInfo => e !== undefined);
    });
  }

  count(bare: string): Promise<number> {
    return this.run("count", () => this.redis.hlen(this.keys.userSessions(bare)));
  }

  listNode(nodeId: string): Promise<SessionInfo[]> {
    return this.run("listNode", async () => {
      const members = (await this.redis.smembers(this.keys.nodeSessions(nodeId))).map(parseMember);
      const wanted = members.filter((m): m is { jid: string; sessionId: string } => m !== undefined);
      if (wanted.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const m of wanted) pipeline.hget(this.keys.sessionsOf(m.jid), m.jid);
      const replies = (await pipeline.exec()) ?? [];
      const out: SessionInfo[] = [];
      replies.forEach(([error, raw], i) => {
        if (error) throw error;
        const entry = decode(raw as string | null);
        // Index members can be stale (see bind); the entry itself is the truth.
        if (entry && entry.nodeId === nodeId && entry.sessionId === wanted[i]!.sessionId) out.push(entry);
      });
      return out;
    });
  }

  private run<T>(operation: string, body: (expired: () => boolean) => Promise<T>): Promise<T> {
    return bounded(this.redis, operation, this.timeoutMs, body);
  }
}

function decodeAll(entries: string[] | null | undefined): SessionInfo[] {
  return (entries ?? []).map((raw) => decode(raw)).filter((e): e is SessionInfo => e !== undefined);
}

export function decode(raw: string | null | undefined): SessionInfo | undefined {
  if (raw === null || raw === undefined) return undefined;
  return JSON.parse(raw) as SessionInfo;
}
