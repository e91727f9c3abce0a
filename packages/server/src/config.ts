/**
 * Server configuration: defaults < YAML file < SWITCHBOARD_* environment variables < overrides
 * (command-line flags). Every value is validated against CONFIG_SCHEMA (config-schema.ts) and a
 * bad value is reported with its key and where it came from, so an operator can fix it at once.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { CONFIG_SCHEMA, CONFIG_SECTIONS, InvalidValue, envName, type ContactKind, type LogFormat, type LogLevel, type Role } from "./config-schema.js";
import type { ComponentHostSetting, ValueOrigin } from "./config-values.js";
import type { AlertRule } from "./alerts/rules.js";

export {
  CONFIG_SCHEMA,
  CONTACT_KINDS,
  LOG_FORMATS,
  LOG_LEVELS,
  ROLES,
  envName,
  rolesOf,
  type ConfigKeySpec,
  type ContactKind,
  type LogFormat,
  type LogLevel,
  type Role,
} from "./config-schema.js";

export interface SwitchboardConfig {
  domain: string;
  /** absolute path */
  dataDir: string;
  nodeId: string;
  /** "all" or a comma-separated list of roles (rolesOf gives the list) */
  role: string;
  log: { level: LogLevel; format: LogFormat };
  bind: string;
  c2s: { port: number; tlsPort: number; requireTls: boolean; proxyProtocol: boolean };
  http: { port: number; websocketPath: string; trustForwardedFor: boolean; websocketUrl?: string; tlsPort: number; tlsProxyProtocol: boolean };
  /** who may read GET /metrics */
  metrics: { allowCidrs: string[] };
  /** OpenTelemetry traces (the exporter itself is configured by the OTEL_* variables) */
  tracing: { sampleRatio: number };
  /** absolute file paths when set */
  tls: { cert?: string; key?: string };
  limits: {
    maxStanzaBytes: number;
    maxDepth: number;
    outboundBufferBytes: number;
    congestionTimeoutSeconds: number;
    authFailuresPerIp: number;
    authFailureWindowSeconds: number;
    offlinePerUser: number;
    presencePerSecond: number;
    presenceBurst: number;
    tlsHandshakeSeconds: number;
    handshakeTimeoutSeconds: number;
    maxUnauthenticated: number;
    maxUnauthenticatedPerIp: number;
    maxConcurrentHandshakes: number;
    loginsPerSecond: number;
    maxSessionsPerUser: number;
    connectionsPerIpPerSecond: number;
    userStanzasPerSecond: number;
    userStanzaBurst: number;
    userBytesPerSecond: number;
    floodSeconds: number;
  };
  /** alert rules on per-user traffic, and where alerts are posted (alerts/, docs/observability.md "Alerts") */
  alerts: { rules: AlertRule[]; webhookUrl?: string; evaluateSeconds: number };
  registration: { enabled: boolean; perIpPerHour: number };
  /** the admin API's token file (absolute; default `<dataDir>/admin-token`, see adminTokenFile()) */
  admin: { tokenFile?: string };
  shutdown: { drainSeconds: number };
  /** XEP-0198 (the sm module's options) */
  sm: Record<string, number>;
  /** XEP-0163 limits (the pep module's options) */
  pep: Record<string, number>;
  /** bare JIDs of the service administrators */
  admins: string[];
  /** XEP-0045 (the muc module's options) */
  muc: Record<string, unknown>;
  /** `modules.<module>.<option>`: what each module declares (config-schema.ts MODULE_OPTION_SCHEMA) */
  modules: Record<string, Record<string, unknown>>;
  /** XEP-0157 contact addresses (URIs) per kind */
  contact: Record<ContactKind, string[]>;
  redisUrl?: string;
  natsUrl?: string;
  clusterPrefix: string;
  /** XEP-0114 external components: the listener's port (0: none) and who may connect */
  components: { port: number; hosts: ComponentHostSetting[] };
  /** XEP-0357 (the push module's options) */
  push: Record<string, unknown>;
  /** XEP-0363 HTTP File Upload (packages/server/src/upload/) */
  upload: {
    enabled: boolean;
    maxFileBytes: number;
    quotaBytesPerUser: number;
    slotsPerMinute: number;
    allowedTypes: string[];
    expireDays: number;
    slotSeconds: number;
    s3: { endpoint?: string; bucket: string; region: string; accessKeyId?: string; secretAccessKey?: string };
  };
  /** federation (packages/s2s); trustedCaFile absolute when set; routes: domain → "host:port" */
  s2s: {
    enabled: boolean;
    port: number;
    requireTls: boolean;
    allowDialback: boolean;
    trustedCaFile?: string;
    routes: Record<string, string>;
    maxQueueBytes: number;
    idleSeconds: number;
    maxStanzaBytes: number;
    blockedDomains: string[];
    connectionsPerIp: number;
  };
  /** PostgreSQL for the cluster's message archive (XEP-0313) */
  postgresUrl?: string;
  /** XEP-0313 (the mam module's options) */
  mam: { enabled: boolean; maxMessagesPerUser: number; retentionDays: number };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly key: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`config: ${key}: ${reason}`, options);
  }
}

