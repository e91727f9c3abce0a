/**
 * Node liveness, dead-edge purge and fencing for the Redis session registry
 * (ARCHITECTURE.md "Edge dies: … any surviving node purges them within seconds").
 *
 * Every node heartbeats `${prefix}:node:{id}:alive` (PX ttl) and, on the same beat, sweeps the
 * `${prefix}:nodes` set: a node whose alive key is gone is locked (SET NX PX, only while it is
 * still dead), its sessions are deleted entry by entry (only entries still that session on that
 * node), and `onPurged` receives exactly the deleted ones, on exactly one survivor. With the
 * defaults a dead node is purged at most ttl + heartbeat (6 s) after its last beat.
 *
 * Fencing: a node that could not heartbeat for longer than the TTL (Redis outage, partition,
 * long GC pause) may have been purged by others meanwhile: its streams are then unknown to the
 * cluster and nobody would route to them. On its next successful beat it detects this (alive
 * key gone and a purge lock held, or its epoch key deleted by a purge or lost with Redis' data)
 * and calls `onFenced()`: the edge
 * must close its local streams so clients reconnect and bind again. The node then purges its own
 * leftovers (reported through `onPurged`) and re-announces itself. Until then `ready` is false
 * and a RedisSessionRegistry given this liveness refuses to bind. If its key merely expired and
 * nobody acted (e.g. Redis itself was down for everyone), the node resumes without fencing.
 *
 * Busy main thread: with `heartbeatWorker`, a worker thread (heartbeat-worker.ts, its own Redis
 * connection) also extends the alive key while the node is live, so an edge whose event loop is
 * busy for longer than the TTL is not purged while it serves; it only ever extends a key that
 * still holds this process's token, so everything above (expiry, fencing) is unchanged, and it
 * stops when the main thread has been stuck for far longer than a busy spell.
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { silentLogger, type Logger, type SessionInfo } from "@switchboard/core";
import { bounded, isDown } from "./errors.js";
import { DEFAULT_PREFIX, RegistryKeys } from "./keys.js";
import { emptyPurge, purgeNodeSessions, type Purged } from "./purge.js";
import { withScripts, type RegistryCommands } from "./scripts.js";
import { HeartbeatWorker } from "./heartbeat-worker.js";

export interface NodeLivenessOptions {
  nodeId: string;
  /** key prefix, default "sb" (same as the registry's) */
  prefix?: string;
  /** alive key TTL, default 5000 ms */
  ttlMs?: number;
  /** heartbeat and purge sweep interval, default 1000 ms */
  heartbeatMs?: number;
  /** purge lock TTL, extended between batches, default 30000 ms */
  purgeLockMs?: number;
  /** deadline of each Redis step, default 2000 ms */
  commandTimeoutMs?: number;
  /** sessions removed by a purge (a dead node's, or this node's after fencing), for unavailable presence */
  onPurged: (sessions: SessionInfo[]) => void | Promise<void>;
  /**
   * When > 0, a purge keeps stream-management sessions (entry ext.sm) for this long, detached,
   * instead of deleting them (purge.ts) and reports them through `onDetached`. Default 0.
   */
  keepResumableMs?: number;
  /** stream-management sessions a purge kept, detached: their resumption state is now unowned */
  onDetached?: (sessions: SessionInfo[]) => void | Promise<void>;
  /**
   * A node's sessions are all purged (a dead node's by this survivor, or this node's own earlier
   * life's at start), after onPurged and onDetached: what was in flight to it can be routed again.
   */
  onNodePurged?: (nodeId: string) => void | Promise<void>;
  /** this node was (possibly) purged by others: close every local stream (see file comment) */
  onFenced?: () => void | Promise<void>;
  /**
   * Also extend the alive key from a worker thread with its own connection to `redisUrl` (the
   * same Redis), so a busy main thread is not declared dead; it stops when the main thread has
   * not ticked for `mainStallMs` (default 15 s, heartbeat-worker.ts).
   */
  heartbeatWorker?: { redisUrl: string; mainStallMs?: number };
  logger?: Logger;
}

type State = "stopped" | "establishing" | "live" | "fenced";

