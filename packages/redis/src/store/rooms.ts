/**
 * Persistent MUC rooms in Redis: one hash per service domain (room JID → the service's JSON),
 * under the domain's own hash tag, so a service's rooms sit in one slot and listing them for
 * disco#items is one HGETALL. Rooms are not per-user data: deleting an account leaves them.
 */
import type { RoomStore } from "@switchboard/core";
import type { RedisClient } from "./scripts.js";

export function roomsKey(prefix: string, domain: string): string {
  return `${prefix}:{muc:${domain}}:rooms`;
}

const domainOf = (jid: string) => jid.slice(jid.indexOf("@") + 1);

export function redisRooms(client: RedisClient, prefix: string): RoomStore {
  return {
    async get(jid) {
      const data = await client.hget(roomsKey(prefix, domainOf(jid)), jid);
      return data === null ? undefined : { jid, data };
    },
    async put(room) {
      await client.hset(roomsKey(prefix, domainOf(room.jid)), room.jid, room.data);
    },
    async delete(jid) {
      return (await client.hdel(roomsKey(prefix, domainOf(jid)), jid)) > 0;
    },
    async list(domain) {
      const all = await client.hgetall(roomsKey(prefix, domain));
      return Object.keys(all)
        .sort()
        .map((jid) => ({ jid, data: all[jid]! }));
    },
  };
}
