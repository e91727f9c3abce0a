/**
 * The RoomDirectory port (ports.ts) in one process: the embedded node is the only MUC worker,
 * so this is plain maps; the Redis adapter gives a cluster the same behaviour.
 */
import type { RoomDirectory } from "../ports.js";

export class MemoryRoomDirectory implements RoomDirectory {
  private readonly workerSets = new Map<string, Set<string>>();
  private readonly holders = new Map<string, string>();
  private readonly live = new Map<string, Map<string, string>>();
  private readonly listings = new Map<string, Map<string, string>>();
  private readonly joined = new Map<string, Set<string>>();

  async addWorker(domain: string, node: string): Promise<void> {
    let set = this.workerSets.get(domain);
    if (!set) this.workerSets.set(domain, (set = new Set()));
    set.add(node);
  }

  async removeWorker(domain: string, node: string): Promise<void> {
    this.workerSets.get(domain)?.delete(node);
  }

  async workers(domain: string): Promise<string[]> {
    return [...(this.workerSets.get(domain) ?? [])].sort();
  }

  async holder(room: string): Promise<string | undefined> {
    return this.holders.get(room);
  }

  async claim(room: string, node: string, replacing?: string): Promise<string> {
    const current = this.holders.get(room);
    if (current === undefined || current === replacing) this.holders.set(room, node);
    return this.holders.get(room)!;
  }

  async release(room: string, node: string): Promise<void> {
    if (this.holders.get(room) === node) this.holders.delete(room);
  }

  async getLive(room: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.live.get(room) ?? []);
  }

  async putLive(room: string, set: Record<string, string>, remove: string[] = []): Promise<void> {
    let fields = this.live.get(room);
    if (!fields) this.live.set(room, (fields = new Map()));
    for (const f of remove) fields.delete(f);
    for (const [f, v] of Object.entries(set)) fields.set(f, v);
    if (fields.size === 0) this.live.delete(room);
  }

  async dropLive(room: string, domain: string): Promise<void> {
    this.live.delete(room);
    this.holders.delete(room);
    this.listings.get(domain)?.delete(room);
  }

  async list(domain: string, room: string, entry: string | undefined): Promise<void> {
    let rooms = this.listings.get(domain);
    if (!rooms) this.listings.set(domain, (rooms = new Map()));
    if (entry === undefined) rooms.delete(room);
    else rooms.set(room, entry);
  }

  async listed(domain: string): Promise<Map<string, string>> {
    return new Map(this.listings.get(domain) ?? []);
  }

  async join(user: string, room: string): Promise<number> {
    let rooms = this.joined.get(user);
    if (!rooms) this.joined.set(user, (rooms = new Set()));
    rooms.add(room);
    return rooms.size;
  }

  async leave(user: string, room: string): Promise<void> {
    const rooms = this.joined.get(user);
    rooms?.delete(room);
    if (rooms?.size === 0) this.joined.delete(user);
  }

  async joinedBy(user: string): Promise<string[]> {
    return [...(this.joined.get(user) ?? [])].sort();
  }
}