export class NodeLiveness {
  readonly nodeId: string;
  private readonly redis: Redis & RegistryCommands;
  private readonly keys: RegistryKeys;
  private readonly ttlMs: number;
  private readonly heartbeatMs: number;
  private readonly keepMs: number;
  private readonly lockMs: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  /** identifies this process's life in the alive key and purge locks */
  private readonly token = randomUUID();
  private state: State = "stopped";
  private lastBeatSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private tickInFlight: Promise<void> | undefined;
  private redisDownLogged = false;
  private readonly alive = new Map<string, boolean>();
  private readyWaiters: Array<() => void> = [];
  private readonly purges = new Map<string, Promise<void>>();
  /** see holdPurges() */
  private purgeHeldUntil = 0;
  private readonly worker?: HeartbeatWorker;

  constructor(
    redis: Redis,
    private readonly opts: NodeLivenessOptions,
  ) {
    this.nodeId = opts.nodeId;
    this.redis = withScripts(redis);
    this.keys = new RegistryKeys(opts.prefix ?? DEFAULT_PREFIX);
    this.ttlMs = opts.ttlMs ?? 5000;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.keepMs = opts.keepResumableMs ?? 0;
    this.lockMs = opts.purgeLockMs ?? 30_000;
    this.timeoutMs = opts.commandTimeoutMs ?? 2000;
    this.log = (opts.logger ?? silentLogger).child({ component: "node-liveness", nodeId: opts.nodeId });
    if (opts.heartbeatWorker) {
      this.worker = new HeartbeatWorker({
        ...opts.heartbeatWorker,
        aliveKey: this.keys.nodeAlive(this.nodeId),
        token: this.token,
        ttlMs: this.ttlMs,
        heartbeatMs: this.heartbeatMs,
        commandTimeoutMs: this.timeoutMs,
        connectionName: this.nodeId,
        log: this.log,
        // the key holds our token until sentAt + ttl: as good as a beat of our own
        onBeat: (sentAt) => {
          if (this.state === "live" && sentAt > this.lastBeatSentAt) this.lastBeatSentAt = sentAt;
        },
      });
    }
  }

  /** True while this node's alive key is known to be set: it may bind sessions. */
  get ready(): boolean {
    return this.state === "live" && Date.now() < this.lastBeatSentAt + this.ttlMs;
  }

  /**
   * From a cache refreshed every heartbeat, so routing never waits on Redis. A node not seen yet
   * counts as alive (most likely it just started); a node that left the nodes set counts as dead.
   */
  isAlive(nodeId: string): boolean {
    if (nodeId === this.nodeId) return this.ready;
    return this.alive.get(nodeId) ?? true;
  }

  /**
   * Live nodes as of the last sweep, this one included (at least 1): how many acknowledgements a
   * confirmed control notice waits for.
   */
  liveCount(): number {
    let count = 0;
    for (const [node, alive] of this.alive) if (alive && node !== this.nodeId) count++;
    return count + 1;
  }

  /**
   * `nodeId` said it stops: it counts as gone until a sweep sees its alive key again (a restart
   * under the same id).
   */
  left(nodeId: string): void {
    if (nodeId !== this.nodeId) this.alive.set(nodeId, false);
  }

  /** `nodeId` said it is live (a restart under the same id): alive without waiting for a sweep. */
  back(nodeId: string): void {
    if (nodeId !== this.nodeId) this.alive.set(nodeId, true);
  }

  /** Starts heartbeating and purging. Call purgeOwn() first when reusing a node id. */
  start(): void {
    if (this.state !== "stopped") return;
    this.state = "establishing";
    this.worker?.start();
    this.schedule(0);
  }

