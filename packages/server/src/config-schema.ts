/**
 * The configuration schema: one row per key with its type, default, environment variable and
 * description. This single table drives validation (config.ts), `describeConfig()`, the table in
 * docs/configuration.md and switchboard.example.yaml (config.test.ts checks that both stay in step).
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["json", "pretty", "auto"] as const;
export const ROLES = ["all", "edge"] as const;
export type Role = (typeof ROLES)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/** A value failed validation; config.ts turns this into a ConfigError naming the key and source. */
export class InvalidValue extends Error {
  override name = "InvalidValue";
}

export interface ConfigKeySpec {
  /** dotted path, e.g. "c2s.port" */
  key: string;
  /** human-readable type for docs and error messages */
  type: string;
  /** undefined for optional keys without a default */
  default: () => unknown;
  /** how the default is shown in docs (when not simply the value) */
  defaultText?: string;
  env?: string;
  description: string;
  /** Validates one raw value (from YAML, env or overrides) and returns the typed value. */
  parse: (raw: unknown) => unknown;
}

// ---------------------------------------------------------------------------------------------
// Value parsers. Env values always arrive as strings, so every parser accepts the string form.

function integer(min: number, max: number) {
  return (raw: unknown): number => {
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidValue(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

const port = integer(0, 65535);

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);
function boolean(raw: unknown): boolean {
  if (typeof raw === "boolean") return raw;
  const word = typeof raw === "string" || typeof raw === "number" ? String(raw).trim().toLowerCase() : "";
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new InvalidValue("must be a boolean (true/false, 1/0, yes/no)");
}

function nonEmptyString(raw: unknown): string {
  if (typeof raw !== "string" || raw.trim() === "") throw new InvalidValue("must be a non-empty string");
  return raw.trim();
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: unknown): T => {
    const value = typeof raw === "string" ? raw.trim().toLowerCase() : raw;
    if (!choices.includes(value as T)) throw new InvalidValue(`must be one of ${choices.join(", ")}`);
    return value as T;
  };
}

/** RFC 1123 host name (letters, digits, hyphens; labels ≤ 63; total ≤ 253), lowercased. */
export function parseHostname(raw: unknown): string {
  const name = nonEmptyString(raw).toLowerCase();
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  if (name.length > 253 || !name.split(".").every((l) => label.test(l))) {
    throw new InvalidValue("must be a host name such as example.org (letters, digits, hyphens and dots)");
  }
  return name;
}

function bindAddress(raw: unknown): string {
  const text = nonEmptyString(raw);
  if (isIP(text) !== 0) return text;
  try {
    return parseHostname(text);
  } catch {
    throw new InvalidValue("must be an IP address (0.0.0.0, ::, 127.0.0.1) or a host name");
  }
}

/** Node ids appear in NATS subjects and Redis keys, so no dots, spaces or wildcards. */
function nodeId(raw: unknown): string {
  const text = nonEmptyString(raw);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(text)) {
    throw new InvalidValue("must be 1 to 64 letters, digits, '-' or '_'");
  }
  return text;
}

export function randomNodeId(): string {
  return `node-${randomBytes(3).toString("hex")}`;
}

function clusterPrefix(raw: unknown): string {
  const value = nonEmptyString(raw);
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(value)) throw new InvalidValue("must be 1 to 32 letters, digits, - or _");
  return value;
}

function websocketPath(raw: unknown): string {
  const text = nonEmptyString(raw);
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(text)) throw new InvalidValue("must be a URL path starting with '/'");
  return text;
}

