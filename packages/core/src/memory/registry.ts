/** In-process SessionRegistry for the embedded single node. */
import { bareOf } from "@switchboard/xml";
import { SessionLimitError, type BindOptions, type Listed, type ListingSessionWrites, type SessionInfo, type SessionLocation, type SessionPatch, type SessionRegistry } from "../ports.js";


export class MemorySessionRegistry implements SessionRegistry, ListingSessionWrites {
  private readonly byBare = new Map<string, Map<string, SessionInfo>>();

  async bind(info: SessionInfo, opts: BindOptions = {}): Promise<SessionInfo | undefined> {
    const bare = bareOf(info.jid);
    let resources = this.byBare.get(bare);
    const max = opts.maxSessions ?? 0;
    if (max > 0 && resources && resources.size >= max && !resources.has(info.jid)) throw new SessionLimitError(resources.size, max, this.snapshot(bare));
    if (!resources) this.byBare.set(bare, (resources = new Map()));
    const previous = resources.get(info.jid);
    resources.set(info.jid, { ...info });
    return previous ? { ...previous } : undefined;
  }

  async unbind(jid: string, sessionId: string): Promise<void> {
    const bare = bareOf(jid);
    const resources = this.byBare.get(bare);
    if (resources?.get(jid)?.sessionId !== sessionId) return;
    resources.delete(jid);
    if (resources.size === 0) this.byBare.delete(bare);
  }

  async update(jid: string, sessionId: string, patch: SessionPatch): Promise<void> {
    const entry = this.byBare.get(bareOf(jid))?.get(jid);
    if (!entry || entry.sessionId !== sessionId) return;
    Object.assign(entry, patch);
  }

  async move(jid: string, fromSessionId: string, to: SessionLocation): Promise<SessionInfo | undefined> {
    const entry = this.byBare.get(bareOf(jid))?.get(jid);
    if (!entry || entry.sessionId !== fromSessionId) return undefined;
    entry.nodeId = to.nodeId;
    entry.sessionId = to.sessionId;
    return { ...entry };
  }

  async get(jid: string): Promise<SessionInfo | undefined> {
    const entry = this.byBare.get(bareOf(jid))?.get(jid);
    return entry ? { ...entry } : undefined;
  }

  async list(bare: string): Promise<SessionInfo[]> {
    return this.snapshot(bare);
  }

  private snapshot(bare: string): SessionInfo[] {
    const resources = this.byBare.get(bare);
    return resources ? [...resources.values()].map((e) => ({ ...e })) : [];
  }

  async count(bare: string): Promise<number> {
    return this.byBare.get(bare)?.size ?? 0;
  }

  async listNode(nodeId: string): Promise<SessionInfo[]> {
    const out: SessionInfo[] = [];
    for (const resources of this.byBare.values()) for (const e of resources.values()) if (e.nodeId === nodeId) out.push({ ...e });
    return out;
  }

  // ListingSessionWrites: each write, then the user's sessions as it left them.
  async bindListed(info: SessionInfo, opts?: BindOptions): Promise<Listed<SessionInfo | undefined>> {
    return { result: await this.bind(info, opts), sessions: this.snapshot(bareOf(info.jid)) };
  }

  async unbindListed(jid: string, sessionId: string): Promise<Listed<void>> {
    return { result: await this.unbind(jid, sessionId), sessions: this.snapshot(bareOf(jid)) };
  }

  async updateListed(jid: string, sessionId: string, patch: SessionPatch): Promise<Listed<void>> {
    return { result: await this.update(jid, sessionId, patch), sessions: this.snapshot(bareOf(jid)) };
  }

  async moveListed(jid: string, fromSessionId: string, to: SessionLocation): Promise<Listed<SessionInfo | undefined>> {
    return { result: await this.move(jid, fromSessionId, to), sessions: this.snapshot(bareOf(jid)) };
  }
}
