/**
 * AccountStore on Redis. The account is one string key per user (SET NX / SET XX make create and
 * setCredentials single atomic commands); the global index `${prefix}:accounts` lives in another
 * hash slot, so it is updated by a separate command, never inside a user script.
 *
 * Index consistency without cross-slot transactions: create adds to the index *before* SET NX,
 * and delete removes from it *after* wiping the user (always, even when the account was already
 * gone). A crash between the two steps can therefore only leave an index entry without an
 * account (a "ghost" that list() shows, get() reports absent, and delete() or a re-create
 * repairs), never an account that list() cannot see. The ban index (bans.ts) is cleaned the
 * same way, after the user's keys are gone.
 */

import {
  AccountExistsError,
  AccountNotFoundError,
  type AccountCredentials,
  type AccountStore,
} from "@switchboard/core";
import { accountIndexKey, banIndexKey, userKeys } from "./keys.js";
import type { RedisClient, StoreScripts } from "./scripts.js";

type AccountEntry = { bare: string; credentials: AccountCredentials };
type CreateResult = "created" | "exists";

/** Entries per pipeline in createMany: large enough to amortise round trips, small enough not to stall Redis. */
export const CREATE_MANY_BATCH = 500;

export function redisAccounts(client: RedisClient, scripts: StoreScripts, prefix: string): Required<AccountStore> {
  const index = accountIndexKey(prefix);
  const accountKey = (bare: string) => userKeys(prefix, bare).account;

  async function createBatch(batch: AccountEntry[]): Promise<CreateResult[]> {
    if (client.isCluster) {
      // A Cluster pipeline must stay within one node, and a batch spans many slots; concurrent
      // single commands still share a connection per node. Order per key is kept because both
      // commands for a key go to the same node in issue order.
      const replies = await Promise.all(
        batch.flatMap(({ bare, credentials }) => [
          client.zadd(index, 0, bare),
          client.set(accountKey(bare), JSON.stringify(credentials), "NX"),
        ]),
      );
      return batch.map((_, i) => (replies[2 * i + 1] === "OK" ? "created" : "exists"));
    }
    const pipeline = client.pipeline();
    for (const { bare, credentials } of batch) {
      pipeline.zadd(index, 0, bare);
      pipeline.set(accountKey(bare), JSON.stringify(credentials), "NX");
    }
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error !== null);
    if (failed) throw failed[0];
    return batch.map((_, i) => (replies[2 * i + 1]?.[1] === "OK" ? "created" : "exists"));
  }

  return {
    async create(bare, credentials) {
      await client.zadd(index, 0, bare);
      const reply = await client.set(accountKey(bare), JSON.stringify(credentials), "NX");
      if (reply !== "OK") throw new AccountExistsError(bare);
    },
    async get(bare) {
      const json = await client.get(accountKey(bare));
      return json === null ? undefined : (JSON.parse(json) as AccountCredentials);
    },
    async setCredentials(bare, credentials) {
      // One script: the new password and the end of every FAST token (XEP-0484) go together.
      const keys = userKeys(prefix, bare);
      if ((await scripts.setCredentials(keys.account, keys.fastTokens, JSON.stringify(credentials))) !== 1) throw new AccountNotFoundError(bare);
    },
    async delete(bare) {
      const keys = userKeys(prefix, bare);
      const existed = await scripts.deleteUser(
        keys.account,
        keys.roster,
        keys.offline,
        keys.vcard,
        keys.blocklist,
        keys.lastActivity,
        keys.privateXml,
        keys.ban,
        keys.push,
        keys.fastTokens,
        keys.pepNodes,
        keys.pepItems,
      );
      await client.zrem(index, bare);
      await client.zrem(banIndexKey(prefix), bare);
      return existed === 1;
    },
    async exists(bare) {
      return (await client.exists(accountKey(bare))) === 1;
    },
    async list() {
      // Sorted in JS (UTF-16 order) like every other Store; ZRANGE's lexical order is by bytes.
      return (await client.zrange(index, 0, -1)).sort();
    },
    async createMany(entries) {
      const results: CreateResult[] = [];
      for (let start = 0; start < entries.length; start += CREATE_MANY_BATCH) {
        results.push(...(await createBatch(entries.slice(start, start + CREATE_MANY_BATCH))));
      }
      return results;
    },
  };
}
