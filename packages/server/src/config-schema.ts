/**
 * The configuration schema: one row per key with its type, default and description. This single
 * table drives validation (config.ts), the environment variable names (mechanical: `SWITCHBOARD_`
 * + the dotted path in upper snake case, see envName), the table in docs/configuration.md and
 * switchboard.example.yaml (config-docs.ts generates both; config.test.ts checks they match).
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { BOUND_OPTIONS, DEFAULT_MODULES, MAM_OPTIONS, PEP_OPTIONS, PUSH_OPTIONS, SM_OPTIONS } from "@switchboard/modules";
import { MUC_OPTIONS } from "@switchboard/muc";
import {
  InvalidValue,
  bareJidList,
  bindAddress,
  cidrList,
  DEFAULT_METRICS_CIDRS,
  boolean,
  clusterPrefix,
  componentHosts,
  hostname,
  integer,
  nodeId,
  nonEmptyString,
  oneOf,
  optionalHostname,
  port,
  ratio,
  uriList,
  urlList,
  textList,
  urlPath,
  type ValueOrigin,
  type ValueParser,
} from "./config-values.js";
import { DEFAULT_ALERT_RULES, MEASURE_NAMES, alertRules } from "./alerts/rules.js";

export { InvalidValue } from "./config-values.js";


export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["json", "pretty", "auto"] as const;
/**
 * The roles this build has: what a process serves. `all` (the default) means every one of
 * them; a comma-separated list composes them (`edge,muc` once MUC is a role). The backends are
 * not a role: they follow from redisUrl and natsUrl alone. `muc` serves multi-user chat rooms
 * (XEP-0045) at muc.domain; in a cluster, every node routes the service's stanzas to a worker.
 */
export const ROLES = ["edge", "muc"] as const;
export type Role = (typeof ROLES)[number];

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface ConfigKeySpec {
  /** dotted path, e.g. "c2s.port" */
  key: string;
  /** human-readable type for docs and error messages */
  type: string;
  /** undefined for optional keys without a default */
  default: () => unknown;
  /** how the default is shown in docs (when not simply the value) */
  defaultText?: string;
  /** earlier environment variable names still accepted (the mechanical name wins when both are set) */
  envAliases?: readonly string[];
  description: string;
  /** for keys without a default: a value shown, commented out, in switchboard.example.yaml */
  example?: string;
  /** Validates one raw value and returns the typed value (see config-values.ts for origins). */
  parse: ValueParser;
}

/** `limits.maxStanzaBytes` → `SWITCHBOARD_LIMITS_MAX_STANZA_BYTES` (ARCHITECTURE.md "Configuration names"). */
export function envName(key: string): string {
  return `SWITCHBOARD_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/\./g, "_").toUpperCase()}`;
}

export function randomNodeId(): string {
  return `node-${randomBytes(3).toString("hex")}`;
}

const none = () => undefined;
const emptyList = () => [];

/** XEP-0157 address kinds: config key `contact.<kind>`. */
export const CONTACT_KINDS = ["abuse", "admin", "feedback", "sales", "security", "support", "status"] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];