export interface LoadConfigOptions {
  /** YAML file; when absent, env SWITCHBOARD_CONFIG names it; when both are absent none is read. */
  file?: string;
  /** defaults to process.env */
  env?: NodeJS.ProcessEnv;
  /** base for relative paths; defaults to process.cwd() */
  cwd?: string;
  /** highest precedence, typically command-line flags */
  overrides?: DeepPartial<SwitchboardConfig>;
  /** how overrides are named in error messages; default "command line" */
  overridesSource?: string;
  /** told about what is suspicious but not fatal (a SWITCHBOARD_* variable that names no key) */
  onWarning?: (message: string) => void;
}

interface RawValue {
  value: unknown;
  /** shown in errors as "(from …)" */
  source: string;
  origin: ValueOrigin;
}

const SPEC_BY_KEY = new Map(CONFIG_SCHEMA.map((spec) => [spec.key, spec]));
const KNOWN_ENV: ReadonlySet<string> = new Set([
  "SWITCHBOARD_CONFIG",
  ...CONFIG_SCHEMA.flatMap((spec) => [envName(spec.key), ...(spec.envAliases ?? [])]),
]);
/** Keys holding file-system paths, resolved against cwd. */
const PATH_KEYS = ["dataDir", "tls.cert", "tls.key", "admin.tokenFile", "s2s.trustedCaFile"];

/** admin.tokenFile, or its default in the data dir (the server and the CLI agree on it). */
export function adminTokenFile(config: Pick<SwitchboardConfig, "admin" | "dataDir">): string {
  return config.admin.tokenFile ?? join(config.dataDir, "admin-token");
}

export function defaultConfig(cwd: string = process.cwd()): SwitchboardConfig {
  const config = {} as Record<string, unknown>;
  for (const section of CONFIG_SECTIONS) setPath(config, section, {});
  for (const spec of CONFIG_SCHEMA) {
    const value = spec.default();
    if (value !== undefined) setPath(config, spec.key, value);
  }
  return resolvePaths(config as unknown as SwitchboardConfig, cwd);
}

export function loadConfig(opts: LoadConfigOptions = {}): SwitchboardConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const config = defaultConfig(cwd) as unknown as Record<string, unknown>;
  // Each layer is validated as it is read, so a bad value is reported even when a later layer
  // overrides it (a broken file must not wait for the day the variable is unset).
  const apply = (key: string, raw: RawValue) => {
    const spec = SPEC_BY_KEY.get(key)!;
    try {
      setPath(config, key, spec.parse(raw.value, raw.origin));
    } catch (err) {
      if (!(err instanceof InvalidValue)) throw err;
      throw new ConfigError(key, `${err.message}, got ${JSON.stringify(raw.value)} (from ${raw.source})`);
    }
  };

  const file = opts.file ?? nonEmpty(env.SWITCHBOARD_CONFIG);
  if (file !== undefined) {
    const path = resolve(cwd, file);
    for (const [key, raw] of flatten(readYamlFile(path), "", path)) apply(key, raw);
  }
  for (const [key, raw] of fromEnvironment(env, opts.onWarning)) apply(key, raw);
  if (opts.overrides) {
    for (const [key, raw] of flatten(opts.overrides, "", opts.overridesSource ?? "command line")) apply(key, raw);
  }

  const result = resolvePaths(config as unknown as SwitchboardConfig, cwd);
  if ((result.tls.cert === undefined) !== (result.tls.key === undefined)) {
    const missing = result.tls.cert === undefined ? "tls.cert" : "tls.key";
    throw new ConfigError(missing, "tls.cert and tls.key must be set together (or both left unset to generate a certificate)");
  }
  const own = result.components.hosts.find((c) => c.domain === result.domain);
  if (own) throw new ConfigError("components.hosts", `${own.domain} is the server's own domain (domain), it cannot be a component`);
  const mucDomain = (result.muc.domain as string) || `conference.${result.domain}`;
  if (result.components.hosts.some((c) => c.domain === mucDomain)) {
    throw new ConfigError("components.hosts", `${mucDomain} is the MUC service's domain (muc.domain), it cannot be an external component too`);
  }
  return result;
}

/**
 * For a server process: its backends follow from configuration alone — both URLs, the
 * cluster's Redis and NATS; neither, the embedded ones; only one is a mistake. (User commands
 * need only Redis, so loadConfig itself does not insist.)
 */
