/**
 * RoomDirectory on Redis (cluster mode): MUC rooms served by one worker each, whose live state
 * survives that worker. Per room, under the room's own hash tag: `<prefix>:{muc:<room>}:holder`
 * (the worker's node id) and `…:live` (hash: the service's fields). Per service domain, under
 * its tag: `<prefix>:{muc:<domain>}:workers` (set) and `…:listed` (hash: room → disco entry). Per
 * user, under the user's tag like the rest of their data: `<prefix>:{<bare>}:mucjoined` (set of
 * rooms). No script crosses a slot.
 */
import type { Redis } from "ioredis";
import type { RoomDirectory } from "@switchboard/core";

/** holder = ARGV[1] when there is none or it is ARGV[2] (a dead node); returns the holder. */
const CLAIM = `
local current = redis.call('GET', KEYS[1])
if (not current) or (ARGV[2] ~= '' and current == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return current`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

type Commands = {
  switchboardMucClaim(holder: string, node: string, replacing: string): Promise<string>;
  switchboardMucRelease(holder: string, node: string): Promise<number>;
};

export class RedisRoomDirectory implements RoomDirectory {
  private readonly redis: Redis & Commands;

  constructor(redis: Redis, private readonly opts: { prefix: string }) {
    if (!(redis as Partial<Commands>).switchboardMucClaim) {
      redis.defineCommand("switchboardMucClaim", { numberOfKeys: 1, lua: CLAIM });
      redis.defineCommand("switchboardMucRelease", { numberOfKeys: 1, lua: RELEASE });
    }
    this.redis = redis as Redis & Commands;
  }

  private room(room: string): { holder: string; live: string } {
    const base = `${this.opts.prefix}:{muc:${room}}`;
    return { holder: `${base}:holder`, live: `${base}:live` };
  }

  private domain(domain: string): { workers: string; listed: string } {
    const base = `${this.opts.prefix}:{muc:${domain}}`;
    return { workers: `${base}:workers`, listed: `${base}:listed` };
  }

  private joined(user: string): string {
    return `${this.opts.prefix}:{${user}}:mucjoined`;
  }

  async addWorker(domain: string, node: string): Promise<void> {
    await this.redis.sadd(this.domain(domain).workers, node);
  }

  async removeWorker(domain: string, node: string): Promise<void> {
    await this.redis.srem(this.domain(domain).workers, node);
  }

  async workers(domain: string): Promise<string[]> {
    return (await this.redis.smembers(this.domain(domain).workers)).sort();
  }

  async holder(room: string): Promise<string | undefined> {
    return (await this.redis.get(this.room(room).holder)) ?? undefined;
  }

  async claim(room: string, node: string, replacing?: string): Promise<string> {
    return this.redis.switchboardMucClaim(this.room(room).holder, node, replacing ?? "");
  }

  async release(room: string, node: string): Promise<void> {
    await this.redis.switchboardMucRelease(this.room(room).holder, node);
  }

  async getLive(room: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.room(room).live);
  }

  async putLive(room: string, set: Record<string, string>, remove: string[] = []): Promise<void> {
    const key = this.room(room).live;
    const tx = this.redis.multi();
    if (remove.length > 0) tx.hdel(key, ...remove);
    if (Object.keys(set).length > 0) tx.hset(key, set);
    await tx.exec();
  }

  async dropLive(room: string, domain: string): Promise<void> {
    const k = this.room(room);
    await this.redis.multi().del(k.live, k.holder).exec();
    await this.redis.hdel(this.domain(domain).listed, room);
  }

  async list(domain: string, room: string, entry: string | undefined): Promise<void> {
    const key = this.domain(domain).listed;
    if (entry === undefined) await this.redis.hdel(key, room);
    else await this.redis.hset(key, room, entry);
  }

  async listed(domain: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.domain(domain).listed)));
  }

  async join(user: string, room: string): Promise<number> {
    const key = this.joined(user);
    const [, count] = (await this.redis.multi().sadd(key, room).scard(key).exec()) ?? [];
    return Number(count?.[1] ?? 0);
  }

  async leave(user: string, room: string): Promise<void> {
    await this.redis.srem(this.joined(user), room);
  }

  async joinedBy(user: string): Promise<string[]> {
    return (await this.redis.smembers(this.joined(user))).sort();
  }
}