/** The server's own keys. */
const SERVER_KEYS: readonly ConfigKeySpec[] = [
  { key: "domain", type: "hostname", default: () => "localhost",
    description: "XMPP domain served (the part after @ in user JIDs); lowercased.", parse: hostname },
  { key: "dataDir", type: "path", default: () => "./data",
    description: "Directory for the SQLite database, the generated TLS files and the server secret; relative paths are resolved against the working directory. Cluster edges may share one.",
    parse: nonEmptyString },
  { key: "nodeId", type: "string", default: randomNodeId, defaultText: "random `node-xxxxxx`", example: "edge-1",
    description: "Unique name of this process in a cluster (letters, digits, - and _). Set it explicitly for cluster nodes.",
    parse: nodeId },
  { key: "role", type: "role list", default: () => "all",
    description: `What this process serves: \`all\` (every role of this build: ${ROLES.join(", ")}) or a comma-separated list of them. Which backends it uses follows from redisUrl and natsUrl: both set, the cluster's Redis and NATS; neither, the embedded ones (one process).`,
    parse: roleList },
  { key: "bind", type: "address", default: () => "0.0.0.0",
    description: "Address every listener binds to; `::` listens on IPv6 and IPv4 where the host supports it.",
    parse: bindAddress },
  { key: "log.level", type: LOG_LEVELS.join(" \\| "), default: () => "info",
    description: "Minimum level written to the log. At `debug`, start-up errors also print their stack.", parse: oneOf(LOG_LEVELS) },
  { key: "log.format", type: LOG_FORMATS.join(" \\| "), default: () => "auto",
    description: "`json`: one JSON object per line; `pretty`: human-readable; `auto`: pretty when stdout is a terminal.",
    parse: oneOf(LOG_FORMATS) },
  { key: "c2s.port", type: "port", default: () => 5222,
    description: "Client TCP port with STARTTLS (RFC 6120 §5). 0 picks a free port.", parse: port },
  { key: "c2s.tlsPort", type: "port", default: () => 5223,
    description: "Client port with direct TLS (XEP-0368). 0 picks a free port.", parse: port },
  { key: "c2s.requireTls", type: "boolean", default: () => true,
    description: "Refuse authentication on port c2s.port until STARTTLS has completed.", parse: boolean },
  { key: "c2s.proxyProtocol", type: "boolean", default: () => false,
    description: "Expect a PROXY protocol header (v1 or v2, as HAProxy's `send-proxy-v2` sends) on c2s.port and c2s.tlsPort and take the client's address from it, for the per-IP limits behind a TCP load balancer. Connections without one are closed: make those ports reachable only through the balancer.",
    parse: boolean },
  { key: "http.port", type: "port", default: () => 5280,
    description: "HTTP port for WebSocket (RFC 7395), /healthz and /readyz. 0 picks a free port.", parse: port },
  { key: "http.websocketPath", type: "path", default: () => "/xmpp-websocket",
    description: "URL path of the XMPP WebSocket endpoint.", parse: urlPath },
  { key: "http.websocketUrl", type: "URL", default: none, defaultText: "from the request", example: "wss://xmpp.example.org/xmpp-websocket",
    description: "The WebSocket URL that `/.well-known/host-meta` and `host-meta.json` announce (XEP-0156), for web clients that discover how to connect. Unset: built from the request's Host header, `wss://` unless the request came over plain HTTP without `X-Forwarded-Proto: https`, and http.websocketPath. Set it behind a proxy that serves the WebSocket elsewhere.",
    parse: urlList(["ws:", "wss:"], false) },
  { key: "http.trustForwardedFor", type: "boolean", default: () => false,
    description: "Take a WebSocket client's address from the last `X-Forwarded-For` entry (the one the reverse proxy in front added), for the per-IP limits. Only behind a proxy that appends it, with http.port unreachable otherwise: a direct client could name any address.",
    parse: boolean },
  { key: "http.tlsPort", type: "port", default: () => 5443,
    description: "HTTPS port with the server's certificate (tls.cert, or the generated one): the same WebSocket endpoint (wss, http.websocketPath), /healthz, /readyz and /metrics as http.port, and HTTP File Upload (XEP-0363 §5 wants HTTPS; upload.*). TLS handshakes share limits.maxConcurrentHandshakes with the client ports. 0 turns it off (and with it uploads).",
    parse: port },
  { key: "http.tlsProxyProtocol", type: "boolean", default: () => false,
    description: "Expect a PROXY protocol header (v1 or v2) before the TLS handshake on http.tlsPort and take the client's address from it, for the per-IP limits of wss clients behind a TCP balancer that passes TLS through (HAProxy `send-proxy-v2`). Connections without one are closed: make the port reachable only through the balancer.",
    parse: boolean },
  { key: "metrics.allowCidrs", type: "CIDR list", default: () => [...DEFAULT_METRICS_CIDRS], defaultText: "loopback and the private ranges",
    description: `Clients allowed to read \`GET /metrics\` on http.port (Prometheus text; docs/observability.md): a YAML list of CIDR blocks, or comma-separated in the environment. The default is ${DEFAULT_METRICS_CIDRS.join(", ")}. Others get 403. With http.trustForwardedFor the address checked is the one the proxy names.`,
    parse: cidrList },
  { key: "tracing.sampleRatio", type: "number 0..1", default: () => 0.01,
    description: "Share of the stanzas clients send that are traced from the stream through routing, the bus hop to another edge, delivery or offline storage (docs/observability.md \"Traces\"): ParentBased(TraceIdRatioBased(ratio)). Traces are exported only when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_TRACES_EXPORTER is not `none`); the standard OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG win over this key when set.",
    parse: ratio },
  { key: "tls.cert", type: "path", default: none, defaultText: "generated", example: "/etc/letsencrypt/live/example.org/fullchain.pem",
    description: "PEM certificate (chain) file. When tls.cert and tls.key are both unset, a self-signed certificate is generated in `<dataDir>/tls/`.",
    parse: nonEmptyString },
  { key: "tls.key", type: "path", default: none, defaultText: "generated", example: "/etc/letsencrypt/live/example.org/privkey.pem",
    description: "PEM private key file matching tls.cert; set both or neither.", parse: nonEmptyString },
  { key: "limits.maxStanzaBytes", type: "integer", default: () => 262144,
    description: "Largest stanza accepted, in bytes; a bigger one closes the stream with `<policy-violation/>` (RFC 6120 §4.9.3.14).",
    parse: integer(1024, 64 * 1024 * 1024) },
  { key: "limits.maxDepth", type: "integer", default: () => 32,
    description: "Deepest XML element nesting accepted inside a stanza.", parse: integer(2, 1024) },
  { key: "limits.outboundBufferBytes", type: "integer", default: () => 1048576,
    description: "High-water mark of a connection's outbound queue, in bytes (slow receivers): above it presence to the client is coalesced and messages go to offline storage until the queue is back under half of it, then they follow in order; writes stop at 4 times this. Not a close threshold (see limits.congestionTimeoutSeconds).",
    parse: integer(4096, 1024 * 1024 * 1024) },
  { key: "limits.congestionTimeoutSeconds", type: "integer", default: () => 60,
    description: "A connection above limits.outboundBufferBytes from which not one byte was read for this long is closed (as a network drop: stream management may resume it); a client that reads slowly but reads is never closed.",
    parse: integer(1, 86_400) },
  { key: "limits.authFailuresPerIp", type: "integer", default: () => 5,
    description: "Failed authentications allowed per IP address within limits.authFailureWindowSeconds.",
    parse: integer(1, 1_000_000) },
  { key: "limits.authFailureWindowSeconds", type: "integer", default: () => 60,
    description: "Window for limits.authFailuresPerIp, in seconds.", parse: integer(1, 86_400) },
  { key: "limits.offlinePerUser", type: "integer", default: () => 100, envAliases: ["SWITCHBOARD_OFFLINE_MAX"],
    description: "Offline messages kept per user (XEP-0160); beyond it messages bounce with an error.",
    parse: integer(0, 1_000_000) },
  { key: "limits.presencePerSecond", type: "integer", default: () => 1,
    description: "Presence broadcasts (status changes) per second one session may make; faster ones are coalesced: contacts get the latest when the allowance is back, never a flood, never without the last one. Initial and unavailable presence always go at once. 0 turns pacing off.",
    parse: integer(0, 1000) },
  { key: "limits.presenceBurst", type: "integer", default: () => 5,
    description: "Presence broadcasts one session may make at once after a quiet spell (the bucket of limits.presencePerSecond).",
    parse: integer(1, 1000) },
  { key: "limits.tlsHandshakeSeconds", type: "integer", default: () => 10,
    description: "Seconds from accepting a connection to a completed TLS handshake on c2s.tlsPort (and on c2s.port when STARTTLS is required), and to the WebSocket upgrade on http.port; a connection that has not got there is closed.",
    parse: integer(1, 3600) },
  { key: "limits.handshakeTimeoutSeconds", type: "integer", default: () => 30,
    description: "Seconds a new connection may take to authenticate and bind before it is closed.",
    parse: integer(1, 3600) },
  { key: "limits.maxUnauthenticated", type: "integer", default: () => 10_000,
    description: "Connections not yet authenticated this process holds at most (TLS handshakes, SASL, idle sockets on the HTTP port); past it new connections are closed at once, so half-open sockets cannot exhaust file descriptors.",
    parse: integer(1, 10_000_000) },
  { key: "limits.maxUnauthenticatedPerIp", type: "integer", default: () => 2000,
    description: "Connections not yet authenticated from one IP address; past it that address's new connections are closed at once. High enough for a carrier-grade NAT.",
    parse: integer(1, 10_000_000) },
  { key: "limits.maxConcurrentHandshakes", type: "integer", default: () => 256,
    description: "TLS handshakes (direct TLS and STARTTLS) and SASL steps this process works on at once; past it new ones wait their turn in arrival order, the connection unread, within limits.tlsHandshakeSeconds (TLS) and limits.handshakeTimeoutSeconds (SASL). Bounds the CPU a reconnect storm takes, so sessions online and the liveness heartbeat keep being served. Waits are counted as `switchboard_handshakes_waited_total`. 0 turns the cap off.",
    parse: integer(0, 1_000_000) },
  { key: "limits.loginsPerSecond", type: "integer", default: () => 0,
    description: "Logins (SASL exchanges, counted at `<auth/>`) the whole cluster admits per second, shared by every edge through leases (no Redis round trip per login; one process on its own counts alone). A login over the budget waits up to 2 s, its answer delayed, in arrival order; one the budget cannot serve within that gets `<temporary-auth-failure/>` with the seconds to wait in its `<text/>` (docs/deployment.md, Reconnect storms); counted as `switchboard_login_budget_total{outcome}`. 0 (the default) sets no budget.",
    parse: integer(0, 1_000_000) },
  { key: "limits.maxSessionsPerUser", type: "integer", default: () => 10,
    description: "Sessions one account may hold at once across the cluster, detached stream-management sessions included; binding one more resource gets `<resource-constraint/>` (rebinding a resource already held replaces it, as always). 0 turns the cap off. Checked in the bind's own atomic step, so binds racing on several edges cannot pass it together.",
    parse: integer(0, 100_000) },
  { key: "limits.connectionsPerIpPerSecond", type: "integer", default: () => 0,
    description: "New client connections one address may open per second, counted across the cluster (leased, no Redis round trip per connection); past it a new connection is closed at accept (a WebSocket after its upgrade, with close code 1008), logged and counted as `switchboard_limit_refusals_total{policy=\"c2s.connections-per-ip\"}`. 0 (the default) turns it off: a carrier-grade NAT puts thousands of users behind one address. The address is the PROXY header's or the trusted X-Forwarded-For entry where those are on.",
    parse: integer(0, 1_000_000) },
  { key: "limits.userStanzasPerSecond", type: "integer", default: () => 50,
    description: "Stanzas one account may send per second, all its sessions on every edge counted together (leased from a Redis bucket in a cluster: no Redis round trip per stanza). Past it the user's streams stop being read until tokens return, so nothing is lost; see limits.floodSeconds. 0 turns it off.",
    parse: integer(0, 1_000_000) },
  { key: "limits.userStanzaBurst", type: "integer", default: () => 200,
    description: "Stanzas one account may send at once after a quiet spell (the bucket of limits.userStanzasPerSecond).",
    parse: integer(1, 10_000_000) },
  { key: "limits.userBytesPerSecond", type: "integer", default: () => 262144,
    description: "Bytes one account may send per second across all its sessions, paced like limits.userStanzasPerSecond; the bucket holds one second's worth, and at least one stanza of limits.maxStanzaBytes. 0 turns it off.",
    parse: integer(0, 1_000_000_000) },
  { key: "limits.floodSeconds", type: "integer", default: () => 30,
    description: "A user held back by limits.userStanzasPerSecond or limits.userBytesPerSecond without a quiet spell (2 s) for this long is flooding: their throttled streams are closed with `<policy-violation/>` and a `user-flood` alert is raised.",
    parse: integer(1, 86_400) },
  { key: "alerts.rules", type: "rule list", default: () => DEFAULT_ALERT_RULES.map((rule) => ({ ...rule })), defaultText: "six rules (docs/observability.md \"Alerts\")",
    example: "[{ name: heavy-sender, measure: stanzas_in_per_second, above: 100, forSeconds: 60 }]",
    description: `Alert rules on each user's traffic on this node (docs/observability.md "Alerts"): a YAML list of mappings with \`name\`, \`measure\` (${MEASURE_NAMES.join(", ")}), a threshold — \`above\` (absolute, per second), \`aboveP99Times\` (a multiple of the p99 of the other users active in the window, checked when at least 20 are; with both, \`above\` is its floor) — and \`forSeconds\` (the sliding window the rate is averaged over, 1 to 3600); JSON text in the environment. A user over a threshold raises an alert named after the rule (a log line, \`switchboard_alerts_total{rule}\`, a notice to every node, the webhook), again at most once a minute. The default watches senders, uploads and downloads (absolute over 60 s, outliers over 300 s); \`[]\` turns them off.`,
    parse: alertRules },
  { key: "alerts.webhookUrl", type: "URL", default: none, defaultText: "unset", example: "https://ops.example.org/hook",
    description: "Where every alert this node raises is POSTed as JSON (the alert's fields and a `text` line; docs/observability.md \"Alerts\"), `http://` or `https://`. Posted in the background with a 5 s timeout; a failure is logged and counted, never retried.",
    parse: urlList(["http:", "https:"], false) },
  { key: "alerts.evaluateSeconds", type: "integer", default: () => 10,
    description: "Seconds between two passes of the alert rules over this node's sessions (each pass samples their traffic counters once); a rule's window is its forSeconds rounded up to whole passes.",
    parse: integer(1, 3600) },
  { key: "registration.enabled", type: "boolean", default: () => false, envAliases: ["SWITCHBOARD_REGISTRATION"],
    description: "Allow in-band account registration (XEP-0077). Logged-in users may change their password either way.", parse: boolean },
  { key: "registration.perIpPerHour", type: "integer", default: () => 5,
    description: "In-band registrations allowed per IP address per hour.", parse: integer(1, 1_000_000) },
  { key: "admin.tokenFile", type: "path", default: none, defaultText: "<dataDir>/admin-token", example: "/etc/switchboard/admin-token",
    description: "File holding the admin API's token (HTTP `Authorization: Bearer`, docs/admin.md); created with a random token and mode 0600 on first start when missing. The `switchboard` admin commands read it, unless given `--token` or `SWITCHBOARD_ADMIN_TOKEN`.",
    parse: nonEmptyString },
  { key: "shutdown.drainSeconds", type: "integer", default: () => 20,
    description: "On SIGINT/SIGTERM, seconds given to open streams to close cleanly; whatever is still open then is cut, the ports are freed and the process exits 0.",
    parse: integer(0, 3600) },
  // XEP-0198: the stream-management module's own option declarations, as `sm.*` keys.
  ...Object.entries(SM_OPTIONS).map(([name, spec]): ConfigKeySpec => ({
    key: `sm.${name}`, type: spec.type, default: () => spec.default, description: spec.description, parse: spec.parse,
  })),
  // XEP-0163: the PEP module's own option declarations, as `pep.*` keys.
  ...Object.entries(PEP_OPTIONS).map(([name, spec]): ConfigKeySpec => ({
    key: `pep.${name}`, type: spec.type, default: () => spec.default, description: spec.description, parse: spec.parse,
  })),
  { key: "admins", type: "JID list", default: emptyList, defaultText: "empty", example: '["admin@example.org"]',
    description: "Bare JIDs of the service administrators: owners of every MUC room, who may always create rooms (muc.createRooms `admins`); a YAML list, or comma-separated in the environment.",
    parse: bareJidList },
  // XEP-0045: the MUC service's own option declarations, as `muc.*` keys.
  ...Object.entries(MUC_OPTIONS).map(([name, spec]): ConfigKeySpec => ({
    key: `muc.${name}`, type: name === "domain" ? "hostname" : spec.type, default: () => spec.default,
    defaultText: name === "domain" ? "`conference.<domain>`" : undefined,
    description: spec.description, parse: name === "domain" ? optionalHostname : spec.parse,
  })),
  ...CONTACT_KINDS.map((kind): ConfigKeySpec => ({
    key: `contact.${kind}`, type: "URI list", default: emptyList, defaultText: "empty", example: contactExample(kind),
    description: `XEP-0157 ${kind} addresses (\`mailto:\`, \`xmpp:\`, \`https:\` URIs) shown in the server's disco#info; a YAML list, or comma-separated in the environment.`,
    parse: uriList,
  })),
  { key: "redisUrl", type: "URL", default: none, defaultText: "unset", example: "redis://127.0.0.1:6379",
    description: "Redis for cluster mode (session registry and store), `redis://` or `rediss://`. The user commands use it too when set.",
    parse: urlList(["redis:", "rediss:"], false) },
  { key: "natsUrl", type: "URL list", default: none, defaultText: "unset", example: "nats://127.0.0.1:4222",
    description: "NATS for cluster mode (stanza bus), `nats://` or `tls://`; several servers comma-separated.",
    parse: urlList(["nats:", "tls:"], true) },
  { key: "clusterPrefix", type: "string", default: () => "sb",
    description: "Prefix of every Redis key and NATS subject, so several deployments can share one Redis and NATS.",
    parse: clusterPrefix },
  { key: "components.port", type: "port", default: () => 0, defaultText: "0 (off)",
    description: "TCP port for external components (XEP-0114 `jabber:component:accept`; 5347 is conventional), on every node with the edge role; 0 opens none. Plain TCP, as the protocol has no STARTTLS: bind it to loopback or a private network.",
    parse: port },
  { key: "components.hosts", type: "component list", default: emptyList, defaultText: "empty", example: '[{ domain: "push.example.org", secret: "s3cret" }]',
    description: "The external components allowed to connect: a YAML list of `{ domain, secret }` (a top-level `components:` given as such a list is read as this key), or `domain=secret,...` in the environment (split at the first `=`; a secret there cannot hold a comma). Each domain once, not the server's own; secrets non-empty. A component's domain is routed to it wherever in the cluster it connected; while it is not connected, messages and IQs to it are answered `service-unavailable`.",
    parse: componentHosts },
  // XEP-0357: the push module's own option declarations, as `push.*` keys.
  ...Object.entries(PUSH_OPTIONS).map(([name, spec]): ConfigKeySpec => ({
    key: `push.${name}`, type: spec.type, default: () => spec.default, description: spec.description, parse: spec.parse,
  })),
  { key: "upload.enabled", type: "boolean", default: () => true,
    description: "Offer HTTP File Upload (XEP-0363) at `upload.<domain>`, files served on http.tlsPort. Needs http.tlsPort; in a cluster it also needs upload.s3.endpoint (files must be visible from every edge), otherwise the service stays off with a warning.",
    parse: boolean },
  { key: "upload.maxFileBytes", type: "integer", default: () => 104857600,
    description: "Largest file one slot may be for, in bytes (announced as max-file-size in disco#info); a bigger request gets `<not-acceptable/>` with `<file-too-large/>`.",
    parse: integer(1, 1024 ** 4) },
  { key: "upload.quotaBytesPerUser", type: "integer", default: () => 1073741824,
    description: "Bytes one account's unexpired uploads may take together; a slot that would pass it gets `<not-acceptable/>` with `<file-too-large/>` (max-file-size: what still fits). Checked again at the PUT (413). 0: no quota.",
    parse: integer(0, 1024 ** 5) },
  { key: "upload.slotsPerMinute", type: "integer", default: () => 30,
    description: "Upload slots one account may request per minute, counted across the cluster; past it `<resource-constraint/>` with `<retry stamp/>`. 0: no limit.",
    parse: integer(0, 1_000_000) },
  { key: "upload.allowedTypes", type: "MIME type list", default: emptyList, defaultText: "all types", example: '["image/*", "video/*", "audio/*", "application/pdf"]',
    description: "Content types that may be uploaded: exact types or `type/*`; a YAML list, or comma-separated in the environment. Empty: every type. Others get `<not-acceptable/>`.",
    parse: mimeTypeList },
  { key: "upload.expireDays", type: "integer", default: () => 30,
    description: "Days after which an uploaded file is deleted (and no longer counts against upload.quotaBytesPerUser); swept hourly. 0 keeps files forever.",
    parse: integer(0, 36_500) },
  { key: "upload.slotSeconds", type: "integer", default: () => 300,
    description: "Seconds a slot's signed PUT URL stays valid; a later PUT gets 403.",
    parse: integer(10, 86_400) },
  { key: "upload.s3.endpoint", type: "URL", default: none, defaultText: "unset (files in `<dataDir>/uploads`)", example: "https://s3.eu-central-1.amazonaws.com",
    description: "S3-compatible object store for uploaded files (path-style requests, AWS Signature V4), `http://` or `https://`. Required for uploads in a cluster; unset on a single node, files live in `<dataDir>/uploads`.",
    parse: urlList(["http:", "https:"], false) },
  { key: "upload.s3.bucket", type: "string", default: () => "switchboard-uploads",
    description: "Bucket of upload.s3.endpoint that holds the files (3 to 63 lowercase letters, digits, dots and hyphens); created on start when missing.", parse: s3Bucket },
  { key: "upload.s3.region", type: "string", default: () => "us-east-1",
    description: "Region named in the Signature V4 scope of requests to upload.s3.endpoint (letters, digits and hyphens).", parse: s3Region },
  { key: "upload.s3.accessKeyId", type: "string", default: none, defaultText: "unset", example: "AKIAIOSFODNN7EXAMPLE",
    description: "Access key id for upload.s3.endpoint; required with it.", parse: nonEmptyString },
  { key: "upload.s3.secretAccessKey", type: "string", default: none, defaultText: "unset", example: "(secret)",
    description: "Secret access key for upload.s3.endpoint; required with it. Prefer the environment variable to the file.", parse: nonEmptyString },
  // Federation (RFC 6120 server-to-server, XEP-0220 dialback; packages/s2s, docs/architecture.md "Federation")
  { key: "s2s.enabled", type: "boolean", default: () => true,
    description: "Federation with other XMPP servers: listen on s2s.port and connect out to remote domains. `false` turns it off entirely: nothing listens on s2s.port and stanzas to other domains bounce with `<remote-server-not-found/>`.",
    parse: boolean },
  { key: "s2s.port", type: "port", default: () => 5269,
    description: "Server-to-server TCP port with STARTTLS (RFC 6120 §5). 0 picks a free port.", parse: port },
  { key: "s2s.requireTls", type: "boolean", default: () => true,
    description: "Require TLS on server-to-server streams both ways: inbound, nothing but STARTTLS is accepted before it; outbound, a remote that offers no STARTTLS is not used (its stanzas bounce).",
    parse: boolean },
  { key: "s2s.allowDialback", type: "boolean", default: () => true,
    description: "Authenticate remote domains with Server Dialback (XEP-0220) when their certificate cannot be verified (the usual case for self-signed certificates), and use it towards them. The key is derived from the server secret in dataDir, so every node of a cluster gives the same answer (XEP-0185).",
    parse: boolean },
  { key: "s2s.trustedCaFile", type: "path", default: none, defaultText: "the system CAs", example: "/etc/switchboard/federation-ca.pem",
    description: "PEM file of the certificate authorities trusted for remote servers' certificates, for a private federation; unset, Node's bundled CAs. A remote's certificate is verified against them and its names against the remote domain (RFC 6125) and the outcome logged; an unverified one still encrypts, and the domain is authenticated by Server Dialback (SASL EXTERNAL is not offered or used yet).",
    parse: nonEmptyString },
  { key: "s2s.routes", type: "domain map", default: () => ({}), defaultText: "empty", example: '{ "example.org": "10.0.0.5:5269" }',
    description: "Static routes to remote domains: a YAML map from domain to `host:port`, or `domain=host:port` pairs comma-separated in the environment. A domain listed here is reached at that address with no DNS query at all (SRV or address); others by SRV `_xmpps-server` (direct TLS), then `_xmpp-server`, then the domain's address on 5269.",
    parse: s2sRoutes },
  { key: "s2s.maxQueueBytes", type: "integer", default: () => 1048576,
    description: "Bytes of stanzas held per remote domain while its stream is being set up, or written but not yet taken by its socket; past it messages and IQs to that domain bounce with `<remote-server-timeout/>`.",
    parse: integer(1024, 1024 * 1024 * 1024) },
  { key: "s2s.idleSeconds", type: "integer", default: () => 600,
    description: "A server-to-server stream that carried nothing for this long is closed (it is opened again when needed).",
    parse: integer(1, 86_400) },
  { key: "s2s.maxStanzaBytes", type: "integer", default: () => 262144,
    description: "Largest stanza accepted from a remote server, in bytes; a bigger one closes that stream with `<policy-violation/>` (RFC 6120 §4.9.3.14).",
    parse: integer(1024, 64 * 1024 * 1024) },
  { key: "s2s.blockedDomains", type: "hostname list", default: emptyList, defaultText: "empty", example: '["spam.example"]',
    description: "Remote domains refused both ways: their streams are closed with `<policy-violation/>` when they try to authenticate, and stanzas to them bounce with `<not-allowed/>`. A YAML list, or comma-separated in the environment.",
    parse: hostnameList },
  { key: "s2s.connectionsPerIp", type: "integer", default: () => 32,
    description: "Inbound server-to-server connections one address may hold at once; past it a new connection is closed at accept. 0 turns the cap off.",
    parse: integer(0, 100_000) },
  { key: "postgresUrl", type: "URL", default: none, defaultText: "unset", example: "postgres://switchboard@127.0.0.1:5432/switchboard",
    description: "PostgreSQL for the cluster's message archive (XEP-0313), `postgres://` or `postgresql://`. A cluster without it has no archive (a log line says so and disco does not offer it); the embedded node keeps its archive in `<dataDir>/archive.sqlite`.",
    parse: urlList(["postgres:", "postgresql:"], false) },
  // XEP-0313: the archive module's own option declarations, as `mam.*` keys.
  ...Object.entries(MAM_OPTIONS).map(([name, spec]): ConfigKeySpec => ({
    key: `mam.${name}`, type: spec.type, default: () => spec.default, description: spec.description, parse: spec.parse,
  })),
];

