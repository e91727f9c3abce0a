/**
 * Value parsers for the server's configuration keys: the generic ones (integer, boolean, lists)
 * are the core's, shared with module options (core/options.ts says how YAML and environment
 * values differ); the ones below are the server's own (host names, addresses, URLs).
 */
import { isIP } from "node:net";

export { InvalidValue, boolean, integer, nonEmptyString, oneOf, uriList, type ValueOrigin, type ValueParser } from "@switchboard/core";
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
