/**
 * Value parsers for the server's configuration keys: the generic ones (integer, boolean, lists)
 * are the core's, shared with module options (core/options.ts says how YAML and environment
 * values differ); the ones below are the server's own (host names, addresses, URLs).
 */
import { isIP } from "node:net";

export { InvalidValue, boolean, integer, nonEmptyString, oneOf, textList, uriList, type ValueOrigin, type ValueParser } from "@switchboard/core";
import { InvalidValue, integer, nonEmptyString, textList, type ValueParser } from "@switchboard/core";
import { tryParseJid } from "@switchboard/xml";

export const port = integer(0, 65535);

/** RFC 1123 host name (letters, digits, hyphens; labels ≤ 63; total ≤ 253), lowercased. */
export const hostname: ValueParser<string> = (raw, origin) => {
  const name = nonEmptyString(raw, origin).toLowerCase();
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  if (name.length > 253 || !name.split(".").every((l) => label.test(l))) {
    throw new InvalidValue("must be a host name such as example.org (letters, digits, hyphens and dots)");
  }
  return name;
};

export const bindAddress: ValueParser<string> = (raw, origin) => {
  const text = nonEmptyString(raw, origin);
  if (isIP(text) !== 0) return text;
  try {
    return hostname(text, origin);
  } catch {
    throw new InvalidValue("must be an IP address (0.0.0.0, ::, 127.0.0.1) or a host name");
  }
};

/** Node ids appear in NATS subjects and Redis keys, so no dots, spaces or wildcards. */
export const nodeId: ValueParser<string> = (raw, origin) => {
  const text = nonEmptyString(raw, origin);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) throw new InvalidValue("must be 1 to 64 letters, digits, '-' or '_'");
  return text;
};

export const clusterPrefix: ValueParser<string> = (raw, origin) => {
  const value = nonEmptyString(raw, origin);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(value)) throw new InvalidValue("must be 1 to 32 letters, digits, - or _");
  return value;
};

/** A fraction from 0 to 1 (a sampling ratio): a YAML number, or decimal digits in the environment. */
export const ratio: ValueParser<number> = (raw, origin) => {
  if (origin === "typed" && typeof raw !== "number") throw new InvalidValue("must be a number from 0 to 1 written as a YAML number (no quotes)");
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidValue("must be a number from 0 to 1 (0.01 traces one stanza in a hundred)");
  return n;
};

export const urlPath: ValueParser<string> = (raw, origin) => {
  const text = nonEmptyString(raw, origin);
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(text)) throw new InvalidValue("must be a URL path starting with '/'");
  return text;
};

export function urlList(protocols: string[], allowList: boolean): ValueParser<string> {
  const expected = protocols.map((p) => `${p}//`).join(" or ");
  return (raw, origin) => {
    const parts = nonEmptyString(raw, origin).split(",").map((p) => p.trim());
    if (!allowList && parts.length > 1) throw new InvalidValue(`must be a single ${expected} URL`);
    for (const part of parts) {
      let url: URL;
      try {
        url = new URL(part);
      } catch {
        throw new InvalidValue(`must be a ${expected} URL${allowList ? " (or a comma-separated list)" : ""}`);
      }
      if (!protocols.includes(url.protocol) || url.hostname === "") {
        throw new InvalidValue(`must be a ${expected} URL with a host${allowList ? " (or a comma-separated list)" : ""}`);
      }
    }
    return parts.join(",");
  };
}

/** A list of bare JIDs (`admins`): a YAML list, or comma-separated in the environment; normalised. */
export const bareJidList: ValueParser<string[]> = textList(
  (text) => {
    const jid = tryParseJid(text);
    return jid && jid.local !== "" && jid.resource === "" ? jid.bare : undefined;
  },
  "bare JIDs such as admin@example.org",
);

/** A host name, or empty for "the default" (`muc.domain`: conference.<domain>). */
export const optionalHostname: ValueParser<string> = (raw, origin) => (raw === "" ? "" : hostname(raw, origin));

/** loopback and the private ranges (RFC 1918, RFC 4193): where an in-cluster Prometheus scrapes from */
export const DEFAULT_METRICS_CIDRS = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] as const;

/** A list of CIDR blocks (`metrics.allowCidrs`): `10.0.0.0/8`, `::1/128`, or a bare address. */
export const cidrList: ValueParser<string[]> = textList((text) => (parseCidr(text) ? text : undefined), "CIDR blocks such as 10.0.0.0/8 or ::1/128");

/** `a.b.c.d/n` or `x::y/n` (a bare address is a block of one); undefined when not one. */
export function parseCidr(text: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const [address = "", bits, extra] = text.split("/");
  const version = isIP(address);
  if (!version || extra !== undefined) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

/** One external component (XEP-0114): its domain and the secret of its handshake. */
export interface ComponentHostSetting {
  domain: string;
  secret: string;
}

/**
 * `components.hosts`: a YAML list of `{ domain, secret }` mappings, or `domain=secret,...` in
 * the environment. Each domain once; secrets non-empty (the handshake hashes them, XEP-0114 §3).
 * That no domain is the server's own is checked with the whole configuration (config.ts).
 */
export const componentHosts: ValueParser<ComponentHostSetting[]> = (raw, origin) => {
  let entries: Array<{ domain: unknown; secret: unknown }>;
  if (origin === "text") {
    const text = typeof raw === "string" ? raw.trim() : "";
    entries = text === "" ? [] : text.split(",").map((part) => {
      const eq = part.indexOf("=");
      if (eq < 0) throw new InvalidValue("must be domain=secret pairs, comma-separated (e.g. push.example.org=s3cret)");
      return { domain: part.slice(0, eq).trim(), secret: part.slice(eq + 1).trim() };
    });
  } else {
    if (!Array.isArray(raw)) throw new InvalidValue("must be a YAML list of mappings with domain and secret");
    entries = raw.map((item) => {
      if (item === null || typeof item !== "object" || Array.isArray(item)) throw new InvalidValue("must be a YAML list of mappings with domain and secret");
      const keys = Object.keys(item).filter((k) => k !== "domain" && k !== "secret");
      if (keys.length > 0) throw new InvalidValue(`a component has only domain and secret (unknown: ${keys.join(", ")})`);
      return item as { domain: unknown; secret: unknown };
    });
  }
  const seen = new Set<string>();
  return entries.map(({ domain, secret }) => {
    let name: string;
    try {
      name = hostname(domain, "typed");
    } catch {
      throw new InvalidValue(`component domain ${JSON.stringify(domain)} must be a host name such as push.example.org`);
    }
    if (seen.has(name)) throw new InvalidValue(`names component ${name} twice`);
    seen.add(name);
    if (typeof secret !== "string" || secret === "") throw new InvalidValue(`component ${name} needs a non-empty secret`);
    return { domain: name, secret };
  });
};
