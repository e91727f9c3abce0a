/**
 * User commands open the store directly. Embedded: the SQLite file, safe next to a running
 * server (WAL mode and a busy timeout let the two processes take turns on the write lock).
 * Cluster (SWITCHBOARD_REDIS_URL / redisUrl set): the Redis store every edge reads.
 */
import { join } from "node:path";
import type { Store } from "@switchboard/core";
import { openSqliteStore } from "@switchboard/store-sqlite";
import type { SwitchboardConfig } from "@switchboard/server";
import { CommandError } from "./errors.js";

export function storeFile(config: Pick<SwitchboardConfig, "dataDir">): string {
  return join(config.dataDir, "switchboard.db");
}

export async function withStore<T>(config: Pick<SwitchboardConfig, "dataDir" | "redisUrl" | "clusterPrefix">, use: (store: Store) => Promise<T>): Promise<T> {
  const store = config.redisUrl ? await openRedis(config.redisUrl, config.clusterPrefix) : openSqlite(config);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

function openSqlite(config: Pick<SwitchboardConfig, "dataDir">): Store {
  try {
    return openSqliteStore(storeFile(config));
  } catch (err) {
    throw new CommandError(`cannot open ${storeFile(config)}: ${(err as Error).message}`, { cause: err });
  }
}

/** How long a user command waits for Redis before it gives up with one clear line. */
const REDIS_CONNECT_MS = 3_000;

/**
 * The cluster's Redis store, checked with a PING first: an unreachable Redis is one line naming
 * the URL and the cause, instead of ioredis's "Unhandled error event" lines and a retry stack.
 */
async function openRedis(url: string, prefix: string): Promise<Store> {
  const { openRedisStore } = await import("@switchboard/redis");
  let lastError: Error | undefined;
  const store = openRedisStore(url, { prefix, onError: (err) => (lastError = err), redis: { connectTimeout: REDIS_CONNECT_MS } });
  const where = redactUrl(url);
  try {
    await Promise.race([
      store.client.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${REDIS_CONNECT_MS} ms`)), REDIS_CONNECT_MS).unref()),
    ]);
  } catch (err) {
    await store.close();
    const reason = lastError?.message ?? (err as Error).message;
    throw new CommandError(`cannot reach Redis at ${where} (redisUrl): ${reason}`, { cause: err });
  }
  return store;
}

/** A URL fit for an error message: no password. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
