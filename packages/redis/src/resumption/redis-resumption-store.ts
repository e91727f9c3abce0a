/**
 * ResumptionStore on Redis (cluster mode): XEP-0198 sessions survive the edge that held them.
 * Per session, under the user's hash tag so one script sees both: `<prefix>:{<bare>}:sm:<id>`
 * (meta hash) and `<prefix>:{<bare>}:smq:<id>` (queue list); detached sessions are also in
 * `<prefix>:sm:detached` (sorted by deadline) for the expiry sweep of any node. The id names the
 * session's JID (modules/sm/counters.ts), which is how the keys are found from it alone.
 */
import type { Redis } from "ioredis";
import { jidOfResumptionId, type AppendBatch, type ClaimMode, type DetachedState, type EnqueueResult, type QueuedStanza, type ResumptionOwner, type ResumptionRecord, type ResumptionStore } from "@switchboard/core";
import { withResumptionScripts, type ResumptionCommands } from "./scripts.js";

export interface RedisResumptionStoreOptions {
  prefix: string;
}

export class RedisResumptionStore implements ResumptionStore {
  readonly durable = true;
  private readonly redis: Redis & ResumptionCommands;

  constructor(redis: Redis, private readonly opts: RedisResumptionStoreOptions) {
    this.redis = withResumptionScripts(redis);
  }

  private keys(id: string): { meta: string; queue: string; seen: string; ended: string } {
    const jid = jidOfResumptionId(id);
    if (!jid) throw new Error("not a resumption id of this server");
    const user = `${this.opts.prefix}:{${jid.bare}}`;
    return { meta: `${user}:sm:${id}`, queue: `${user}:smq:${id}`, seen: `${user}:smseen:${id}`, ended: `${user}:smend:${id}` };
  }

  private get detachedIndex(): string {
    return `${this.opts.prefix}:sm:detached`;
  }

  async create(record: ResumptionRecord): Promise<void> {
    const k = this.keys(record.id);
    await this.redis
      .multi()
      .del(k.meta, k.queue, k.seen)
      .hset(k.meta, {
        jid: record.jid,
        sessionId: record.sessionId,
        ownerNode: record.owner?.nodeId ?? "",
        ownerSession: record.owner?.sessionId ?? "",
        inbound: record.inbound,
        outbound: record.outbound,
        state: JSON.stringify(record.state),
        detachedUntil: record.detachedUntil ?? "",
      })
      .exec();
    if (record.queue.length > 0) await this.redis.rpush(k.queue, ...record.queue.map(encode));
  }

  async append(id: string, owner: ResumptionOwner, batch: AppendBatch): Promise<boolean> {
    const k = this.keys(id);
    const args: string[] = [];
    for (const e of batch.entries) args.push(e.bid ?? "", encode(e));
    for (const bid of batch.seen ?? []) args.push(bid, ""); // remembered, not queued
    const outbound = Math.max(batch.outbound, batch.entries.at(-1)?.seq ?? 0);
    return (await this.redis.switchboardSmAppend(k.meta, k.queue, k.seen, owner.nodeId, owner.sessionId, batch.inbound, Date.now(), batch.ackedUpTo ?? -1, outbound, ...args)) === 1;
  }

  async ack(id: string, owner: ResumptionOwner, upTo: number, inbound: number, outbound?: number): Promise<boolean> {
    const k = this.keys(id);
    return (await this.redis.switchboardSmAck(k.meta, k.queue, owner.nodeId, owner.sessionId, upTo, inbound, outbound ?? "")) === 1;
  }

  async detach(id: string, owner: ResumptionOwner, d: DetachedState): Promise<boolean> {
    const k = this.keys(id);
    const ok = (await this.redis.switchboardSmDetach(k.meta, k.queue, k.seen, owner.nodeId, owner.sessionId, d.until, d.inbound, d.outbound, JSON.stringify(d.state), Date.now(), d.acked ?? -1, ...d.unsaved.map(encode))) === 1;
    if (ok) await this.redis.zadd(this.detachedIndex, d.until, id);
    return ok;
  }

