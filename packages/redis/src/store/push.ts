/**
 * XEP-0357 push registrations on Redis: one hash per user under the user's hash tag
 * (`{bare}:push`), field "jid\nnode" → JSON registration. A put within the cap is the private
 * XML script's (scripts.ts: add fields all or nothing while the hash stays within a count).
 */
import type { PushRegistration, PushStore } from "@switchboard/core";
import { userKeys } from "./keys.js";
import type { RedisClient, StoreScripts } from "./scripts.js";

const field = (jid: string, node: string) => `${jid}\n${node}`;

export function redisPush(client: RedisClient, scripts: StoreScripts, prefix: string): PushStore {
  return {
    async list(owner) {
      const all = await client.hgetall(userKeys(prefix, owner).push);
      return Object.values(all)
        .map((json) => JSON.parse(json) as PushRegistration)
        .sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    },
    async put(owner, registration, max) {
      const json = JSON.stringify(registration.form === undefined ? { jid: registration.jid, node: registration.node } : registration);
      return (await scripts.privateSet(userKeys(prefix, owner).push, max, [field(registration.jid, registration.node), json])) === 1;
    },
    async remove(owner, jid, node) {
      const key = userKeys(prefix, owner).push;
      if (node !== undefined) return client.hdel(key, field(jid, node));
      const fields = (await client.hkeys(key)).filter((f) => f.slice(0, f.indexOf("\n")) === jid);
      return fields.length === 0 ? 0 : client.hdel(key, ...fields);
    },
  };
}
