/**
 * Redis and NATS for cluster tests, chosen the way a developer's machine allows:
 * 1. SWITCHBOARD_TEST_REDIS_URL and SWITCHBOARD_TEST_NATS_URL, when both are given;
 * 2. otherwise containers started with testcontainers, when a Docker engine answers;
 * 3. otherwise local redis-server and nats-server processes on free ports (this machine, CI).
 * Tests that must kill a backend ask for `local: true` and always get their own processes.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { NatsProcess, RedisProcess } from "./processes.js";

export interface TestBackends {
  redisUrl: string;
  natsUrl: string;
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