  async orphan(id: string, deadNode: string, until: number): Promise<boolean> {
    const ok = (await this.redis.switchboardSmOrphan(this.keys(id).meta, deadNode, until)) === 1;
    if (ok) await this.redis.zadd(this.detachedIndex, until, id);
    return ok;
  }

  async enqueue(id: string, xml: string, at: number, max: number, bid?: string): Promise<EnqueueResult> {
    const k = this.keys(id);
    return (await this.redis.switchboardSmEnqueue(k.meta, k.queue, k.seen, xml, at, max, bid ?? "")) as EnqueueResult;
  }

  async claim(id: string, owner: ResumptionOwner, mode: ClaimMode, now = Date.now()): Promise<ResumptionRecord | undefined> {
    let k: ReturnType<RedisResumptionStore["keys"]>;
    try {
      k = this.keys(id);
    } catch {
      return undefined;
    }
    const reply = await this.redis.switchboardSmClaim(k.meta, k.queue, k.seen, owner.nodeId, owner.sessionId, mode, now);
    if (!reply) return undefined;
    await this.redis.zrem(this.detachedIndex, id);
    const [flat, queue, seen] = reply;
    const meta: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) meta[flat[i]!] = flat[i + 1]!;
    return {
      id,
      jid: meta.jid ?? "",
      sessionId: meta.sessionId ?? "",
      owner: meta.ownerNode ? { nodeId: meta.ownerNode, sessionId: meta.ownerSession ?? "" } : undefined,
      inbound: Number(meta.inbound ?? 0),
      outbound: Number(meta.outbound ?? 0),
      state: parseState(meta.state),
      detachedUntil: meta.detachedUntil ? Number(meta.detachedUntil) : undefined,
      queue: queue.map(decode).filter((e): e is QueuedStanza => e !== undefined),
      seen,
      saved: meta.saved === "1",
      written: meta.written ? Number(meta.written) : undefined,
    };
  }

  async expired(now: number, limit: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.detachedIndex, "-inf", now, "LIMIT", 0, limit);
  }

  async delete(id: string, remember?: { inbound: number; ms: number }): Promise<void> {
    let k: ReturnType<RedisResumptionStore["keys"]>;
    try {
      k = this.keys(id);
    } catch {
      return;
    }
    const tx = this.redis.multi().del(k.meta, k.queue, k.seen);
    if (remember) tx.set(k.ended, remember.inbound, "PX", Math.max(1, Math.round(remember.ms)));
    await tx.exec();
    await this.redis.zrem(this.detachedIndex, id);
  }

  async ended(id: string): Promise<number | undefined> {
    let k: ReturnType<RedisResumptionStore["keys"]>;
    try {
      k = this.keys(id);
    } catch {
      return undefined;
    }
    const raw = await this.redis.get(k.ended);
    return raw === null ? undefined : Number(raw);
  }
}

function encode(entry: QueuedStanza): string {
  return JSON.stringify(entry.bid ? { seq: entry.seq, xml: entry.xml, at: entry.at, bid: entry.bid } : { seq: entry.seq, xml: entry.xml, at: entry.at });
}

function decode(raw: string): QueuedStanza | undefined {
  try {
    const e = JSON.parse(raw) as Partial<QueuedStanza>;
    if (typeof e.seq !== "number" || typeof e.xml !== "string" || typeof e.at !== "number") return undefined;
    return typeof e.bid === "string" ? { seq: e.seq, xml: e.xml, at: e.at, bid: e.bid } : { seq: e.seq, xml: e.xml, at: e.at };
  } catch {
    return undefined;
  }
}

function parseState(raw: string | undefined): Record<string, unknown> {
  try {
    const state = JSON.parse(raw ?? "{}") as unknown;
    return typeof state === "object" && state !== null ? (state as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
