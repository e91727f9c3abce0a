/**
 * Value parsers for configuration keys. Each takes the raw value and where it came from:
 *
 * - "typed" (the YAML file, command-line flags, programmatic overrides): YAML 1.2 already typed
 *   it, so a boolean must be `true`/`false` and a number a YAML number. `"yes"`, `on` or `"12"`
 *   are refused rather than guessed at — a quoted "false" silently read as true is the classic
 *   config bug.
 * - "text" (environment variables): always strings, so `1/0`, `yes/no`, `on/off` and digit
 *   strings are accepted.
 */
import { isIP } from "node:net";

/** A value failed validation; config.ts turns this into a ConfigError naming the key and source. */
export class InvalidValue extends Error {
  override name = "InvalidValue";
}

export type ValueOrigin = "typed" | "text";
export type ValueParser<T = unknown> = (raw: unknown, origin: ValueOrigin) => T;

export function integer(min: number, max: number): ValueParser<number> {
  return (raw, origin) => {
    const range = `an integer from ${min} to ${max}`;
    if (origin === "typed" && typeof raw !== "number") {
      throw new InvalidValue(`must be ${range} written as a YAML number (no quotes)`);
    }
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidValue(`must be ${range}`);
    return n;
  };
}

export const port = integer(0, 65535);

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

export const boolean: ValueParser<boolean> = (raw, origin) => {
  if (typeof raw === "boolean") return raw;
  if (origin === "typed") throw new InvalidValue("must be true or false (a YAML boolean, no quotes)");
  const word = typeof raw === "string" ? raw.trim().toLowerCase() : "";
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new InvalidValue("must be a boolean (true/false, 1/0, yes/no, on/off)");
};

export const nonEmptyString: ValueParser<string> = (raw) => {
  if (typeof raw !== "string" || raw.trim() === "") throw new InvalidValue("must be a non-empty string");
  return raw.trim();
};

export function oneOf<T extends string>(choices: readonly T[]): ValueParser<T> {
  return (raw) => {
    const value = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (!choices.includes(value as T)) throw new InvalidValue(`must be one of ${choices.join(", ")}`);
    return value as T;
  };
}

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

/**
 * A list of URIs with a scheme (mailto:, xmpp:, https:, …): a YAML list, or one string with
 * comma-separated entries (the only form an environment variable has).
 */
export const uriList: ValueParser<string[]> = (raw) => {
  const items = Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(",") : undefined;
  if (!items) throw new InvalidValue("must be a list of URIs such as mailto:abuse@example.org or xmpp:abuse@example.org");
  const out: string[] = [];
  for (const item of items) {
    const text = typeof item === "string" ? item.trim() : "";
    if (text === "" && typeof raw === "string") continue; // "a, b," in an env variable
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(text)) {
      throw new InvalidValue(`must be a list of URIs with a scheme (mailto:, xmpp:, https:), got ${JSON.stringify(item)}`);
    }
    out.push(text);
  }
  return out;
};
