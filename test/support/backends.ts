/**
 * Redis, NATS and PostgreSQL (the archive) for cluster tests. PostgreSQL is
 * SWITCHBOARD_TEST_POSTGRES_URL or the local server (postgres@127.0.0.1:5432); each run gets a
 * fresh database named after its prefix, dropped at stop, so runs never see each other's
 * archives. No PostgreSQL: the nodes run without an archive, as such a cluster would.
 *
 * Redis and NATS are chosen the way a developer's machine allows:
 * 1. SWITCHBOARD_TEST_REDIS_URL and SWITCHBOARD_TEST_NATS_URL, when both are given;
 * 2. otherwise containers started with testcontainers, when a Docker engine answers;
 * 3. otherwise local redis-server and nats-server processes on free ports (this machine, CI).
 * Tests that must kill a backend ask for `local: true` and always get their own processes.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { NatsProcess, RedisProcess } from "./processes.js";

const POSTGRES_ADMIN_URL = process.env.SWITCHBOARD_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh database for one run: its URL, and how to drop it; undefined when PostgreSQL does not answer. */
export async function freshPostgresDatabase(name: string): Promise<{ url: string; drop(): Promise<void> } | undefined> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch {
    await admin.end().catch(() => {});
    return undefined;
  }
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
    },
  };
}

export interface TestBackends {
  redisUrl: string;
  natsUrl: string;
  /** the run's own database for the message archive, when PostgreSQL answers */
  postgresUrl?: string;
  /** key and subject prefix, unique per run so shared servers do not mix test data */
  prefix: string;
  kind: "env" | "containers" | "local";
  /** present for local processes: lets fault tests kill and restart them */
  redis?: RedisProcess;
  nats?: NatsProcess;
  stop(): Promise<void>;
}

function dockerAvailable(): boolean {
  if (!process.env.DOCKER_HOST && !existsSync("/var/run/docker.sock")) return false;
  return spawnSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 }).status === 0;
}

export async function startBackends(opts: { local?: boolean } = {}): Promise<TestBackends> {
  const prefix = `sbt${randomBytes(4).toString("hex")}`;
  const database = await freshPostgresDatabase(prefix);
  const withPostgres = (b: TestBackends): TestBackends => {
    if (!database) return b;
    const stop = b.stop;
    return { ...b, postgresUrl: database.url, stop: async () => (await stop(), await database.drop().catch(() => {})) };
  };
  try {
    return withPostgres(await startRedisAndNats(prefix, opts));
  } catch (err) {
    await database?.drop().catch(() => {});
    throw err;
  }
}

async function startRedisAndNats(prefix: string, opts: { local?: boolean }): Promise<TestBackends> {
  const envRedis = process.env.SWITCHBOARD_TEST_REDIS_URL;
  const envNats = process.env.SWITCHBOARD_TEST_NATS_URL;
  if (!opts.local && envRedis && envNats) {
    return { redisUrl: envRedis, natsUrl: envNats, prefix, kind: "env", stop: async () => {} };
  }
  if (!opts.local && dockerAvailable()) {
    const { GenericContainer, Wait } = await import("testcontainers");
    const redis = await new GenericContainer("redis:7")
      .withCommand(["redis-server", "--appendonly", "yes", "--appendfsync", "always"])
      .withExposedPorts(6379)
      .withWaitStrategy(Wait.forLogMessage("Ready to accept connections"))
      .start();
    const nats = await new GenericContainer("nats:2").withExposedPorts(4222).withWaitStrategy(Wait.forLogMessage("Server is ready")).start();
    return {
      redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      natsUrl: `nats://${nats.getHost()}:${nats.getMappedPort(4222)}`,
      prefix,
      kind: "containers",
      async stop() {
        await Promise.all([redis.stop(), nats.stop()]);
      },
    };
  }
  const [redis, nats] = await Promise.all([RedisProcess.create(), NatsProcess.create()]);
  return {
    redisUrl: redis.url,
    natsUrl: nats.url,
    prefix,
    kind: "local",
    redis,
    nats,
    async stop() {
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}
