/**
 * In-process BanStore (ports.ts): one Map entry per banned bare JID, shared with MemoryStore's
 * account deletion, which drops the entry with the rest of the user's data.
 */

import type { Ban, BanStore } from "../ports.js";

/** A copy with only the fields that are set, so an explicit `until: undefined` reads as absent. */
function copyBan({ jid, reason, since, until, by }: Ban): Ban {
  const ban: Ban = { jid, since };
  if (reason !== undefined) ban.reason = reason;
  if (until !== undefined) ban.until = until;
  if (by !== undefined) ban.by = by;
  return ban;
}

const inForce = (ban: Ban, now: number) => ban.until === undefined || now < ban.until;

export class MemoryBanStore implements BanStore {
  constructor(private readonly bans: Map<string, Ban>) {}

  async set(ban: Ban): Promise<void> {
    this.bans.set(ban.jid, copyBan(ban));
  }

  async get(bare: string, now = Date.now()): Promise<Ban | undefined> {
    const ban = this.bans.get(bare);
    if (ban === undefined) return undefined;
    if (inForce(ban, now)) return copyBan(ban);
    this.forgetIfEnded(ban);
    return undefined;
  }

  async delete(bare: string): Promise<boolean> {
    const ban = this.bans.get(bare);
    this.bans.delete(bare);
    return ban !== undefined && inForce(ban, Date.now());
  }

  async list(now = Date.now()): Promise<Ban[]> {
    const found: Ban[] = [];
    for (const ban of this.bans.values()) {
      if (inForce(ban, now)) found.push(copyBan(ban));
      else this.forgetIfEnded(ban);
    }
    return found.sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
  }

  /** Lazy expiry by the real clock only: a read about a later `now` must not lift a ban in force. */
  private forgetIfEnded(ban: Ban): void {
    if (!inForce(ban, Date.now())) this.bans.delete(ban.jid);
  }
}