  /** Resolves once ready; rejects after timeoutMs (default 2 × ttl). */
  waitUntilReady(timeoutMs = 2 * this.ttlMs): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(new Error(`node ${this.nodeId} not live after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }

  /**
   * Clean shutdown (after the edge closed its streams): purges leftovers (reported through
   * onPurged), deletes the alive key and leaves the nodes set. If a session sneaked in meanwhile,
   * the node stays in the set so survivors purge it once the alive key is gone.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    clearTimeout(this.timer);
    await this.worker?.stop();
    await this.tickInFlight;
    await Promise.all(this.purges.values());
    const leftovers = emptyPurge();
    try {
      await bounded(this.redis, "stop", this.lockMs, async () => {
        if (!(await this.acquireOwnLock())) return; // someone is purging us: nothing left to do
        await purgeNodeSessions(this.redis, this.keys, this.nodeId, () => this.acquireOwnLock(), leftovers, this.keepMs);
        const k = this.nodeKeys();
        const remaining = await this.redis.switchboardLivenessRetire(k.alive, k.epoch, k.index, this.token);
        if (remaining === 0) await this.redis.srem(this.keys.nodes(), this.nodeId);
        await this.redis.switchboardLivenessReleaseLock(this.keys.nodePurgeLock(this.nodeId), this.token);
      });
    } finally {
      await this.report(leftovers);
    }
  }

  /**
   * Start-up of a node reusing its node id (restart with the same SWITCHBOARD_NODE_ID): removes
   * the sessions of its previous life before clients are accepted and returns them (for
   * unavailable presence). Waits while another node is purging them. The purge lock stays held
   * until start() re-announces the node, so no survivor purges it in between.
   */
  async purgeOwn(): Promise<SessionInfo[]> {
    if (this.state !== "stopped") throw new Error("purgeOwn() must run before start()");
    const purged = emptyPurge();
    const budgetMs = this.lockMs + 2 * this.ttlMs;
    const giveUpAt = Date.now() + budgetMs;
    await bounded(this.redis, "purgeOwn", budgetMs, async () => {
      while (!(await this.acquireOwnLock())) {
        // A survivor's lock expires after lockMs at worst; stop polling once the caller gave up.
        if (Date.now() > giveUpAt) return;
        await sleep(this.heartbeatMs);
      }
      await purgeNodeSessions(this.redis, this.keys, this.nodeId, () => this.acquireOwnLock(), purged, this.keepMs);
    });
    // Deleted ones are the caller's to report (returned); kept ones lost their owner just now.
    if (purged.detached.length > 0) await this.callback("onDetached", () => this.opts.onDetached?.(purged.detached));
    await this.callback("onNodePurged", () => this.opts.onNodePurged?.(this.nodeId));
    return purged.deleted;
  }

  private schedule(delayMs: number): void {
    if (this.state === "stopped") return;
    this.timer = setTimeout(() => {
      this.tickInFlight = this.tick().finally(() => {
        this.tickInFlight = undefined;
        this.schedule(this.heartbeatMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** One heartbeat and one purge sweep. Never rejects: failures are logged and retried next beat. */
  private async tick(): Promise<void> {
    // While the client is reconnecting, commands would only pile up in its offline queue.
    if (isDown(this.redis)) {
      this.holdPurges();
      if (!this.redisDownLogged) this.log.warn({ status: this.redis.status }, "redis unreachable; heartbeat paused");
      this.redisDownLogged = true;
      return;
    }
    try {
      if (this.state === "live") await bounded(this.redis, "heartbeat", this.timeoutMs, () => this.refresh());
      if (this.state === "fenced") await bounded(this.redis, "self-purge", this.lockMs, () => this.purgeSelf());
      if (this.state === "establishing") await bounded(this.redis, "establish", this.timeoutMs, () => this.establish());
      if (this.redisDownLogged) this.log.info({}, "redis reachable again; heartbeat resumed");
      this.redisDownLogged = false;
      await this.sweep();
    } catch (error) {
      this.holdPurges();
      this.log.warn({ err: error }, "liveness tick failed; retrying next heartbeat");
    }
  }

  private async refresh(): Promise<void> {
    const sentAt = Date.now();
    const k = this.nodeKeys();
    const result = await this.redis.switchboardLivenessRefresh(k.alive, k.lock, k.epoch, this.token, this.ttlMs);
    if (this.state !== "live") return; // stopped meanwhile
    if (result > 0) {
      if (result === 2) {
        this.log.warn({}, "alive key had expired but the node was not purged; resumed");
        this.holdPurges();
      }
      this.lastBeatSentAt = sentAt;
      await this.redis.sadd(this.keys.nodes(), this.nodeId); // self-heals a lost nodes entry
      return;
    }
    this.state = "fenced";
    this.worker?.live(false);
    this.log.error({}, "node was purged by the cluster while unreachable; fencing local streams");
    await this.callback("onFenced", () => this.opts.onFenced?.());
  }

  /** After fencing: purge what the survivors have not (yet) purged, under our own lock. */
  private async purgeSelf(): Promise<void> {
    if (!(await this.acquireOwnLock())) return; // a survivor is purging us: wait for it
    const purged = emptyPurge();
    try {
      if (!(await purgeNodeSessions(this.redis, this.keys, this.nodeId, () => this.acquireOwnLock(), purged, this.keepMs))) return;
    } finally {
      await this.report(purged);
    }
    if (this.state === "fenced") this.state = "establishing";
  }

  private async establish(): Promise<void> {
    const sentAt = Date.now();
    const k = this.nodeKeys();
    if ((await this.redis.switchboardLivenessEstablish(k.alive, k.lock, k.epoch, this.token, this.ttlMs)) !== 1) {
      this.log.info({}, "another node is purging this node's previous sessions; waiting");
      return;
    }
    await this.redis.sadd(this.keys.nodes(), this.nodeId);
    if (this.state !== "establishing") return; // stopped meanwhile: stop() deletes the key
    this.lastBeatSentAt = sentAt;
    this.holdPurges();
    this.state = "live";
    this.worker?.live(true);
    this.log.info({}, "node live");
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** Refreshes the isAlive cache (one pipeline of EXISTS) and purges the dead nodes it finds. */
  private async sweep(): Promise<void> {
    const dead = await bounded(this.redis, "sweep", this.timeoutMs, async () => {
      const nodes = await this.redis.smembers(this.keys.nodes());
      const pipeline = this.redis.pipeline();
      for (const node of nodes) pipeline.exists(this.keys.nodeAlive(node));
      const replies = (await pipeline.exec()) ?? [];
      const seen = new Set(nodes);
      for (const node of this.alive.keys()) if (!seen.has(node)) this.alive.set(node, false);
      nodes.forEach((node, i) => {
        const [error, exists] = replies[i] ?? [new Error("no reply"), 0];
        if (!error) this.alive.set(node, exists === 1);
      });
      if (Date.now() < this.purgeHeldUntil) return [];
      return nodes.filter((node) => node !== this.nodeId && this.alive.get(node) === false);
    });
    // In the background: a big purge must not delay this node's own heartbeat past its TTL.
    for (const node of dead) {
      if (this.purges.has(node)) continue;
      const purge = this.purgeDead(node)
        .catch((error: unknown) => this.log.warn({ err: error, deadNode: node }, "purge failed; retrying next heartbeat"))
        .finally(() => this.purges.delete(node));
      this.purges.set(node, purge);
    }
  }

  private async purgeDead(nodeId: string): Promise<void> {
    const lock = this.keys.nodePurgeLock(nodeId);
    const purged = emptyPurge();
    let completed = false;
    try {
      await bounded(this.redis, "purge", this.lockMs, async () => {
        const acquired = await this.redis.switchboardLivenessAcquireDead(
          this.keys.nodeAlive(nodeId), lock, this.keys.nodeEpoch(nodeId), this.token, this.lockMs,
        );
        if (acquired !== 1) return; // alive again, or another survivor is on it
        const extend = async () => (await this.redis.switchboardLivenessExtendLock(lock, this.token, this.lockMs)) === 1;
        const complete = await purgeNodeSessions(this.redis, this.keys, nodeId, extend, purged, this.keepMs);
        if (!complete) {
          this.log.warn({ deadNode: nodeId }, "purge lock lost midway; another node finishes the purge");
          return;
        }
        await this.redis.srem(this.keys.nodes(), nodeId);
        await this.redis.switchboardLivenessReleaseLock(lock, this.token);
        this.alive.set(nodeId, false);
        this.log.info({ deadNode: nodeId, sessions: purged.deleted.length, detached: purged.detached.length }, "purged dead node");
        completed = true;
      });
    } finally {
      await this.report(purged);
    }
    if (completed) await this.callback("onNodePurged", () => this.opts.onNodePurged?.(nodeId));
  }

  /**
   * A node that was itself cut off (or just started) waits one TTL before purging others: after
   * an outage of Redis for everyone, every alive key has expired, and the first node back would
   * otherwise purge all the others before they had a chance to heartbeat again.
   */
  private holdPurges(): void {
    this.purgeHeldUntil = Date.now() + this.ttlMs;
  }

  private async acquireOwnLock(): Promise<boolean> {
    return (await this.redis.switchboardLivenessAcquireOwn(this.keys.nodePurgeLock(this.nodeId), this.token, this.lockMs)) === 1;
  }

  private nodeKeys() {
    const id = this.nodeId;
    const k = this.keys;
    return { alive: k.nodeAlive(id), lock: k.nodePurgeLock(id), index: k.nodeSessions(id), epoch: k.nodeEpoch(id) };
  }

  private async report(purged: Purged): Promise<void> {
    if (purged.deleted.length > 0) await this.callback("onPurged", () => this.opts.onPurged(purged.deleted));
    if (purged.detached.length > 0) await this.callback("onDetached", () => this.opts.onDetached?.(purged.detached));
  }

  /** A throwing callback must not stop the heartbeat. */
  private async callback(name: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.log.error({ err: error }, `${name} callback failed`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
