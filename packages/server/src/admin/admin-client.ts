/**
 * The admin commands across the cluster (docs/admin.md): asks every node over the bus
 * (node-admin.ts answers) and merges what they say. Used by the HTTP admin API (a node asking
 * its own bus: every node of a cluster, or itself alone) and by the CLI in a cluster (its own
 * NATS connection). A reply says how many nodes its sender counts live; the client waits for
 * that many answers, or ADMIN_TIMEOUT_MS.
 */
import { TAP_LEASE_MS, type Alert, type StanzaBus, type TapEvent } from "@switchboard/core";
import { ADMIN_TOPIC, type AdminCommand, type BanRow, type NodeAnswer, type SessionRow, type TopRow } from "./node-admin.js";

export const ADMIN_TIMEOUT_MS = 3_000;

/** No node answered: nothing runs where the settings point. */
export class AdminUnreachableError extends Error {
  override name = "AdminUnreachableError";
}

/** A node refused the command (an unknown JID, a bad argument). */
export class AdminCommandError extends Error {
  override name = "AdminCommandError";
}

export interface KickResult {
  jid: string;
  kicked: number;
}

export class AdminClient {
  constructor(
    private readonly bus: StanzaBus,
    private readonly where: string,
    private readonly timeoutMs = ADMIN_TIMEOUT_MS,
  ) {}

  async sessions(jid?: string): Promise<SessionRow[]> {
    const rows = (await this.ask<SessionRow[]>("sessions", { jid })).flatMap((a) => a.result ?? []);
    return rows.sort((a, b) => a.jid.localeCompare(b.jid) || a.node.localeCompare(b.node));
  }

  async kick(jid: string, reason?: string): Promise<KickResult> {
    const answers = await this.ask<{ kicked: number }>("kick", { jid, reason });
    return { jid, kicked: answers.reduce((n, a) => n + (a.result?.kicked ?? 0), 0) };
  }

  async ban(jid: string, opts: { forSeconds?: number; reason?: string }): Promise<BanRow> {
    const since = Date.now();
    const until = opts.forSeconds ? since + opts.forSeconds * 1000 : undefined;
    const answers = await this.ask<{ kicked: number }>("ban", { jid, since, until, reason: opts.reason });
    const row: BanRow = { jid: jid.split("/")[0]!, since: new Date(since).toISOString(), kicked: answers.reduce((n, a) => n + (a.result?.kicked ?? 0), 0) };
    if (opts.reason) row.reason = opts.reason;
    if (until) row.until = new Date(until).toISOString();
    return row;
  }

  async unban(jid: string): Promise<{ jid: string; unbanned: boolean }> {
    const answers = await this.ask<{ unbanned: boolean }>("unban", { jid });
    return { jid: jid.split("/")[0]!, unbanned: answers.some((a) => a.result?.unbanned === true) };
  }

  /** The heaviest users online now, every node's sessions of a user summed. */
  async top(by: "stanzas" | "bytes", limit: number): Promise<TopRow[]> {
    const users = new Map<string, TopRow>();
    for (const a of await this.ask<TopRow[]>("top", {})) {
      for (const r of a.result ?? []) {
        const row = users.get(r.jid);
        if (!row) users.set(r.jid, { ...r });
        else {
          row.sessions += r.sessions;
          row.stanzasIn += r.stanzasIn;
          row.stanzasOut += r.stanzasOut;
          row.bytesIn += r.bytesIn;
          row.bytesOut += r.bytesOut;
        }
      }
    }
    const weight = (r: TopRow) => (by === "bytes" ? r.bytesIn + r.bytesOut : r.stanzasIn + r.stanzasOut);
    return [...users.values()].sort((a, b) => weight(b) - weight(a) || a.jid.localeCompare(b.jid)).slice(0, limit);
  }

  /** Recent alerts of every node, oldest first. */
  async alerts(): Promise<Alert[]> {
    const all = (await this.ask<Alert[]>("alerts", {})).flatMap((a) => a.result ?? []);
    return all.sort((a, b) => a.at.localeCompare(b.at) || a.node.localeCompare(b.node));
  }

  /**
   * Streams every stanza to and from `user` (a bare JID) on every node until `signal` aborts:
   * announces the interest (tap.ts), renews it while watching, withdraws it at the end.
   */
  async tap(user: string, onEvent: (event: TapEvent) => void, signal: AbortSignal, by = "switchboard tap"): Promise<void> {
    const unsubscribe = this.bus.subscribeTap(user, onEvent);
    const announce = () => this.bus.publishControl({ type: "tap.watch", origin: "admin", user, until: Date.now() + TAP_LEASE_MS, by }).catch(() => {});
    try {
      await this.bus.flush?.(); // the subscription is in force before any node starts publishing
      await announce();
      const renew = setInterval(announce, TAP_LEASE_MS / 3);
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      }).finally(() => clearInterval(renew));
    } finally {
      unsubscribe();
      await this.bus.publishControl({ type: "tap.unwatch", origin: "admin", user, by }).catch(() => {});
      await this.bus.flush?.().catch(() => {});
    }
  }

  private async ask<T>(command: AdminCommand, args: Record<string, unknown>): Promise<Array<NodeAnswer<T>>> {
    let live = 1;
    const answers = (await this.bus.requestAll(ADMIN_TOPIC, { command, args }, {
      timeoutMs: this.timeoutMs,
      enough: (got) => {
        const last = got.at(-1) as NodeAnswer | undefined;
        if (last && typeof last.liveNodes === "number") live = Math.max(live, last.liveNodes);
        return got.length >= live;
      },
    })) as Array<NodeAnswer<T>>;
    if (answers.length === 0) throw new AdminUnreachableError(`no Switchboard node answered at ${this.where}`);
    const failed = answers.find((a) => a.error);
    if (failed) throw new AdminCommandError(failed.error!);
    return answers;
  }
}
