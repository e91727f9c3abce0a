/**
 * The admin commands as one node answers them (docs/admin.md): what this node holds — its
 * sessions, their traffic, its alerts — and what it does — kicking its streams, recording a ban.
 * Served on the bus topic "admin" (StanzaBus.serveRequests), so the same code answers the
 * single node's HTTP API (in-process bus) and a cluster's every edge (NATS); the caller merges
 * the answers (admin-client.ts).
 */
import { StreamError, tryParseJid } from "@switchboard/xml";
import type { Alert, Host, Session } from "@switchboard/core";

export const ADMIN_TOPIC = "admin";

export type AdminCommand = "sessions" | "kick" | "ban" | "unban" | "top" | "alerts";

export interface AdminRequest {
  command: AdminCommand;
  args: Record<string, unknown>;
}

/** One node's answer: who answered, how many nodes it counts live (so the caller knows when it has them all). */
export interface NodeAnswer<T = unknown> {
  node: string;
  liveNodes: number;
  result?: T;
  error?: string;
}

/** `switchboard sessions --json`: one object per session. */
export interface SessionRow {
  jid: string;
  node: string;
  ip: string;
  /** tcp, tls, websocket; "detached" while a stream-management session waits for its client */
  transport: string;
  /** ISO 8601 time it was bound (or taken over by this node) */
  since: string;
  sm: boolean;
  stanzasIn: number;
  stanzasOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** `switchboard top --json`: one object per user. */
export interface TopRow {
  jid: string;
  sessions: number;
  stanzasIn: number;
  stanzasOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface BanRow {
  jid: string;
  reason?: string;
  since: string;
  /** ISO time it ends; absent: until unbanned */
  until?: string;
  /** streams closed by the ban, every node counted */
  kicked: number;
}

/** Answers one request for this node; throws (answered as `{ error }`) on bad arguments. */
export async function answerAdmin(host: Host, liveNodes: () => number, body: unknown): Promise<NodeAnswer> {
  const answer = (result: unknown): NodeAnswer => ({ node: host.nodeId, liveNodes: liveNodes(), result });
  const req = body as Partial<AdminRequest> | null;
  const args = (req?.args ?? {}) as Record<string, unknown>;
  switch (req?.command) {
    case "sessions":
      return answer(sessionRows(host, optionalJid(args.jid)));
    case "kick":
      return answer({ kicked: kick(host, requiredJid(args.jid), text(args.reason) ?? "kicked by an administrator") });
    case "ban": {
      const bare = requiredJid(args.jid).split("/")[0]!;
      if (!(await host.store.accounts.exists(bare))) throw new Error(`no account ${bare}`);
      const since = typeof args.since === "number" ? args.since : Date.now();
      const until = typeof args.until === "number" ? args.until : undefined;
      const reason = text(args.reason);
      await host.store.bans.set({ jid: bare, since, until, reason, by: "switchboard ban" });
      const why = `banned${until ? ` until ${new Date(until).toISOString()}` : ""}${reason ? `: ${reason}` : ""}`;
      return answer({ kicked: kick(host, bare, why) });
    }
    case "unban": {
      const bare = requiredJid(args.jid).split("/")[0]!;
      return answer({ unbanned: await host.store.bans.delete(bare) });
    }
    case "top":
      return answer(topRows(host));
    case "alerts":
      return answer(host.alerts.recent().filter((a: Alert) => a.node === host.nodeId));
    default:
      throw new Error(`unknown admin command ${JSON.stringify(req?.command)}`);
  }
}

function sessionRows(host: Host, jid: string | undefined): SessionRow[] {
  const rows: SessionRow[] = [];
  for (const s of host.sessions.values()) {
    if (s.closed || (jid && !matches(s, jid))) continue;
    const t = s.traffic;
    rows.push({
      jid: s.jid.full,
      node: host.nodeId,
      ip: s.ip,
      transport: s.currentConnection?.transport ?? "detached",
      since: new Date(s.since).toISOString(),
      sm: s.facts.sm === true,
      stanzasIn: t.stanzasIn,
      stanzasOut: t.stanzasOut,
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
    });
  }
  return rows;
}

function topRows(host: Host): TopRow[] {
  const users = new Map<string, TopRow>();
  for (const s of host.sessions.values()) {
    if (s.closed) continue;
    let row = users.get(s.jid.bare);
    if (!row) users.set(s.jid.bare, (row = { jid: s.jid.bare, sessions: 0, stanzasIn: 0, stanzasOut: 0, bytesIn: 0, bytesOut: 0 }));
    row.sessions++;
    row.stanzasIn += s.traffic.stanzasIn;
    row.stanzasOut += s.traffic.stanzasOut;
    row.bytesIn += s.traffic.bytesIn;
    row.bytesOut += s.traffic.bytesOut;
  }
  return [...users.values()];
}

/** Closes this node's streams of `jid` (a full JID: that one; bare: all) with <policy-violation/>. */
function kick(host: Host, jid: string, reason: string): number {
  let kicked = 0;
  for (const s of [...host.sessions.values()]) {
    if (s.closed || !matches(s, jid)) continue;
    host.log.info({ audit: "kick", jid: s.jid.full, reason }, `admin closed ${s.jid.full}: ${reason}`);
    if (s.currentConnection) s.close(new StreamError("policy-violation", reason));
    else void host.sessions.end(s, `admin: ${reason}`);
    kicked++;
  }
  return kicked;
}

function matches(s: Session, jid: string): boolean {
  return jid.includes("/") ? s.jid.full === jid : s.jid.bare === jid;
}

function optionalJid(raw: unknown): string | undefined {
  return raw === undefined || raw === null || raw === "" ? undefined : requiredJid(raw);
}

function requiredJid(raw: unknown): string {
  const jid = typeof raw === "string" ? tryParseJid(raw) : undefined;
  if (!jid || !jid.local) throw new Error(`not a user JID: ${JSON.stringify(raw)}`);
  return jid.full;
}

function text(raw: unknown): string | undefined {
  return typeof raw === "string" && raw.trim() !== "" ? raw.trim().slice(0, 1000) : undefined;
}
