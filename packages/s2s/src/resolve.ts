/**
 * Where a remote domain's server listens (RFC 6120 §3.2, XEP-0368 §3): a static route
 * (`s2s.routes`) first, with no DNS query at all; otherwise SRV `_xmpps-server._tcp` (direct
 * TLS) and `_xmpp-server._tcp` (STARTTLS), ordered by priority then weight; without SRV
 * records, the domain itself on 5269 (RFC 6120 §3.2.2 fallback).
 */
import { Resolver } from "node:dns/promises";

export interface RemoteAddress {
  host: string;
  port: number;
  /** XEP-0368 direct TLS: TLS from the first byte, no STARTTLS */
  directTls: boolean;
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** the DNS lookups resolution makes; injectable so a unit test never leaves the machine */
export interface SrvLookup {
  resolveSrv(name: string): Promise<SrvRecord[]>;
}

/**
 * Special-use names that public DNS never delegates (RFC 2606, RFC 6761): a query for one can
 * only fail, or leak to whatever resolver the machine has. Test domains end in `.test`, so a test
 * that forgot its static route fails here instead of asking the network.
 */
const NEVER_DELEGATED = /\.(test|example|invalid|localhost)$/;

export class ResolveError extends Error {
  override name = "ResolveError";
}

export class RemoteResolver {
  private readonly routes: Map<string, RemoteAddress>;

  constructor(
    routes: Readonly<Record<string, string>>,
    private readonly dns: SrvLookup = new Resolver({ timeout: 5000, tries: 2 }),
  ) {
    this.routes = new Map(Object.entries(routes).map(([domain, target]) => [domain.toLowerCase(), parseHostPort(target)]));
  }

  /** a static route for `domain`, if one is configured */
  staticRoute(domain: string): RemoteAddress | undefined {
    return this.routes.get(domain);
  }

  /** the addresses to try, in order; rejects with ResolveError when there is none */
  async resolve(domain: string): Promise<RemoteAddress[]> {
    const fixed = this.routes.get(domain);
    if (fixed) return [fixed];
    if (NEVER_DELEGATED.test(`.${domain}`)) throw new ResolveError(`${domain} is a special-use name with no static route in s2s.routes`);
    const direct = await this.srv(`_xmpps-server._tcp.${domain}`);
    const starttls = await this.srv(`_xmpp-server._tcp.${domain}`);
    // RFC 2782: a single "." target means the service is decidedly not available.
    const records = [...direct.map((r) => ({ ...r, directTls: true })), ...starttls.map((r) => ({ ...r, directTls: false }))];
    if (records.length === 1 && records[0]!.name === ".") throw new ResolveError(`${domain} says it offers no XMPP server-to-server service`);
    const usable = records.filter((r) => r.name !== "." && r.name !== "");
    if (usable.length === 0) return [{ host: domain, port: 5269, directTls: false }];
    // Lower priority first; within one, heavier first (a deterministic reading of RFC 2782's
    // weighted choice), direct TLS before STARTTLS on a tie (XEP-0368 §3).
    usable.sort((a, b) => a.priority - b.priority || b.weight - a.weight || Number(b.directTls) - Number(a.directTls));
    return usable.map((r) => ({ host: r.name, port: r.port, directTls: r.directTls }));
  }

  private async srv(name: string): Promise<SrvRecord[]> {
    try {
      return await this.dns.resolveSrv(name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENODATA" || code === "ENOTFOUND") return [];
      throw new ResolveError(`SRV lookup of ${name} failed (${code ?? (err as Error).message})`);
    }
  }
}

/** "host:port" / "[v6]:port" as validated by the configuration */
export function parseHostPort(text: string): RemoteAddress {
  const colon = text.lastIndexOf(":");
  let host = text.slice(0, colon);
  if (host.startsWith("[")) host = host.slice(1, -1);
  return { host, port: Number(text.slice(colon + 1)), directTls: false };
}
