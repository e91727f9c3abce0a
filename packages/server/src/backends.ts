/**
 * Where a process keeps its state, chosen by configuration alone. Embedded (no redisUrl and
 * natsUrl, the default): SQLite store, in-memory registry, bus and limiter. Cluster (both set):
 * Redis store and session registry (cached on
 * the hot path, invalidated over the bus), NATS stanza bus, node liveness with dead-edge purge.
 * This file and server.ts are the only places that wire adapters (ARCHITECTURE.md).
 */
import { join } from "node:path";
import { Redis } from "ioredis";
import {
  CachedSessionRegistry,
  cacheUserData,
  MemoryLimiter,
  MemorySessionRegistry,
  MemoryStanzaBus,
  type Host,
  type Limiter,
  type Logger,
  type ResumptionStore,
  type RoomDirectory,
  type SessionInfo,
  type SessionRegistry,
  type StanzaBus,
  type Store,
  type ArchiveStore,
} from "@switchboard/core";
import { SqliteArchive, openSqliteStore } from "@switchboard/store-sqlite";
import { PostgresArchive } from "@switchboard/store-postgres";
import { FAIL_FAST_CLIENT_OPTIONS, NodeLiveness, RedisLeasedLimiter, RedisResumptionStore, RedisRoomDirectory, RedisSessionRegistry, RedisStore, announceIdentity, nodeIdentity, withdrawIdentity } from "@switchboard/redis";
import { NatsStanzaBus } from "@switchboard/nats";
import { StreamError, bareOf } from "@switchboard/xml";
import type { SwitchboardConfig } from "./config.js";

export interface Backends {
  kind: "embedded" | "cluster";
  store: Store;
  registry: SessionRegistry;
  bus: StanzaBus;
  limiter: Limiter;
  /** stream-management resumption state (the Host's default, in memory, when embedded) */
  resumption?: ResumptionStore;
  /** where MUC rooms are served and their live state (the Host's default, in memory, when embedded) */
  roomDirectory?: RoomDirectory;
  /** the message archive (XEP-0313): SQLite in a worker when embedded, PostgreSQL in a cluster */
  archive?: ArchiveStore;
  /** why there is none (logged at start) */
  noArchiveReason?: string;
  isNodeAlive?: (nodeId: string) => boolean;
  liveNodeCount?: () => number;
  /** another node is gone (Host markNodeGone) */
  markNodeGone?: (nodeId: string) => void;
  /**
   * runs once the Host exists and its modules are loaded, before listeners open; `identity` is
   * what every edge of a cluster must share (checked against the other edges)
   */
  attach(host: Host, identity: { certPem: string; secret: Buffer }): Promise<void>;
  /** undefined when logins can be accepted (/readyz) */
  notReadyReason(): Promise<string | undefined>;
  /** the same, synchronously, for every login attempt (Host loginBlocker) */
  loginBlocker(): string | undefined;
  close(): Promise<void>;
}

/** Cluster backends when both URLs are set (config.ts refuses only one of them). */
export function isCluster(cfg: SwitchboardConfig): boolean {
  return cfg.redisUrl !== undefined && cfg.natsUrl !== undefined;
}

export async function openBackends(cfg: SwitchboardConfig, log: Logger, store?: Store): Promise<Backends> {
  return isCluster(cfg) ? clusterBackends(cfg, log, store) : embeddedBackends(cfg, log, store);
}

const archiveLimits = (cfg: SwitchboardConfig) => ({ maxPerOwner: cfg.mam.maxMessagesPerUser, retentionDays: cfg.mam.retentionDays });

/** `<dataDir>/archive.sqlite`, its own file, written by a worker thread (store-sqlite sqlite-archive.ts). */
function embeddedArchive(cfg: SwitchboardConfig, log: Logger): Pick<Backends, "archive" | "noArchiveReason"> {
  if (!cfg.mam.enabled) return { noArchiveReason: "mam.enabled is false" };
  const archive = new SqliteArchive(join(cfg.dataDir, "archive.sqlite"), archiveLimits(cfg));
  archive.onError = (message) => log.error({ reason: message }, "message archive write failed");
  return { archive };
}

/** PostgreSQL when postgresUrl is set; a cluster without it has no archive. */
async function clusterArchive(cfg: SwitchboardConfig, log: Logger): Promise<Pick<Backends, "archive" | "noArchiveReason">> {
  if (!cfg.mam.enabled) return { noArchiveReason: "mam.enabled is false" };
  if (cfg.postgresUrl === undefined) return { noArchiveReason: "the cluster has no postgresUrl (set SWITCHBOARD_POSTGRES_URL)" };
  const archive = await PostgresArchive.open({
    url: cfg.postgresUrl,
    ...archiveLimits(cfg),
    onError: (message, err) => log.error({ err }, `message archive: ${message}`),
  });
  return { archive };
}