/** S3 bucket naming rules (what goes in a path-style URL's first segment). */
function s3Bucket(raw: unknown, origin: Parameters<ValueParser>[1]): string {
  const name = nonEmptyString(raw, origin);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) throw new InvalidValue("must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens");
  return name;
}

function s3Region(raw: unknown, origin: Parameters<ValueParser>[1]): string {
  const name = nonEmptyString(raw, origin);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/i.test(name)) throw new InvalidValue("must be a region name such as us-east-1");
  return name;
}

/** `upload.allowedTypes`: `type/subtype` or `type/*`, lowercased. */
function mimeTypeList(raw: unknown, origin: Parameters<ValueParser>[1]): string[] {
  return textList((text) => {
    const t = text.toLowerCase();
    return /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(?:\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/.test(t) ? t : undefined;
  }, "MIME types such as image/png or image/*")(raw, origin);
}

/** `s2s.blockedDomains`: host names, normalised to lower case. */
function hostnameList(raw: unknown, origin: ValueOrigin): string[] {
  const parse = textList((text) => {
    try {
      return hostname(text, "text");
    } catch {
      return undefined;
    }
  }, "host names such as spam.example");
  return parse(raw, origin);
}

/** `host:port` with a host name, an IPv4 address or a bracketed IPv6 address. */
function hostPort(text: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
  const portNo = Number(m[2]);
  if (portNo < 1 || portNo > 65535) return undefined;
  if (isIP(host) === 0) {
    try {
      hostname(host, "text");
    } catch {
      return undefined;
    }
  }
  return `${m[1]!.toLowerCase()}:${portNo}`;
}

/** `s2s.routes`: a YAML map domain → host:port, or `domain=host:port,…` in the environment. */
function s2sRoutes(raw: unknown): Record<string, string> {
  let pairs: Array<[string, unknown]>;
  if (typeof raw === "string") {
    pairs = [];
    for (const part of raw.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new InvalidValue(`must be domain=host:port pairs separated by commas, got ${JSON.stringify(part)}`);
      pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    pairs = Object.entries(raw);
  } else {
    throw new InvalidValue("must be a map from domain to host:port");
  }
  const out: Record<string, string> = {};
  for (const [domain, target] of pairs) {
    let name: string;
    try {
      name = hostname(domain, "text");
    } catch {
      throw new InvalidValue(`${JSON.stringify(domain)} is not a domain name`);
    }
    const address = typeof target === "string" ? hostPort(target) : undefined;
    if (!address) throw new InvalidValue(`the route of ${name} must be host:port (port 1 to 65535), got ${JSON.stringify(target)}`);
    if (out[name] !== undefined) throw new InvalidValue(`names ${name} twice`);
    out[name] = address;
  }
  return out;
}

/** "all", or a comma-separated list of known roles, each once: normalised to "all" or "a,b". */
function roleList(raw: unknown, origin: Parameters<typeof nonEmptyString>[1]): string {
  const text = nonEmptyString(raw, origin).toLowerCase();
  if (text === "all") return "all";
  const roles = text.split(",").map((r) => r.trim());
  for (const role of roles) {
    if (!(ROLES as readonly string[]).includes(role)) throw new InvalidValue(`must be all or a comma-separated list of ${ROLES.join(", ")} (unknown role "${role}")`);
  }
  if (new Set(roles).size !== roles.length) throw new InvalidValue("names a role twice");
  return roles.join(",");
}

/** The roles a process runs, from its `role` setting. */
export function rolesOf(role: string): Role[] {
  return role === "all" ? [...ROLES] : (role.split(",") as Role[]);
}

function contactExample(kind: ContactKind): string | undefined {
  if (kind === "abuse") return '["mailto:abuse@example.org", "xmpp:abuse@example.org"]';
  if (kind === "admin") return '["xmpp:admin@example.org"]';
  return undefined;
}

/**
 * `modules.<module>.<option>` for every option a loaded module declares (core/options.ts), except
 * those a top-level key sets (BOUND_OPTIONS): the docs, the example file and the environment
 * variables follow from the modules' own declarations.
 */
export const MODULE_OPTION_SCHEMA: readonly ConfigKeySpec[] = DEFAULT_MODULES.flatMap((def) =>
  Object.entries(def.options ?? {})
    .filter(([name]) => BOUND_OPTIONS[`${def.name}.${name}`] === undefined)
    .map(([name, spec]): ConfigKeySpec => ({
      key: `modules.${def.name}.${name}`,
      type: spec.type,
      default: () => spec.default,
      description: `${spec.description} (${def.spec})`,
      parse: spec.parse,
    })),
);

/** Every key: the server's own, then the modules' options. */
export const CONFIG_SCHEMA: readonly ConfigKeySpec[] = [...SERVER_KEYS, ...MODULE_OPTION_SCHEMA];

/** Keys whose value is a mapping of further keys (YAML sections). */
export const CONFIG_SECTIONS: ReadonlySet<string> = new Set(
  CONFIG_SCHEMA.flatMap((spec) => {
    const parts = spec.key.split(".");
    return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("."));
  }),
);