export function checkBackendSettings(cfg: Pick<SwitchboardConfig, "redisUrl" | "natsUrl">): void {
  if ((cfg.redisUrl === undefined) === (cfg.natsUrl === undefined)) return;
  const missing = cfg.redisUrl === undefined ? "redisUrl" : "natsUrl";
  const given = missing === "redisUrl" ? "natsUrl" : "redisUrl";
  throw new ConfigError(missing, `must be set too: a cluster needs both redisUrl and natsUrl (only ${given} is set); set ${envName(missing)}, or neither for one embedded process`);
}

/**
 * SWITCHBOARD_* variables: each key's mechanical name, or one of its older aliases. A variable
 * that names no key is reported (with a near miss) but does not stop start-up: an orchestrator
 * may set variables meant for another version.
 */
function fromEnvironment(env: NodeJS.ProcessEnv, onWarning?: (message: string) => void): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  for (const spec of CONFIG_SCHEMA) {
    const names = [envName(spec.key), ...(spec.envAliases ?? [])];
    const set = names.filter((name) => nonEmpty(env[name]) !== undefined);
    if (set.length === 0) continue;
    if (set.length > 1) onWarning?.(`${set.join(" and ")} both set ${spec.key}; ${set[0]} wins`);
    out.set(spec.key, { value: env[set[0]!], source: set[0]!, origin: "text" });
  }
  if (onWarning) {
    for (const name of Object.keys(env)) {
      if (!name.startsWith("SWITCHBOARD_") || KNOWN_ENV.has(name) || name.startsWith("SWITCHBOARD_TEST_")) continue;
      const hint = closest(name, KNOWN_ENV);
      onWarning(`environment variable ${name} names no configuration key${hint ? `; did you mean ${hint}?` : ""}`);
    }
  }
  return out;
}

/** One row per key, for docs and `--help`-style listings. */
export interface ConfigKeyDescription {
  key: string;
  type: string;
  default: string;
  env: string;
  description: string;
}

export function describeConfig(): ConfigKeyDescription[] {
  return CONFIG_SCHEMA.map((spec) => {
    const value = spec.default();
    return {
      key: spec.key,
      type: spec.type,
      default: spec.defaultText ?? `\`${Array.isArray(value) ? JSON.stringify(value) : String(value)}\``,
      env: [envName(spec.key), ...(spec.envAliases ?? [])].map((name) => `\`${name}\``).join(", "),
      description: spec.description,
    };
  });
}

// ---------------------------------------------------------------------------------------------

function nonEmpty(value: string | undefined): string | undefined {
  // An empty variable (FOO= in a compose file) means "unset", not "set to the empty string".
  return value === undefined || value.trim() === "" ? undefined : value;
}

function readYamlFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError("file", `cannot read ${path}${code ? ` (${code})` : ""}`, { cause: err });
  }
  try {
    // uniqueKeys (default true) rejects a key given twice, a classic copy-paste mistake.
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError("file", `${path} is not valid YAML: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
}

/** Sections that may be given as a list: the list is the value of this key of theirs. */
const LIST_SHORTHANDS: Readonly<Record<string, string>> = { components: "components.hosts" };

/** Walks a nested mapping (YAML or overrides: typed values) into dotted keys, rejecting keys the schema does not know. */
function flatten(node: unknown, prefix: string, source: string, out = new Map<string, RawValue>()): Map<string, RawValue> {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new ConfigError(prefix || "file", `must be a mapping of keys (in ${source})`);
  }
  for (const [name, value] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (key in LIST_SHORTHANDS && Array.isArray(value)) {
      // `components:` as a list (the issue's wording) is components.hosts.
      out.set(LIST_SHORTHANDS[key]!, { value, source, origin: "typed" });
    } else if (CONFIG_SECTIONS.has(key)) {
      // A section left empty in YAML ("c2s:" with every child commented out) is null: allowed.
      if (value !== null && value !== undefined) flatten(value, key, source, out);
    } else if (SPEC_BY_KEY.has(key)) {
      if (value !== undefined) out.set(key, { value, source, origin: "typed" });
    } else {
      const hint = closest(key, [...SPEC_BY_KEY.keys(), ...CONFIG_SECTIONS]);
      throw new ConfigError(key, `unknown key (in ${source})${hint ? `; did you mean ${hint}?` : ""}`);
    }
  }
  return out;
}

function closest(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3; // suggest only near misses (typos)
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

function resolvePaths(config: SwitchboardConfig, cwd: string): SwitchboardConfig {
  for (const key of PATH_KEYS) {
    const parts = key.split(".");
    const holder = (parts.length === 1 ? config : (config as unknown as Record<string, unknown>)[parts[0]!]) as Record<string, unknown>;
    const name = parts.at(-1)!;
    if (typeof holder[name] === "string") holder[name] = resolve(cwd, holder[name] as string);
  }
  return config;
}
