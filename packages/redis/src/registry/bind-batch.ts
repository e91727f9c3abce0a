/**
 * Binds of concurrent logins written together (issue 10, cheaper logins): a reconnect storm
 * brings thousands of binds per second to an edge, and each used to cost two commands of its own
 * (the node index, then the user's entry). Binds asked for in the same tick share the first
 * step: one SADD per node index with every new member, then the users' bind scripts in one
 * pipeline — one command per login plus one per batch, two round trips per batch.
 *
 * The two steps stay apart, as the registry's rule wants (redis-registry.ts file comment): the
 * entries are written only once their index members are, so an entry never exists without its
 * member, and a bind whose caller gave up meanwhile (its deadline passed while the SADD waited,
 * e.g. on a Redis that stalled writes) is not written at all: a late entry would register a
 * stream that is being torn down.
 */
import type { Redis } from "ioredis";
import { memberOf, type RegistryKeys } from "./keys.js";
import { scriptedPipeline } from "./scripts.js";
import type { SessionInfo } from "@switchboard/core";

/** One bind's reply: the replaced entry and the user's entries after it (raw JSON); "limit": refused, nothing written. */
export type BindReply = [string | null, string[], "limit"?];

interface Pending {
  info: SessionInfo;
  /** limits.maxSessionsPerUser, checked by the bind script; 0: none */
  maxSessions: number;
  /** true once the caller's deadline passed (bounded() in errors.ts) */
  expired: () => boolean;
  resolve: (reply: BindReply | undefined) => void;
  reject: (err: unknown) => void;
}

export class BindBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  /** pipelines sent, and binds in them (tests and metrics read them) */
  readonly counters = { batches: 0, binds: 0 };

  constructor(
    private readonly redis: Redis,
    private readonly keys: RegistryKeys,
  ) {}

  /** Resolves the bind's reply, or undefined when the caller's deadline passed before the entry was written. */
  bind(info: SessionInfo, maxSessions: number, expired: () => boolean): Promise<BindReply | undefined> {
    return new Promise<BindReply | undefined>((resolve, reject) => {
      this.queue.push({ info, maxSessions, expired, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // after the current macrotask: every bind its handlers ask for joins this batch
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    this.counters.batches++;
    this.counters.binds += batch.length;
    const byNode = new Map<string, string[]>();
    for (const { info } of batch) {
      const index = this.keys.nodeSessions(info.nodeId);
      const members = byNode.get(index) ?? [];
      members.push(memberOf(info.jid, info.sessionId));
      byNode.set(index, members);
    }
    const indexes = [...byNode.keys()];
    const ready: Pending[] = [];
    try {
      const added = scriptedPipeline(this.redis);
      for (const index of indexes) added.sadd(index, ...byNode.get(index)!);
      const replies = (await added.exec()) ?? [];
      const failed = new Map<string, Error>();
      indexes.forEach((index, i) => {
        const error = replies[i]?.[0] ?? (replies[i] ? null : new Error("no reply in the pipeline"));
        if (error) failed.set(index, error);
      });
      for (const p of batch) {
        const error = failed.get(this.keys.nodeSessions(p.info.nodeId));
        if (error) p.reject(error);
        else if (p.expired()) p.resolve(undefined);
        else ready.push(p);
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    if (ready.length === 0) return;
    try {
      const binds = scriptedPipeline(this.redis);
      for (const { info, maxSessions } of ready) binds.switchboardRegistryBind(this.keys.sessionsOf(info.jid), info.jid, JSON.stringify(info), maxSessions);
      const replies = (await binds.exec()) ?? [];
      ready.forEach((p, i) => {
        const [error, reply] = replies[i] ?? [new Error("no reply in the pipeline"), null];
        if (error) p.reject(error);
        else p.resolve(reply as BindReply);
      });
    } catch (err) {
      for (const p of ready) p.reject(err);
    }
  }
}
