/**
 * The admin API on the HTTP port (docs/admin.md), always behind the admin token
 * (`Authorization: Bearer <token>`). Each endpoint is one admin command, answered for the whole
 * cluster: the node asks every node over its bus (admin-client.ts), so on a single node it asks
 * itself. Replies are JSON; errors are `{ "error": "…" }` with 400 (bad argument, unknown JID),
 * 401 (no or wrong token), 404 (unknown command), 503 (nodes did not answer).
 *
 *   GET  /admin/sessions[?jid=J]            POST /admin/kick   {jid, reason?}
 *   POST /admin/ban {jid, forSeconds?, reason?}   POST /admin/unban {jid}
 *   GET  /admin/top?by=stanzas|bytes&limit=N      GET  /admin/alerts
 *   GET  /admin/tap?jid=J   — newline-delimited JSON, one TapEvent per line, until the client goes
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { httpConnectionAuthenticated } from "@switchboard/c2s";
import type { Logger } from "@switchboard/core";
import { tryParseJid } from "@switchboard/xml";
import type { HttpRoute } from "../http.js";
import { AdminClient, AdminCommandError, AdminUnreachableError } from "./admin-client.js";
import { tokenMatches } from "./token.js";

const MAX_BODY = 16_384;

export function adminRoute(client: AdminClient, token: string, log: Logger): HttpRoute {
  return {
    path: "/admin/",
    methods: ["GET", "POST"],
    async handle(req, res, path) {
      const presented = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
      if (!presented) return json(res, 401, { error: "the admin API needs the admin token: Authorization: Bearer <token> (admin.tokenFile)" }, { "www-authenticate": "Bearer" });
      if (!tokenMatches(presented, token)) {
        log.warn({ audit: "admin", peer: req.socket.remoteAddress }, "admin API: wrong token");
        return json(res, 401, { error: "wrong admin token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
      }
      // An operator, not an idle socket: exempt from the WebSocket port's upgrade deadline.
      httpConnectionAuthenticated(req.socket);
      const query = new URL(req.url ?? "/", "http://admin").searchParams;
      let body: Record<string, unknown>;
      try {
        body = req.method === "POST" ? await readJson(req) : Object.fromEntries(query);
      } catch (err) {
        return json(res, 400, { error: (err as Error).message });
      }
      const command = path.slice("/admin/".length);
      try {
        switch (command) {
          case "sessions":
            return json(res, 200, await client.sessions(optional(body.jid)));
          case "kick":
            return json(res, 200, await client.kick(jidArg(body.jid), optional(body.reason)));
          case "ban":
            return json(res, 200, await client.ban(jidArg(body.jid), { forSeconds: seconds(body.forSeconds), reason: optional(body.reason) }));
          case "unban":
            return json(res, 200, await client.unban(jidArg(body.jid)));
          case "top":
            return json(res, 200, await client.top(body.by === "bytes" ? "bytes" : "stanzas", limit(body.limit)));
          case "alerts":
            return json(res, 200, await client.alerts());
          case "tap":
            return await tap(client, req, res, jidArg(body.jid));
          default:
            return json(res, 404, { error: `unknown admin command "${command}"` });
        }
      } catch (err) {
        if (err instanceof AdminCommandError || err instanceof BadArgument) return json(res, 400, { error: err.message });
        if (err instanceof AdminUnreachableError) return json(res, 503, { error: err.message });
        throw err;
      }
    },
  };
}

async function tap(client: AdminClient, req: IncomingMessage, res: ServerResponse, jid: string): Promise<void> {
  const bare = jid.split("/")[0]!;
  const stop = new AbortController();
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
  res.flushHeaders();
  req.socket.setTimeout(0);
  res.on("close", () => stop.abort());
  await client.tap(bare, (event) => {
    if (jid.includes("/") && event.jid !== jid) return;
    res.write(`${JSON.stringify(event)}\n`);
  }, stop.signal, `HTTP admin API (${req.socket.remoteAddress ?? "?"})`);
  res.end();
}

class BadArgument extends Error {}

function optional(raw: unknown): string | undefined {
  return typeof raw === "string" && raw !== "" ? raw : undefined;
}

function jidArg(raw: unknown): string {
  const jid = typeof raw === "string" ? tryParseJid(raw) : undefined;
  if (!jid || !jid.local) throw new BadArgument(`"jid" must be a user JID (user@domain or user@domain/resource), got ${JSON.stringify(raw ?? null)}`);
  return jid.full;
}

function seconds(raw: unknown): number | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new BadArgument(`"forSeconds" must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

function limit(raw: unknown): number {
  if (raw === undefined || raw === null || raw === "") return 10;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new BadArgument(`"limit" must be an integer from 1 to 10000, got ${JSON.stringify(raw)}`);
  return n;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error("the request body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("the request body must be a JSON object");
  return parsed as Record<string, unknown>;
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers }).end(`${JSON.stringify(value)}\n`);
}