async function embeddedBackends(cfg: SwitchboardConfig, log: Logger, given?: Store): Promise<Backends> {
  const store = given ?? openSqliteStore(join(cfg.dataDir, "switchboard.db"));
  const archive = embeddedArchive(cfg, log);
  return {
    kind: "embedded",
    store,
    ...archive,
    registry: new MemorySessionRegistry(),
    bus: new MemoryStanzaBus(),
    limiter: new MemoryLimiter(),
    attach: async () => {},
    notReadyReason: async () => undefined,
    loginBlocker: () => undefined,
    async close() {
      await archive.archive?.close();
      await store.close();
    },
  };
}

/**
 * The cluster backends as metrics: what the bus holds while NATS is away (read at collection),
 * the Redis round trip (a PING) and the bus's publish latency (a flush), probed every 5 s (the
 * hot path makes no call to time, by design). Returns the stop function.
 */
function watchBackends(host: Host, redis: Redis, bus: NatsStanzaBus): () => void {
  host.metrics.observe("switchboard_bus_buffered_bytes", { help: "Bytes the bus holds while NATS is away" }, () => [[bus.status().pendingBytes]]);
  const rtt = host.metrics.histogram("switchboard_redis_ping_seconds", { help: "Redis round trip of a PING, probed every 5 s" });
  // Publishes are fire-and-forget; a flush is when NATS has everything published so far: the
  // latency a publish waits behind the node's own output, plus the round trip.
  const busRtt = host.metrics.histogram("switchboard_bus_flush_seconds", { help: "Time until NATS confirmed everything published so far (a flush), probed every 5 s" });
  const timer = setInterval(() => {
    const started = performance.now();
    redis.ping().then(
      () => rtt.record((performance.now() - started) / 1000),
      () => {},
    );
    const flushStarted = performance.now();
    bus.flush().then(
      () => busRtt.record((performance.now() - flushStarted) / 1000),
      () => {},
    );
  }, 5_000);
  timer.unref();
  return () => clearInterval(timer);
}

