/**
 * The single node's admin API over HTTP (docs/admin.md): the same calls as the cluster's
 * AdminClient, sent to http.port on the loopback (or the bind address) with the admin token.
 */
import type { Alert, TapEvent } from "@switchboard/core";
import type { BanRow, KickResult, SessionRow, TopRow } from "@switchboard/server";
import { CommandError } from "../errors.js";

export interface AdminApi {
  sessions(jid?: string): Promise<SessionRow[]>;
  kick(jid: string, reason?: string): Promise<KickResult>;
  ban(jid: string, opts: { forSeconds?: number; reason?: string }): Promise<BanRow>;
  unban(jid: string): Promise<{ jid: string; unbanned: boolean }>;
  top(by: "stanzas" | "bytes", limit: number): Promise<TopRow[]>;
  alerts(): Promise<Alert[]>;
  tap(user: string, onEvent: (event: TapEvent) => void, signal: AbortSignal): Promise<void>;
}

export class HttpAdminApi implements AdminApi {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  sessions(jid?: string): Promise<SessionRow[]> {
    return this.call("GET", `sessions${jid ? `?jid=${encodeURIComponent(jid)}` : ""}`);
  }
  kick(jid: string, reason?: string): Promise<KickResult> {
    return this.call("POST", "kick", { jid, reason });
  }
  ban(jid: string, opts: { forSeconds?: number; reason?: string }): Promise<BanRow> {
    return this.call("POST", "ban", { jid, ...opts });
  }
  unban(jid: string): Promise<{ jid: string; unbanned: boolean }> {
    return this.call("POST", "unban", { jid });
  }
  top(by: "stanzas" | "bytes", limit: number): Promise<TopRow[]> {
    return this.call("GET", `top?by=${by}&limit=${limit}`);
  }
  alerts(): Promise<Alert[]> {
    return this.call("GET", "alerts");
  }

  async tap(user: string, onEvent: (event: TapEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await this.fetch("GET", `tap?jid=${encodeURIComponent(user)}`, undefined, signal);
    if (!res || !res.body) return;
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        pending += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) onEvent(JSON.parse(line) as TapEvent);
        }
      }
    } catch (err) {
      if (!signal.aborted) throw new CommandError(`the tap stream from ${this.base} broke: ${(err as Error).message}`);
    }
    if (!signal.aborted) throw new CommandError(`the server at ${this.base} ended the tap (stopping?)`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = (await this.fetch(method, path, body))!;
    const text = await res.text();
    return JSON.parse(text) as T;
  }

  /** The response when it is 2xx; a CommandError naming the server's error otherwise. */
  private async fetch(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/admin/${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: signal ?? AbortSignal.timeout(10_000),
      });
    } catch (err) {
      if (signal?.aborted) return undefined;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CommandError(`cannot reach the server's admin API at ${this.base} (http.port): ${cause?.code ?? cause?.message ?? (err as Error).message}; is it running?`);
    }
    if (res.ok) return res;
    let message = `HTTP ${res.status}`;
    try {
      message = ((await res.json()) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the status
    }
    if (res.status === 401) throw new CommandError(`${message} (the server at ${this.base} did not accept the admin token; see --token, SWITCHBOARD_ADMIN_TOKEN, admin.tokenFile)`);
    throw new CommandError(message);
  }
}
