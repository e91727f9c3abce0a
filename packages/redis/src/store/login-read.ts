/**
 * What a login reads of one account, in one command (issue 10, cheaper logins): credentials,
 * ban, roster version and items, blocklist. All are keys of the user's hash tag (keys.ts), so one
 * script may read them together, on Redis Cluster too. A login used to read them one by one —
 * the account, the ban after the password, the roster version and items for the roster get and
 * again for the initial presence, the blocklist for the get and again for its cache: seven
 * commands, now one. The roster alone (version and items together) is a second script, for the
 * roster cache's loads (core cached-user-data.ts).
 *
 * The read runs when the SASL exchange looks the account up, before the password is checked: a
 * wrong password costs the same one command as before, with a larger reply; nothing read is
 * shown to anyone before the password is proved (the ban included, RFC 6120 §6.5.1).
 */
import type { AccountCredentials, Ban, LoginRecord, RosterItem } from "@switchboard/core";
import { userKeys } from "./keys.js";
import type { RedisClient } from "./scripts.js";

/** KEYS account, ban, roster version, roster, blocklist. Returns them as read. */
const LOGIN_READ = `
return {
  redis.call('GET', KEYS[1]) or false,
  redis.call('GET', KEYS[2]) or false,
  redis.call('GET', KEYS[3]) or false,
  redis.call('HVALS', KEYS[4]),
  redis.call('ZRANGE', KEYS[5], 0, -1)
}`;

/** KEYS roster version, roster. Returns { version or false, items }. */
const ROSTER_SNAPSHOT = `
return { redis.call('GET', KEYS[1]) or false, redis.call('HVALS', KEYS[2]) }`;

type Raw = string | null;

export interface LoginReads {
  readLogin(bare: string, now?: number): Promise<LoginRecord>;
  rosterSnapshot(owner: string): Promise<{ version: number; items: RosterItem[] }>;
}

export function redisLoginReads(client: RedisClient, prefix: string): LoginReads {
  client.defineCommand("switchboardStoreLoginRead", { numberOfKeys: 5, lua: LOGIN_READ });
  client.defineCommand("switchboardStoreRosterSnapshot", { numberOfKeys: 2, lua: ROSTER_SNAPSHOT });
  const scripts = client as unknown as {
    switchboardStoreLoginRead(...keys: string[]): Promise<[Raw, Raw, Raw, string[], string[]]>;
    switchboardStoreRosterSnapshot(...keys: string[]): Promise<[Raw, string[]]>;
  };
  return {
    async readLogin(bare, now = Date.now()) {
      const k = userKeys(prefix, bare);
      const [account, banJson, version, items, blocklist] = await scripts.switchboardStoreLoginRead(k.account, k.ban, k.rosterVersion, k.roster, k.blocklist);
      const ban = banJson === null ? undefined : (JSON.parse(banJson) as Ban);
      return {
        credentials: account === null ? undefined : (JSON.parse(account) as AccountCredentials),
        // as BanStore.get: an ended ban the key still holds is none (bans.ts)
        ban: ban !== undefined && (ban.until === undefined || now < ban.until) ? ban : undefined,
        roster: { version: version === null ? 0 : Number(version), items: items.map((json) => JSON.parse(json) as RosterItem) },
        blocklist,
      };
    },
    async rosterSnapshot(owner) {
      const k = userKeys(prefix, owner);
      const [version, items] = await scripts.switchboardStoreRosterSnapshot(k.rosterVersion, k.roster);
      return { version: version === null ? 0 : Number(version), items: items.map((json) => JSON.parse(json) as RosterItem) };
    },
  };
}
