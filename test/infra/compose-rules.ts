/**
 * The invariants docker-compose.yml and infra/haproxy/haproxy.cfg must keep (docs/deployment.md).
 * Each rule returns human-readable problems; an empty list means the file is sound. Kept apart
 * from the tests so the tests can also feed deliberately broken copies and see them rejected.
 */
import { asArray, at, isObject, type Json } from "./yaml.js";

export const PUBLIC_PORTS = [5222, 5223, 5280, 5443] as const;
/** the plain HTTP listener reads no PROXY header (it gets X-Forwarded-For); 5443 (HTTPS, passed through as TCP) does */
const HTTP_PORTS: readonly number[] = [5280];
export const NATS_NODES = ["nats-1", "nats-2", "nats-3"] as const;
/** What a plain `docker compose up` runs: the cluster, without the observability profile. */
export const DEFAULT_SERVICES = ["redis", ...NATS_NODES, "setup", "edge", "lb", "postgres"] as const;
export const OBSERVABILITY_PROFILE = "observability";
/** The observability profile's services and the port each publishes on the host's loopback (if any). */
export const OBSERVABILITY_SERVICES: ReadonlyMap<string, number | undefined> = new Map([
  ["otel-collector", undefined],
  ["prometheus", 9090],
  ["jaeger", 16686],
  ["grafana", 3000],
]);

/** `command` as a list of words, whether written as a list or a string. */
function words(value: unknown): string[] {
  if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
  return asArray(value).map(String);
}

/** The value following `flag` in a command line, if any. */
function flagValue(command: string[], flag: string): string | undefined {
  const i = command.indexOf(flag);
  return i >= 0 ? command[i + 1] : undefined;
}

/** `environment` as a map, whether written as a map or as KEY=value lines. */
export function environmentOf(service: unknown): Map<string, string> {
  const env = at(service, "environment");
  const out = new Map<string, string>();
  if (isObject(env)) for (const [k, v] of Object.entries(env)) out.set(k, String(v ?? ""));
  for (const line of asArray(env)) {
    const [k, ...rest] = String(line).split("=");
    out.set(k!, rest.join("="));
  }
  return out;
}

/** Host ports a service publishes ("5222:5222", "127.0.0.1:5222:5222", {published: 5222}). */
export function publishedPorts(service: unknown): number[] {
  return asArray(at(service, "ports")).map((entry) => {
    if (isObject(entry)) return Number(entry.published);
    const parts = String(entry).split(":");
    return parts.length >= 2 ? Number(parts[parts.length - 2]) : Number.NaN;
  });
}

/** Each published port with the host address it binds ("" = every interface). */
export function portBindings(service: unknown): Array<{ host: string; published: number }> {
  return asArray(at(service, "ports")).map((entry) => {
    if (isObject(entry)) return { host: String(entry.host_ip ?? ""), published: Number(entry.published) };
    const parts = String(entry).split(":");
    return { host: parts.length >= 3 ? parts.slice(0, -2).join(":") : "", published: parts.length >= 2 ? Number(parts[parts.length - 2]) : Number.NaN };
  });
}

/** The profiles a service belongs to; none means it starts with a plain `up`. */
export function profilesOf(service: unknown): string[] {
  return asArray(at(service, "profiles")).map(String);
}

/** Host paths of bind mounts (`./x:/y[:ro]` or `{type: bind, source}`), as written. */
export function bindMountSources(service: unknown): string[] {
  return asArray(at(service, "volumes")).flatMap((v) => {
    if (isObject(v)) return v.type === "bind" ? [String(v.source)] : [];
    const source = String(v).split(":")[0]!;
    return source.startsWith(".") || source.startsWith("/") ? [source] : [];
  });
}

function dependsOnNames(service: unknown): string[] {
  const deps = at(service, "depends_on");
  return isObject(deps) ? Object.keys(deps) : asArray(deps).map(String);
}

function dependsOnCondition(service: unknown, dependency: string): string | undefined {
  const deps = at(service, "depends_on");
  if (isObject(deps)) return String(at(deps[dependency], "condition") ?? "service_started");
  return asArray(deps).includes(dependency) ? "service_started" : undefined;
}

function healthcheckText(service: unknown): string {
  return words(at(service, "healthcheck.test")).join(" ");
}

/** "40s", "1m30s" → seconds (compose duration format). */
function seconds(duration: unknown): number {
  const text = String(duration ?? "10s");
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(h|m|s)/g)) total += Number(n) * ({ h: 3600, m: 60, s: 1 }[unit as "h" | "m" | "s"]);
  return total;
}