async function clusterBackends(cfg: SwitchboardConfig, log: Logger, given?: Store): Promise<Backends> {
  const prefix = cfg.clusterPrefix;
  let stopProbing = () => {};
  const redis = new Redis(cfg.redisUrl!, { ...FAIL_FAST_CLIENT_OPTIONS, connectionName: cfg.nodeId });
  let redisErrorLogged = false;
  redis.on("error", (err) => {
    if (!redisErrorLogged) log.warn({ err: err.message }, "redis connection error (retrying)");
    redisErrorLogged = true;
  });
  redis.on("ready", () => {
    if (redisErrorLogged) log.info("redis connection restored");
    redisErrorLogged = false;
  });
  const shared = given ?? new RedisStore(redis, { prefix });
  // start(): the edge comes up even when NATS is not there yet and turns ready once it is.
  const bus = NatsStanzaBus.start({ servers: cfg.natsUrl!.split(","), name: cfg.nodeId, subjectPrefix: prefix, log });
  // Rosters and blocklists are kept per node, dropped over the bus when they change (core
  // cached-user-data.ts); `liveness` is declared below and read only once the node runs.
  const store = cacheUserData(shared, bus, cfg.nodeId, log, { liveNodeCount: () => liveness.liveCount() });
  let host: Host | undefined;
  const onPurged = async (sessions: SessionInfo[]) => {
    if (!host || sessions.length === 0) return;
    await registry.invalidate([...new Set(sessions.map((s) => bareOf(s.jid)))]);
    log.info({ count: sessions.length }, "purged sessions of a dead node");
    for (const info of sessions) {
      if (info.nodeId === cfg.nodeId) continue; // our own leftovers: no stream to tell about
      await host.hooks.fire("session/purged", { info }).catch((err) => log.error({ err }, "session/purged handler failed"));
    }
  };
  // Stream-management sessions of a dead node stay resumable (on any edge) for as long as a
  // detached session would; their resumption records lost their owner.
  const onDetached = async (sessions: SessionInfo[]) => {
    if (!host) return;
    await registry.invalidate([...new Set(sessions.map((s) => bareOf(s.jid)))]);
    log.info({ count: sessions.length }, "kept stream-management sessions of a stopped or dead node for resumption");
    for (const info of sessions) {
      await host.hooks.fire("session/orphaned", { info }).catch((err) => log.error({ err }, "session/orphaned handler failed"));
    }
  };
  const liveness = new NodeLiveness(redis, {
    nodeId: cfg.nodeId,
    prefix,
    onPurged,
    onDetached,
    // Senders route again what they had in flight to it, now that the registry says where its
    // sessions went (core bus-receipts.ts).
    onNodePurged: async (nodeId) => {
      await host?.announceNodeGone(nodeId).catch((err) => log.warn({ err, deadNode: nodeId }, "could not announce a purged node"));
    },
    keepResumableMs: (cfg.sm.resumeTimeoutSeconds ?? 300) * 1000,
    onFenced: () => {
      // Others may have purged our sessions while we could not reach Redis: nobody would route
      // to our streams any more, so close them and let the clients bind again.
      log.warn("this node was presumed dead by the cluster; closing its streams");
      host?.sessions.closeAll(new StreamError("reset", "the server lost track of this session; please reconnect"));
      // What it served for the cluster (MUC rooms) may have been taken over by others meanwhile.
      void host?.hooks.fire("host/fenced", {}).catch((err: unknown) => log.error({ err }, "host/fenced handler failed"));
    },
    // A busy event loop (a reconnect storm, a long GC) must not get a serving edge purged.
    heartbeatWorker: { redisUrl: cfg.redisUrl! },
    logger: log,
  });
  // A node's goodbye at stop (core bus-receipts.ts): it no longer counts among the nodes whose
  // confirmation a registry write waits for, rather than until the next heartbeat sweep — the
  // reconnect storm its clients cause comes right then. Stanzas for its resumable sessions are
  // held meanwhile (core host.ts); when it is back under the same id (a rolling restart) it says
  // so, and they go to it at once.
  const unfollowNodes = bus.subscribeControl((message) => {
    if (message.type === "node.gone" && message.stopping === true) liveness.left(message.node);
    if (message.type === "node.live" && typeof message.node === "string") liveness.back(message.node);
  });
  const inner = new RedisSessionRegistry(redis, { prefix, liveness });
  const registry = new CachedSessionRegistry(inner, bus, cfg.nodeId, log, { liveNodeCount: () => liveness.liveCount() });
  // Policies with scope "cluster" (failed logins and registrations per IP) share one bucket per
  // key in Redis through local leases: no Redis call or bus message per hit.
  const limiter = new RedisLeasedLimiter(redis, { prefix, log });

  const loginBlocker = () => {
    if (redis.status !== "ready") return `redis ${redis.status}`;
    if (!bus.status().connected) return "nats disconnected";
    if (!liveness.ready) return "node not registered as live yet";
    return undefined;
  };

  let archive: Pick<Backends, "archive" | "noArchiveReason">;
  try {
    archive = await clusterArchive(cfg, log);
  } catch (err) {
    // a cluster node starts without PostgreSQL rather than not at all: the archive is not what
    // keeps users chatting (ARCHITECTURE.md "Failure is normal")
    log.error({ err }, "cannot open the message archive in PostgreSQL; this node runs without one");
    archive = { noArchiveReason: "PostgreSQL could not be opened" };
  }
  return {
    kind: "cluster",
    store,
    ...archive,
    registry,
    bus,
    limiter,
    resumption: new RedisResumptionStore(redis, { prefix }),
    roomDirectory: new RedisRoomDirectory(redis, { prefix }),
    isNodeAlive: (nodeId) => liveness.isAlive(nodeId),
    liveNodeCount: () => liveness.liveCount(),
    markNodeGone: (nodeId) => liveness.left(nodeId),
    async attach(h, identity) {
      host = h;
      // A node id reused after a crash: remove what the previous life left behind first.
      await liveness.purgeOwn().catch((err) => log.warn({ err }, "could not purge leftovers of this node id yet"));
      liveness.start();
      await bus.flush().catch(() => {});
      void liveness
        .waitUntilReady()
        .then(() => bus.publishControl({ type: "node.live", origin: cfg.nodeId, node: cfg.nodeId }))
        .catch((err: unknown) => log.debug({ err }, "could not tell the cluster this node is live"));
      await warnOnIdentityMismatch(redis, prefix, cfg.nodeId, identity, log);
      stopProbing = watchBackends(h, redis, bus);
    },
    notReadyReason: async () => loginBlocker(),
    loginBlocker,
    async close() {
      stopProbing();
      await withdrawIdentity(redis, prefix, cfg.nodeId).catch(() => {});
      unfollowNodes();
      await liveness.stop().catch(() => {});
      registry.close();
      limiter.close();
      await bus.close().catch(() => {});
      if (!given) await store.close().catch(() => {});
      else store.detach();
      await archive.archive?.close().catch(() => {});
      redis.disconnect();
    },
  };
}

/**
 * Every edge must serve the same certificate and hold the same server secret (identity.ts in
 * the redis package says why); a differing edge is told at start, naming the other edge.
 */
async function warnOnIdentityMismatch(redis: Redis, prefix: string, nodeId: string, identity: { certPem: string; secret: Buffer }, log: Logger): Promise<void> {
  let mismatches;
  try {
    mismatches = await announceIdentity(redis, prefix, nodeId, nodeIdentity(identity.certPem, identity.secret));
  } catch (err) {
    log.warn({ err }, "could not compare this edge's certificate and secret with the other edges'");
    return;
  }
  for (const { nodeId: other, differs } of mismatches) {
    if (differs.includes("certificate")) {
      log.warn({ otherNode: other }, `this edge's TLS certificate differs from edge ${other}'s: clients moved between edges would see another certificate; give every edge the same tls.cert and tls.key (or one shared dataDir)`);
    }
    if (differs.includes("secret")) {
      log.warn({ otherNode: other }, `this edge's server secret differs from edge ${other}'s: unknown users would get different fake SCRAM salts on each edge, which tells probers which accounts exist; share <dataDir>/server-secret (or one dataDir) between edges`);
    }
  }
}
