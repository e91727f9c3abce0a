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
  let store: Store;
  try {
    if (config.redisUrl) {
      const { openRedisStore } = await import("@switchboard/redis");
      store = openRedisStore(config.redisUrl, { prefix: config.clusterPrefix });
    } else store = openSqliteStore(storeFile(config));
  } catch (err) {
    throw new CommandError((err as Error).message, { cause: err });
  }
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