export function composeProblems(compose: unknown): string[] {
  const problems: string[] = [];
  const services = at(compose, "services");
  if (!isObject(services)) return ["no services"];
  const service = (name: string): Json | undefined => (isObject(services[name]) ? (services[name] as Json) : undefined);

  // Redis: durable before acknowledging (ARCHITECTURE.md: no accepted stanza is lost).
  const redis = service("redis");
  if (!redis) problems.push("no redis service");
  else {
    const cmd = words(redis.command);
    if (flagValue(cmd, "--appendonly") !== "yes") problems.push("redis: --appendonly yes missing");
    if (flagValue(cmd, "--appendfsync") !== "always") problems.push("redis: --appendfsync always missing");
    const dataVolume = asArray(redis.volumes).map(String).find((v) => v.split(":")[1] === "/data");
    if (!dataVolume) problems.push("redis: /data is not on a volume");
    else if (!isObject(at(compose, "volumes")) || !(dataVolume.split(":")[0]! in (at(compose, "volumes") as Json)))
      problems.push(`redis: volume ${dataVolume.split(":")[0]} is not a declared named volume`);
    if (!healthcheckText(redis).includes("redis-cli ping")) problems.push("redis: healthcheck is not redis-cli ping");
  }

  // PostgreSQL (the message archive): its data on a declared volume, a readiness check.
  const postgres = service("postgres");
  if (!postgres) problems.push("no postgres service");
  else {
    const dataVolume = asArray(postgres.volumes).map(String).find((v) => v.split(":")[1] === "/var/lib/postgresql/data");
    if (!dataVolume) problems.push("postgres: /var/lib/postgresql/data is not on a volume");
    else if (!isObject(at(compose, "volumes")) || !(dataVolume.split(":")[0]! in (at(compose, "volumes") as Json)))
      problems.push(`postgres: volume ${dataVolume.split(":")[0]} is not a declared named volume`);
    if (!healthcheckText(postgres).includes("pg_isready")) problems.push("postgres: healthcheck is not pg_isready");
  }

  // NATS: three core servers, one cluster, each routed to the two others.
  for (const name of NATS_NODES) {
    const nats = service(name);
    if (!nats) {
      problems.push(`no ${name} service`);
      continue;
    }
    const cmd = words(nats.command);
    if (flagValue(cmd, "--cluster_name") !== "switchboard") problems.push(`${name}: --cluster_name switchboard missing`);
    if (!/:6222$/.test(flagValue(cmd, "--cluster") ?? "")) problems.push(`${name}: no cluster listener on 6222`);
    const routes = (flagValue(cmd, "--routes") ?? "").split(",").map((r) => r.trim());
    for (const peer of NATS_NODES.filter((n) => n !== name))
      if (!routes.includes(`nats://${peer}:6222`)) problems.push(`${name}: no route to ${peer}`);
    if (!nats.healthcheck) problems.push(`${name}: no healthcheck (edges wait for service_healthy)`);
  }

  // Edges: scalable (no host ports, no fixed name or node id), wired to Redis and all of NATS.
  const edge = service("edge");
  if (!edge) problems.push("no edge service");
  else {
    if (publishedPorts(edge).length > 0 || asArray(edge.ports).length > 0) problems.push("edge: publishes host ports (breaks --scale)");
    if (edge.container_name !== undefined) problems.push("edge: container_name set (breaks --scale)");
    const env = environmentOf(edge);
    if (env.get("SWITCHBOARD_REDIS_URL") !== "redis://redis:6379") problems.push("edge: SWITCHBOARD_REDIS_URL is not redis://redis:6379");
    const natsUrls = (env.get("SWITCHBOARD_NATS_URL") ?? "").split(",");
    for (const name of NATS_NODES)
      if (!natsUrls.includes(`nats://${name}:4222`)) problems.push(`edge: SWITCHBOARD_NATS_URL lacks nats://${name}:4222`);
    if (env.has("SWITCHBOARD_NODE_ID")) problems.push("edge: SWITCHBOARD_NODE_ID set (replicas would share it)");
    // the archive (XEP-0313): without PostgreSQL a cluster has none
    if (!/^postgres(ql)?:\/\/.*@postgres:5432\//.test(env.get("SWITCHBOARD_POSTGRES_URL") ?? "")) problems.push("edge: SWITCHBOARD_POSTGRES_URL does not name the postgres service");
    if (dependsOnCondition(edge, "postgres") !== "service_healthy") problems.push("edge: does not wait for postgres to be healthy");
    if (!env.has("SWITCHBOARD_DOMAIN")) problems.push("edge: SWITCHBOARD_DOMAIN not passed");
    // HAProxy sends PROXY headers on the client ports (haproxyProblems): without this the edges
    // would close every connection, or with it and no header, per-IP limits would see HAProxy.
    if (env.get("SWITCHBOARD_C2S_PROXY_PROTOCOL") !== "true") problems.push("edge: SWITCHBOARD_C2S_PROXY_PROTOCOL is not \"true\"");
    if (env.get("SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR") !== "true") problems.push("edge: SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR is not \"true\"");
    if (env.get("SWITCHBOARD_HTTP_TLS_PROXY_PROTOCOL") !== "true") problems.push("edge: SWITCHBOARD_HTTP_TLS_PROXY_PROTOCOL is not \"true\"");
    for (const dep of ["redis", ...NATS_NODES])
      if (dependsOnCondition(edge, dep) !== "service_healthy") problems.push(`edge: does not wait for ${dep} to be healthy`);
    if (!healthcheckText(edge).includes("/readyz")) problems.push("edge: healthcheck does not use /readyz");
    if (seconds(edge.stop_grace_period) < 30) problems.push("edge: stop_grace_period under 30s leaves no time to drain");
    const build = at(edge, "build.dockerfile");
    if (build !== "infra/Dockerfile") problems.push("edge: not built from infra/Dockerfile");
  }

  // Exactly one entry point publishes the client ports.
  const publishers = Object.entries(services).filter(([, s]) => publishedPorts(s).length > 0);
  const lb = publishers.find(([, s]) => PUBLIC_PORTS.every((p) => publishedPorts(s).includes(p)));
  if (!lb) problems.push(`no load balancer publishing ${PUBLIC_PORTS.join("/")}`);
  // Besides it, only the observability profile's UIs, and those on the host's loopback alone.
  for (const [name, s] of publishers) {
    if (name === lb?.[0]) continue;
    const loopbackOnly = portBindings(s).every((b) => b.host === "127.0.0.1");
    if (!profilesOf(s).includes(OBSERVABILITY_PROFILE) || !loopbackOnly) problems.push(`${name}: publishes host ports besides the load balancer`);
  }
  return problems;
}

/**
 * The observability profile (docs/deployment.md "Observability stack"): its services exist only
 * under the profile, so a plain `up` runs exactly DEFAULT_SERVICES; images are pinned; UIs are
 * published on 127.0.0.1 only; the edges push OTLP only when told to.
 */
export function observabilityComposeProblems(compose: unknown): string[] {
  const problems: string[] = [];
  const services = at(compose, "services");
  if (!isObject(services)) return ["no services"];
  const byDefault = Object.keys(services).filter((name) => profilesOf(services[name]).length === 0).sort();
  const expected = [...DEFAULT_SERVICES].sort();
  if (JSON.stringify(byDefault) !== JSON.stringify(expected))
    problems.push(`services without a profile are ${byDefault.join(", ")}, expected ${expected.join(", ")}`);
  for (const [name, hostPort] of OBSERVABILITY_SERVICES) {
    const service = services[name];
    if (!isObject(service)) {
      problems.push(`no ${name} service`);
      continue;
    }
    const profiles = profilesOf(service);
    if (profiles.length !== 1 || profiles[0] !== OBSERVABILITY_PROFILE) problems.push(`${name}: profiles is not ["${OBSERVABILITY_PROFILE}"]`);
    const image = String(service.image ?? "");
    const tag = /:([^/:]+)$/.exec(image)?.[1];
    if (!tag || tag === "latest" || !/\d/.test(tag)) problems.push(`${name}: image ${image || "(none)"} is not pinned to a version`);
    const bindings = portBindings(service);
    for (const b of bindings) if (b.host !== "127.0.0.1") problems.push(`${name}: publishes ${b.published} beyond 127.0.0.1`);
    if (hostPort !== undefined && !bindings.some((b) => b.published === hostPort)) problems.push(`${name}: does not publish 127.0.0.1:${hostPort}`);
    if (hostPort === undefined && bindings.length > 0) problems.push(`${name}: publishes host ports`);
  }
  // A default service needing a profile service would drag it in (or fail) on a plain `up`.
  for (const name of byDefault)
    for (const dep of dependsOnNames(services[name]))
      if (profilesOf(services[dep]).length > 0) problems.push(`${name}: depends on ${dep}, which is only in a profile`);
  // OTLP off unless exported: an empty value is unset for the server.
  const otlp = environmentOf(services.edge).get("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (otlp === undefined) problems.push("edge: OTEL_EXPORTER_OTLP_ENDPOINT is not passed through");
  else if (otlp !== "" && otlp !== "${OTEL_EXPORTER_OTLP_ENDPOINT:-}") problems.push(`edge: OTEL_EXPORTER_OTLP_ENDPOINT defaults to ${otlp}, expected empty (off)`);
  return problems;
}

/** haproxy.cfg: one listener per public port, each sending to edge:<same port>, health-checked on /readyz. */
export function haproxyProblems(cfg: string): string[] {
  const problems: string[] = [];
  const lines = cfg.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
  const sections: Array<{ head: string; body: string[] }> = [];
  for (const line of lines) {
    if (/^(global|defaults|frontend|backend|listen|resolvers)\b/.test(line)) sections.push({ head: line, body: [] });
    else sections.at(-1)?.body.push(line);
  }
  const backendByName = new Map(sections.filter((s) => s.head.startsWith("backend ")).map((s) => [s.head.split(/\s+/)[1]!, s]));
  for (const port of PUBLIC_PORTS) {
    const frontend = sections.find((s) => s.head.startsWith("frontend ") && s.body.some((l) => new RegExp(`^bind\\s+\\S*:${port}\\b`).test(l)));
    if (!frontend) {
      problems.push(`haproxy: nothing binds :${port}`);
      continue;
    }
    const backendName = frontend.body.find((l) => l.startsWith("default_backend "))?.split(/\s+/)[1];
    const backend = backendName ? backendByName.get(backendName) : undefined;
    if (!backend) {
      problems.push(`haproxy: :${port} has no backend`);
      continue;
    }
    if (!backend.body.some((l) => new RegExp(`^server-template\\s+\\S+\\s+\\d+\\s+edge:${port}\\b`).test(l)))
      problems.push(`haproxy: :${port} does not go to edge:${port} through DNS discovery`);
    if (!backend.body.some((l) => /^http-check send .*uri \/readyz\b/.test(l))) problems.push(`haproxy: :${port} edges not checked on /readyz`);
    const sendsProxy = backend.body.some((l) => /^server-template\b.*\ssend-proxy(-v2)?\b/.test(l));
    if (!HTTP_PORTS.includes(port) && !sendsProxy) problems.push(`haproxy: :${port} does not send the PROXY header the edges expect`);
    if (HTTP_PORTS.includes(port) && sendsProxy) problems.push(`haproxy: :${port} sends a PROXY header the HTTP server does not read`);
  }
  if (!lines.some((l) => /^nameserver\s+\S+\s+127\.0\.0\.11:53$/.test(l))) problems.push("haproxy: Docker's DNS (127.0.0.11) is not a resolver");
  const http = sections.find((s) => s.head.startsWith("frontend ") && s.body.some((l) => /^bind\s+\S*:5280\b/.test(l)));
  if (http) for (const path of OPERATOR_PATHS) if (!deniesPath(http.body, path)) problems.push(`haproxy: :5280 does not refuse ${path} with 403`);
  return problems;
}

/** Paths the public HTTP listener must refuse: scraped and used from inside the network only. */
export const OPERATOR_PATHS = ["/metrics", "/admin/"] as const;

/**
 * Whether a frontend has `http-request deny` (403, the default status) under a condition on the
 * request path that names `path`, written inline (`if { path_beg /metrics }`) or through acls.
 */
function deniesPath(body: string[], path: string): boolean {
  const acls = new Map<string, string[]>();
  for (const line of body) {
    const m = /^acl\s+(\S+)\s+(.*)$/.exec(line);
    if (m) acls.set(m[1]!, [...(acls.get(m[1]!) ?? []), m[2]!]);
  }
  return body.some((line) => {
    const m = /^http-request\s+deny\b(.*?)\s+if\s+(.*)$/.exec(line);
    if (!m) return false;
    const status = /\bdeny_status\s+(\d+)/.exec(m[1]!)?.[1] ?? "403";
    if (status !== "403") return false;
    const terms = m[2]!.split(/\s+/).flatMap((word) => acls.get(word.replace(/^!/, "")) ?? [word]);
    const condition = terms.join(" ");
    if (/(^|\s)!/.test(m[2]!)) return false;
    // the path itself, or a prefix of it such as /admin for /admin/
    return /\bpath(_\w+)?\b/.test(condition) && condition.split(/\s+/).some((w) => w.startsWith("/") && w.length > 1 && path.startsWith(w));
  });
}
