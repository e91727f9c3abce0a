/**
 * `switchboard sessions|kick|ban|unban|top|alerts` against the running server (docs/admin.md):
 * every node of a cluster, or the single node. `--json` prints the objects the docs name.
 */
import { CommandError, UsageError } from "../errors.js";
import { println, type CliIo } from "../io.js";
import { loadCliConfig, type GlobalOptions } from "../options.js";
import { connectAdmin, type AdminConnection } from "../admin/connection.js";
import { parseDuration, table } from "../admin/format.js";
import type { AdminApi } from "../admin/http-client.js";
import { adminJid } from "../jid.js";

export type AdminCommandName = "sessions" | "kick" | "ban" | "unban" | "top" | "alerts";

export async function adminCommand(name: AdminCommandName, args: string[], options: GlobalOptions, io: CliIo): Promise<number> {
  const cfg = await loadCliConfig(options, io);
  const jidArg = (usage: string, required: boolean): string | undefined => {
    if (args.length > 1 || (required && args.length === 0)) throw new UsageError(`usage: switchboard ${usage}`);
    return args[0] === undefined ? undefined : adminJid(args[0], cfg.domain);
  };
  // Arguments are checked before connecting: a usage error needs no server.
  let run: (api: AdminApi) => Promise<number>;
  switch (name) {
    case "sessions": {
      const jid = jidArg("sessions [JID]", false);
      run = async (api) => printSessions(await api.sessions(jid), options, io);
      break;
    }
    case "kick": {
      const jid = jidArg("kick JID [--reason TEXT]", true)!;
      run = async (api) => {
        const result = await api.kick(jid, options.reason);
        if (options.json) println(io.stdout, JSON.stringify(result));
        if (result.kicked === 0) throw new CommandError(`${jid} has no session to kick`);
        if (!options.json) println(io.stdout, `kicked ${result.kicked} session${result.kicked === 1 ? "" : "s"} of ${jid}`);
        return 0;
      };
      break;
    }
    case "ban": {
      const jid = jidArg("ban JID [--for DURATION] [--reason TEXT]", true)!;
      if (jid.includes("/")) throw new UsageError(`ban takes an account (bare) JID, not a resource: ${jid}`);
      const forSeconds = options.for === undefined ? undefined : parseDuration(options.for, "--for");
      run = async (api) => {
        const ban = await api.ban(jid, { forSeconds, reason: options.reason });
        if (options.json) println(io.stdout, JSON.stringify(ban));
        else println(io.stdout, `banned ${ban.jid}${ban.until ? ` until ${ban.until}` : " until unbanned"}; ${ban.kicked} session${ban.kicked === 1 ? "" : "s"} closed`);
        return 0;
      };
      break;
    }
    case "unban": {
      const jid = jidArg("unban JID", true)!;
      run = async (api) => {
        const result = await api.unban(jid);
        if (options.json) println(io.stdout, JSON.stringify(result));
        if (!result.unbanned) throw new CommandError(`${result.jid} is not banned`);
        if (!options.json) println(io.stdout, `unbanned ${result.jid}`);
        return 0;
      };
      break;
    }
    case "top": {
      if (args.length > 0) throw new UsageError("usage: switchboard top [--by stanzas|bytes] [--limit N]");
      const by = options.by ?? "stanzas";
      if (by !== "stanzas" && by !== "bytes") throw new UsageError(`--by must be stanzas or bytes, got "${by}"`);
      const limit = options.limit === undefined ? 10 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(`--limit must be an integer from 1 to 10000, got "${options.limit}"`);
      run = async (api) => {
        const rows = await api.top(by, limit);
        if (options.json) println(io.stdout, JSON.stringify(rows));
        else println(io.stdout, table(["JID", "SESSIONS", "STANZAS-IN", "STANZAS-OUT", "BYTES-IN", "BYTES-OUT"], rows.map((r) => [r.jid, r.sessions, r.stanzasIn, r.stanzasOut, r.bytesIn, r.bytesOut])));
        return 0;
      };
      break;
    }
    case "alerts": {
      if (args.length > 0) throw new UsageError("usage: switchboard alerts [--follow] [--json]");
      run = (api) => printAlerts(api, options, io);
      break;
    }
  }
  return withAdmin(await connectAdmin(cfg, options, io), run);
}

/** Runs against the connection; the cluster client's refusals become one-line failures. */
export async function withAdmin(conn: AdminConnection, run: (api: AdminApi) => Promise<number>): Promise<number> {
  try {
    return await run(conn.api);
  } catch (err) {
    if (err instanceof Error && (err.name === "AdminCommandError" || err.name === "AdminUnreachableError")) throw new CommandError(err.message, { cause: err });
    throw err;
  } finally {
    await conn.close().catch(() => {});
  }
}

function printSessions(rows: Awaited<ReturnType<AdminApi["sessions"]>>, options: GlobalOptions, io: CliIo): number {
  if (options.json) println(io.stdout, JSON.stringify(rows));
  else if (rows.length === 0) println(io.stdout, "no sessions");
  else {
    println(io.stdout, table(
      ["JID", "NODE", "IP", "TRANSPORT", "SINCE", "SM", "STANZAS-IN", "STANZAS-OUT", "BYTES-IN", "BYTES-OUT"],
      rows.map((r) => [r.jid, r.node, r.ip, r.transport, r.since, r.sm ? "on" : "off", r.stanzasIn, r.stanzasOut, r.bytesIn, r.bytesOut]),
    ));
  }
  return 0;
}

/** Lists recent alerts; with --follow keeps asking every 2 s and prints the new ones, until Ctrl-C. */
async function printAlerts(api: AdminApi, options: GlobalOptions, io: CliIo): Promise<number> {
  const seen = new Set<string>();
  const print = (all: Awaited<ReturnType<AdminApi["alerts"]>>) => {
    const fresh = all.filter((a) => !seen.has(`${a.node}\u0000${a.rule}\u0000${a.subject}\u0000${a.at}`));
    for (const a of fresh) seen.add(`${a.node}\u0000${a.rule}\u0000${a.subject}\u0000${a.at}`);
    return fresh;
  };
  const first = print(await api.alerts());
  if (!options.follow) {
    if (options.json) println(io.stdout, JSON.stringify(first));
    else if (first.length === 0) println(io.stdout, "no alerts");
    else for (const a of first) println(io.stdout, alertLine(a));
    return 0;
  }
  const line = (a: (typeof first)[number]) => println(io.stdout, options.json ? JSON.stringify(a) : alertLine(a));
  first.forEach(line);
  const stop = interrupted();
  while (!stop.signal.aborted) {
    await new Promise((r) => setTimeout(r, 2_000).unref());
    if (stop.signal.aborted) break;
    print(await api.alerts()).forEach(line);
  }
  stop.dispose();
  return 0;
}

function alertLine(a: { at: string; node: string; rule: string; subject: string; message: string }): string {
  return `${a.at}  ${a.node}  ${a.rule}  ${a.subject}  ${a.message}`;
}

/** An AbortController that Ctrl-C (SIGINT) or SIGTERM aborts. */
export function interrupted(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
