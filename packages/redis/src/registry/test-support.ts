/**
 * Shared setup of the registry tests: the real Redis at SWITCHBOARD_TEST_REDIS_URL, a random key
 * prefix per run, SCAN clean-up. An unreachable Redis fails the suite (connect() rejects), never
 * skips it: a silently skipped adapter suite is how a broken cluster mode ships.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export const REDIS_URL = process.env.SWITCHBOARD_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestRedis {
  /** a fresh prefix under this run's prefix */
  prefix(): string;
  /** a new client (closed by cleanup) */
  client(): Promise<Redis>;
  cleanup(): Promise<void>;
}

export async function connectTestRedis(): Promise<TestRedis> {
  const runPrefix = `sbtest-reg-${randomUUID().slice(0, 8)}`;
  const clients: Redis[] = [];
  let counter = 0;
  const client = async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1 });
    redis.on("error", () => undefined); // tests disconnect clients on purpose
    clients.push(redis);
    await redis.connect();
    return redis;
  };
  const admin = await client();
  await admin.ping();
  return {
    prefix: () => `${runPrefix}-${++counter}`,
    client,
    async cleanup() {
      let cursor = "0";
      do {
        const [next, keys] = await admin.scan(cursor, "MATCH", `${runPrefix}*`, "COUNT", 1000);
        if (keys.length > 0) await admin.unlink(...keys);
        cursor = next;
      } while (cursor !== "0");
      for (const redis of clients) redis.disconnect();
    },
  };
}

/** Polls until `check` stops throwing, or rethrows its last error after timeoutMs. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 25): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A private redis-server for outage tests: started on a free port, killed with SIGKILL.

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** Starts redis-server on `port` (nothing persisted) and resolves once it answers PING. */
export async function startPrivateRedis(port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on("error", () => undefined);
  await eventually(async () => {
    await probe.connect().catch((error: unknown) => {
      probe.disconnect();
      throw error;
    });
    await probe.ping();
  }, 10_000, 50);
  probe.disconnect();
  return child;
}

export async function killPrivateRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGKILL");
  await once(child, "exit");
}