function urlList(protocols: string[], allowList: boolean) {
  const expected = protocols.map((p) => `${p}//`).join(" or ");
  return (raw: unknown): string => {
    const parts = nonEmptyString(raw).split(",").map((p) => p.trim());
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

// ---------------------------------------------------------------------------------------------

const none = () => undefined;

export const CONFIG_SCHEMA: readonly ConfigKeySpec[] = [
  { key: "domain", type: "hostname", default: () => "localhost", env: "SWITCHBOARD_DOMAIN",
    description: "XMPP domain served (the part after @ in user JIDs); lowercased.", parse: parseHostname },
  { key: "dataDir", type: "path", default: () => "./data", env: "SWITCHBOARD_DATA_DIR",
    description: "Directory for the SQLite database and generated TLS files; relative paths are resolved against the working directory.",
    parse: nonEmptyString },
  { key: "nodeId", type: "string", default: randomNodeId, defaultText: "random `node-xxxxxx`", env: "SWITCHBOARD_NODE_ID",
    description: "Unique name of this process in a cluster (letters, digits, - and _). Set it explicitly for cluster nodes.",
    parse: nodeId },
  { key: "role", type: ROLES.join(" \\| "), default: () => "all", env: "SWITCHBOARD_ROLE",
    description: "`all`: every role in one process on embedded backends; `edge`: a stateless cluster edge (needs redisUrl and natsUrl).",
    parse: oneOf(ROLES) },
  { key: "bind", type: "address", default: () => "0.0.0.0", env: "SWITCHBOARD_BIND",
    description: "Address every listener binds to; `::` listens on IPv6 and IPv4 where the host supports it.",
    parse: bindAddress },
  { key: "log.level", type: LOG_LEVELS.join(" \\| "), default: () => "info", env: "SWITCHBOARD_LOG_LEVEL",
    description: "Minimum level written to the log.", parse: oneOf(LOG_LEVELS) },
  { key: "log.format", type: LOG_FORMATS.join(" \\| "), default: () => "auto", env: "SWITCHBOARD_LOG_FORMAT",
    description: "`json`: one JSON object per line; `pretty`: human-readable; `auto`: pretty when stdout is a terminal.",
    parse: oneOf(LOG_FORMATS) },
  { key: "c2s.port", type: "port", default: () => 5222, env: "SWITCHBOARD_C2S_PORT",
    description: "Client TCP port with STARTTLS (RFC 6120 §5). 0 picks a free port.", parse: port },
  { key: "c2s.tlsPort", type: "port", default: () => 5223, env: "SWITCHBOARD_C2S_TLS_PORT",
    description: "Client port with direct TLS (XEP-0368). 0 picks a free port.", parse: port },
  { key: "c2s.requireTls", type: "boolean", default: () => true,
    description: "Refuse authentication on port c2s.port until STARTTLS has completed.", parse: boolean },
  { key: "c2s.proxyProtocol", type: "boolean", default: () => false, env: "SWITCHBOARD_C2S_PROXY_PROTOCOL",
    description: "Expect a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy-v2` sends) on c2s.port and c2s.tlsPort and take the client's address from it, for the per-IP limits behind a TCP load balancer. Connections without one are closed: make those ports reachable only through the balancer.",
    parse: boolean },
  { key: "http.port", type: "port", default: () => 5280, env: "SWITCHBOARD_HTTP_PORT",
    description: "HTTP port for WebSocket (RFC 7395), /healthz and /readyz. 0 picks a free port.", parse: port },
  { key: "http.trustForwardedFor", type: "boolean", default: () => false, env: "SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR",
    description: "Take a WebSocket client's address from the last `X-Forwarded-For` entry (the one the reverse proxy in front added), for the per-IP limits. Only behind a proxy that appends it, with http.port unreachable otherwise: a direct client could name any address.",
    parse: boolean },
  { key: "http.websocketPath", type: "path", default: () => "/xmpp-websocket",
    description: "URL path of the XMPP WebSocket endpoint.", parse: websocketPath },
  { key: "tls.cert", type: "path", default: none, defaultText: "generated", env: "SWITCHBOARD_TLS_CERT",
    description: "PEM certificate (chain) file. When tls.cert and tls.key are both unset, a self-signed certificate is generated in `<dataDir>/tls/`.",
    parse: nonEmptyString },
  { key: "tls.key", type: "path", default: none, defaultText: "generated", env: "SWITCHBOARD_TLS_KEY",
    description: "PEM private key file matching tls.cert; set both or neither.", parse: nonEmptyString },
  { key: "limits.maxStanzaBytes", type: "integer", default: () => 262144,
    description: "Largest stanza accepted, in bytes; a bigger one closes the stream with `<policy-violation/>` (RFC 6120 §4.9.3.14).",
    parse: integer(1024, 64 * 1024 * 1024) },
  { key: "limits.maxDepth", type: "integer", default: () => 32,
    description: "Deepest XML element nesting accepted inside a stanza.", parse: integer(2, 1024) },
  { key: "limits.outboundBufferBytes", type: "integer", default: () => 1048576,
    description: "A connection whose unsent output exceeds this many bytes is closed (slow receiver).",
    parse: integer(4096, 1024 * 1024 * 1024) },
  { key: "limits.authFailuresPerIp", type: "integer", default: () => 5,
    description: "Failed authentications allowed per IP address within limits.authFailureWindowSeconds.",
    parse: integer(1, 1_000_000) },
  { key: "limits.authFailureWindowSeconds", type: "integer", default: () => 60,
    description: "Window for limits.authFailuresPerIp, in seconds.", parse: integer(1, 86_400) },
  { key: "limits.offlinePerUser", type: "integer", default: () => 100, env: "SWITCHBOARD_OFFLINE_MAX",
    description: "Offline messages kept per user (XEP-0160); beyond it messages bounce with an error.",
    parse: integer(0, 1_000_000) },
  { key: "limits.handshakeTimeoutSeconds", type: "integer", default: () => 30,
    description: "Seconds a new connection may take to authenticate and bind before it is closed.",
    parse: integer(1, 3600) },
  { key: "registration.enabled", type: "boolean", default: () => false, env: "SWITCHBOARD_REGISTRATION",
    description: "Allow in-band account registration (XEP-0077).", parse: boolean },
  { key: "registration.perIpPerHour", type: "integer", default: () => 5,
    description: "In-band registrations allowed per IP address per hour.", parse: integer(1, 1_000_000) },
  { key: "redisUrl", type: "URL", default: none, defaultText: "unset", env: "SWITCHBOARD_REDIS_URL",
    description: "Redis for cluster mode (session registry and store), `redis://` or `rediss://`. The user commands use it too when set.",
    parse: urlList(["redis:", "rediss:"], false) },
  { key: "clusterPrefix", type: "string", default: () => "sb", env: "SWITCHBOARD_CLUSTER_PREFIX",
    description: "Prefix of every Redis key and NATS subject, so several deployments can share one Redis and NATS.",
    parse: clusterPrefix },
  { key: "natsUrl", type: "URL list", default: none, defaultText: "unset", env: "SWITCHBOARD_NATS_URL",
    description: "NATS for cluster mode (stanza bus), `nats://` or `tls://`; several servers comma-separated.",
    parse: urlList(["nats:", "tls:"], true) },
];

/** Keys whose value is a mapping of further keys (YAML sections). */
export const CONFIG_SECTIONS: ReadonlySet<string> = new Set(
  CONFIG_SCHEMA.flatMap((spec) => {
    const parts = spec.key.split(".");
    return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("."));
  }),
);
