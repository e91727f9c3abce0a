/**
 * User commands open the SQLite store directly. This is safe next to a running server: the store
 * uses WAL mode and a busy timeout, so the two processes take turns on the write lock.
 */
import { join } from "node:path";
import type { Store } from "@switchboard/core";
import { openSqliteStore } from "@switchboard/store-sqlite";
import type { SwitchboardConfig } from "@switchboard/server";
import { CommandError } from "./errors.js";

export function storeFile(config: Pick<SwitchboardConfig, "dataDir">): string {
  return join(config.dataDir, "switchboard.db");
}

export async function withStore<T>(config: Pick<SwitchboardConfig, "dataDir">, use: (store: Store) => Promise<T>): Promise<T> {
  let store: Store;
  try {
    store = openSqliteStore(storeFile(config));
  } catch (err) {
    throw new CommandError((err as Error).message, { cause: err });
  }
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
