/**
 * The observability profile (docs/deployment.md "Observability stack"): docker-compose's
 * `observability` profile with the OpenTelemetry Collector, Prometheus, Jaeger and Grafana, their
 * configs in infra/observability, the dashboard against the metric catalogue of
 * docs/observability.md, HAProxy keeping /metrics and /admin/ private. Validated by
 * docker-compose and promtool when installed, and by the rules in observability-rules.ts and
 * compose-rules.ts always; broken copies must be rejected so the rules are known to bite.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, signalAndWait, track, waitForPort } from "../support/processes.js";
import {
  bindMountSources,
  composeProblems,
  DEFAULT_SERVICES,
  environmentOf,
  haproxyProblems,
  OBSERVABILITY_PROFILE,
  OBSERVABILITY_SERVICES,
  observabilityComposeProblems,
  profilesOf,
} from "./compose-rules.js";
import { collectorProblems, dashboardProblems, dataPanels, metricNames, parseCatalogue, prometheusProblems, type CollectorFacts } from "./observability-rules.js";
import { asArray, at, clone, isObject, parseYaml, readRepoFile, repoRoot, type Json } from "./yaml.js";

const DOCKER_COMPOSE = "/usr/bin/docker-compose";
const PROMTOOL = "/usr/bin/promtool";
const hasDockerCompose = existsSync(DOCKER_COMPOSE);
const hasPromtool = existsSync(PROMTOOL);
const root = fileURLToPath(repoRoot);

const compose = parseYaml(readRepoFile("docker-compose.yml")) as Json;
const services = (doc: unknown) => at(doc, "services") as Json;
const collectorConfig = parseYaml(readRepoFile("infra/observability/otel-collector.yaml"));
const prometheusConfig = parseYaml(readRepoFile("infra/observability/prometheus.yml"));
const datasources = parseYaml(readRepoFile("infra/observability/grafana/provisioning/datasources/datasources.yaml"));
const dashboardProvider = parseYaml(readRepoFile("infra/observability/grafana/provisioning/dashboards/dashboards.yaml"));
const dashboard = JSON.parse(readRepoFile("infra/observability/grafana/dashboards/switchboard.json")) as Json;
const catalogue = parseCatalogue(readRepoFile("docs/observability.md"));
const datasourceUids = asArray(at(datasources, "datasources")).map((d) => String(at(d, "uid")));
const haproxyCfg = readRepoFile("infra/haproxy/haproxy.cfg");

function collectorFacts(config: unknown = collectorConfig): CollectorFacts {
  const facts: CollectorFacts = {};
  collectorProblems(config, facts);
  return facts;
}

function runCompose(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const { SWITCHBOARD_DOMAIN: _d, OTEL_EXPORTER_OTLP_ENDPOINT: _o, ...baseEnv } = process.env;
  return execFileSync(DOCKER_COMPOSE, ["-f", "docker-compose.yml", ...args], {
    cwd: root,
    env: { ...baseEnv, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const composeSuite = hasDockerCompose
  ? "observability profile: docker-compose validation"
  : `observability profile: docker-compose validation — SKIPPED: ${DOCKER_COMPOSE} is not installed`;

describe.skipIf(!hasDockerCompose)(composeSuite, () => {
  it("accepts the file with the profile (docker-compose --profile observability config -q)", () => {
    expect(() => runCompose(["--profile", OBSERVABILITY_PROFILE, "config", "-q"])).not.toThrow();
  });

  it("leaves OTLP off by default and passes the endpoint through when exported", () => {
    const byDefault = parseYaml(runCompose(["--profile", OBSERVABILITY_PROFILE, "config"]));
    expect(environmentOf(services(byDefault).edge).get("OTEL_EXPORTER_OTLP_ENDPOINT")).toBe("");
    const on = parseYaml(runCompose(["--profile", OBSERVABILITY_PROFILE, "config"], { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318" }));
    expect(environmentOf(services(on).edge).get("OTEL_EXPORTER_OTLP_ENDPOINT")).toBe("http://otel-collector:4318");
  });

  it("still satisfies every invariant after docker-compose resolved it", () => {
    const resolved = parseYaml(runCompose(["--profile", OBSERVABILITY_PROFILE, "config"]));
    expect(composeProblems(resolved)).toEqual([]);
    expect(observabilityComposeProblems(resolved)).toEqual([]);
  });
});

const promtoolSuite = hasPromtool ? "prometheus.yml: promtool" : `prometheus.yml: promtool — SKIPPED: ${PROMTOOL} is not installed (apt-get install prometheus)`;

describe.skipIf(!hasPromtool)(promtoolSuite, () => {
  it("passes promtool check config", () => {
    expect(() =>
      execFileSync(PROMTOOL, ["check", "config", "infra/observability/prometheus.yml"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    ).not.toThrow();
  });
});

describe("docker-compose.yml: the observability profile", () => {
  it("holds every invariant, and the cluster's still hold", () => {
    expect(observabilityComposeProblems(compose)).toEqual([]);
    expect(composeProblems(compose)).toEqual([]);
  });

  it("keeps a plain `up` to exactly the services it ran before", () => {
    const byDefault = Object.keys(services(compose)).filter((name) => profilesOf(services(compose)[name]).length === 0);
    expect(byDefault.sort()).toEqual([...DEFAULT_SERVICES].sort());
    const profiled = Object.keys(services(compose)).filter((name) => profilesOf(services(compose)[name]).includes(OBSERVABILITY_PROFILE));
    expect(profiled.sort()).toEqual([...OBSERVABILITY_SERVICES.keys()].sort());
  });

  it("mounts only config files and directories that exist in the repository", () => {
    const sources = Object.values(services(compose)).flatMap((s) => bindMountSources(s));
    expect(sources).toContain("./infra/observability/prometheus.yml");
    for (const source of sources) expect(existsSync(new URL(source, repoRoot)), source).toBe(true);
  });

  it("puts the dashboard where the provisioning looks for it", () => {
    const grafana = services(compose).grafana as Json;
    const mount = asArray(grafana.volumes).map(String).find((v) => v.startsWith("./infra/observability/grafana/dashboards:"));
    expect(mount?.split(":")[1]).toBe(at(asArray(at(dashboardProvider, "providers"))[0], "options.path"));
    expect(asArray(grafana.volumes)).toContain("./infra/observability/grafana/provisioning:/etc/grafana/provisioning:ro");
  });

  const mutations: Array<[string, (doc: Json) => void, RegExp]> = [
    ["Prometheus outside the profile", (d) => { delete (services(d).prometheus as Json).profiles; }, /services without a profile|prometheus: profiles/],
    ["Grafana published on every interface", (d) => { (services(d).grafana as Json).ports = ["3000:3000"]; }, /grafana: publishes 3000 beyond 127.0.0.1/],
    ["Jaeger's UI not published", (d) => { delete (services(d).jaeger as Json).ports; }, /jaeger: does not publish 127.0.0.1:16686/],
    ["an unpinned image", (d) => { (services(d)["otel-collector"] as Json).image = "otel/opentelemetry-collector-contrib:latest"; }, /otel-collector: image .* is not pinned/],
    ["a missing collector", (d) => { delete services(d)["otel-collector"]; }, /no otel-collector service/],
    ["OTLP on by default", (d) => { ((services(d).edge as Json).environment as Json).OTEL_EXPORTER_OTLP_ENDPOINT = "http://otel-collector:4318"; }, /OTEL_EXPORTER_OTLP_ENDPOINT defaults to/],
    ["an edge depending on the collector", (d) => { ((services(d).edge as Json).depends_on as Json)["otel-collector"] = { condition: "service_started" }; }, /edge: depends on otel-collector/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`rejects ${name}`, () => {
      const broken = clone(compose);
      mutate(broken);
      expect([...observabilityComposeProblems(broken), ...composeProblems(broken)].join("\n")).toMatch(expected);
    });
  }
});

describe("infra/observability/otel-collector.yaml", () => {
  it("receives OTLP and sends traces to Jaeger and metrics to Prometheus", () => {
    expect(collectorProblems(collectorConfig)).toEqual([]);
    expect(collectorFacts().prometheusPort).toBe(8889);
    expect(asArray(at(services(compose)["otel-collector"], "expose")).map(String)).toEqual(expect.arrayContaining(["4317", "4318", "8889"]));
  });

  const mutations: Array<[string, (c: Json) => void, RegExp]> = [
    ["no otlp receiver", (c) => { delete (c.receivers as Json).otlp; }, /no otlp receiver/],
    ["an OTLP endpoint on localhost", (c) => { (at(c, "receivers.otlp.protocols.http") as Json).endpoint = "localhost:4318"; }, /otlp http endpoint is localhost:4318/],
    ["traces to the wrong host", (c) => { (at(c, "exporters.otlp/jaeger") as Json).endpoint = "tempo:4317"; }, /no traces pipeline/],
    ["no metrics pipeline", (c) => { delete (at(c, "service.pipelines") as Json).metrics; }, /no metrics pipeline/],
    ["a pipeline naming an undefined exporter", (c) => { (at(c, "service.pipelines.traces") as Json).exporters = ["debug"]; }, /uses undefined exporter debug/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`rejects ${name}`, () => {
      const broken = clone(collectorConfig) as Json;
      mutate(broken);
      expect(collectorProblems(broken).join("\n")).toMatch(expected);
    });
  }
});

describe("infra/observability/prometheus.yml", () => {
  const collector = { host: "otel-collector", port: collectorFacts().prometheusPort };

  it("scrapes every edge replica on 5280 /metrics through Docker DNS, and the collector", () => {
    expect(prometheusProblems(prometheusConfig, collector)).toEqual([]);
    expect(Object.keys(services(compose))).toContain(collector.host);
  });

  const mutations: Array<[string, (c: Json) => void, RegExp]> = [
    ["edges on the wrong port", (c) => { (asArray(asArray(c.scrape_configs)[0] && (asArray(c.scrape_configs)[0] as Json).dns_sd_configs)[0] as Json).port = 5222; }, /no job discovering the edges/],
    ["edges on another path", (c) => { (asArray(c.scrape_configs)[0] as Json).metrics_path = "/admin/metrics"; }, /scraped on \/admin\/metrics/],
    ["the collector not scraped", (c) => { c.scrape_configs = asArray(c.scrape_configs).filter((j) => at(j, "job_name") !== "otel-collector"); }, /collector .* is not scraped/],
    ["a rule file", (c) => { c.rule_files = ["alerts.yml"]; }, /rule_files/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`rejects ${name}`, () => {
      const broken = clone(prometheusConfig) as Json;
      mutate(broken);
      expect(prometheusProblems(broken, collector).join("\n")).toMatch(expected);
    });
  }
});

describe("Grafana: datasources and the Switchboard dashboard", () => {
  it("provisions Prometheus and Jaeger at their compose services", () => {
    const byType = new Map(asArray(at(datasources, "datasources")).filter(isObject).map((d) => [String(d.type), d]));
    expect(at(byType.get("prometheus"), "url")).toBe("http://prometheus:9090");
    expect(at(byType.get("jaeger"), "url")).toBe("http://jaeger:16686");
  });

  it("reads the catalogue table of docs/observability.md", () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(20);
    expect(catalogue).toContainEqual({ name: "switchboard_routing_seconds", type: "histogram" });
    expect(catalogue).toContainEqual({ name: "switchboard_logins_total", type: "counter" });
  });

  it("queries only catalogue metrics, each of them somewhere, counters by rate and histograms by quantile", () => {
    expect(dashboardProblems(dashboard, catalogue, datasourceUids)).toEqual([]);
  });

  it("has the panels the operators asked for", () => {
    const titles = dataPanels(dashboard).map((p) => String(p.title).toLowerCase());
    for (const wanted of ["connections by transport", "logins", "sessions", "stanzas in / out", "bytes in / out", "routing latency", "redis", "bus buffered", "offline", "limit refusals", "resumptions", "muc", "overload", "event-loop", "memory"])
      expect(titles.some((t) => t.includes(wanted)), wanted).toBe(true);
    expect(new Set(dataPanels(dashboard).map((p) => p.id)).size).toBe(dataPanels(dashboard).length);
  });

  it("finds metric names in PromQL", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(switchboard_routing_seconds_bucket{job=~"$job"}[$__rate_interval])))')).toEqual(["switchboard_routing_seconds_bucket"]);
    expect(metricNames("sum by (state) (switchboard_sessions) / on(instance) group_left up")).toEqual(["switchboard_sessions", "up"]);
    expect(metricNames("label_values(switchboard_connections, job)")).toEqual(["switchboard_connections"]);
  });

  const withExpr = (expr: string): Json => {
    const copy = clone(dashboard);
    ((dataPanels(copy)[0]!.targets as Json[])[0] as Json).expr = expr;
    return copy;
  };
  const mutations: Array<[string, Json, RegExp]> = [
    ["a metric outside the catalogue", withExpr("sum(switchboard_not_a_metric_total)"), /switchboard_not_a_metric_total is not in the catalogue/],
    ["a counter without rate()", withExpr("sum by (transport) (switchboard_connections_opened_total)"), /counter switchboard_connections_opened_total not under rate/],
    ["a histogram without _bucket", withExpr("switchboard_routing_seconds"), /histogram switchboard_routing_seconds used without _bucket/],
    ["a catalogue metric on no panel", (() => { const c = clone(dashboard); for (const p of dataPanels(c)) p.targets = asArray(p.targets).filter((t) => !String(at(t, "expr")).includes("switchboard_muc_occupants")); return c; })(), /switchboard_muc_occupants is on no panel/],
    ["an unknown datasource", (() => { const c = clone(dashboard); dataPanels(c)[0]!.datasource = { type: "prometheus", uid: "mimir" }; return c; })(), /is not provisioned/],
  ];
  for (const [name, broken, expected] of mutations) {
    it(`rejects ${name}`, () => {
      expect(dashboardProblems(broken, catalogue, datasourceUids).join("\n")).toMatch(expected);
    });
  }

  it("rejects a catalogue that gained a metric the dashboard lacks", () => {
    expect(dashboardProblems(dashboard, [...catalogue, { name: "switchboard_storm_admissions_total", type: "counter" }], datasourceUids).join("\n")).toMatch(
      /switchboard_storm_admissions_total is on no panel/,
    );
  });
});

describe("infra/haproxy/haproxy.cfg: operator paths", () => {
  it("refuses /metrics and /admin/ on the public HTTP port", () => {
    expect(haproxyProblems(haproxyCfg)).toEqual([]);
  });

  it("rejects a config without the deny rule, or with a status other than 403", () => {
    const without = haproxyCfg.split("\n").filter((l) => !/http-request deny/.test(l)).join("\n");
    expect(haproxyProblems(without).join("\n")).toMatch(/does not refuse \/metrics with 403[\s\S]*does not refuse \/admin\/ with 403/);
    expect(haproxyProblems(haproxyCfg.replace("deny_status 403", "deny_status 404")).join("\n")).toMatch(/does not refuse \/metrics/);
    expect(haproxyProblems(haproxyCfg.replace("/metrics /admin/", "/admin/")).join("\n")).toMatch(/does not refuse \/metrics/);
  });

  it("accepts the rule written inline", () => {
    const inline = haproxyCfg
      .split("\n")
      .filter((l) => !/^\s*(acl operator_path|http-request deny)/.test(l))
      .join("\n")
      .replace("  default_backend edges_http", "  http-request deny if { path_beg /metrics /admin/ }\n  default_backend edges_http");
    expect(haproxyProblems(inline)).toEqual([]);
  });
});

// The deny rules as HAProxy itself applies them: the deployed frontend's acl and http-request
// lines in front of a stand-in edge that answers 200 to everything.
const HAPROXY = "/usr/sbin/haproxy";
const hasHaproxy = existsSync(HAPROXY);
const haproxySuite = hasHaproxy ? "HAProxy refuses operator paths" : `HAProxy refuses operator paths — SKIPPED: ${HAPROXY} is not installed`;

describe.skipIf(!hasHaproxy)(haproxySuite, () => {
  let haproxy: ChildProcess | undefined;
  let edge: Server | undefined;
  let dir = "";
  let port = 0;

  beforeAll(async () => {
    edge = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("edge\n"));
    await new Promise<void>((resolve) => edge!.listen(0, "127.0.0.1", resolve));
    const edgePort = (edge.address() as AddressInfo).port;
    port = await freePort();
    const lines = haproxyCfg.split("\n").map((l) => l.replace(/#.*/, "").trim());
    const start = lines.findIndex((l) => l === "frontend http");
    const end = lines.findIndex((l, i) => i > start && /^(frontend|backend|listen|global|defaults|resolvers)\b/.test(l));
    const rules = lines.slice(start, end).filter((l) => /^(acl|http-request)\s/.test(l));
    expect(rules.length).toBeGreaterThan(0);
    dir = mkdtempSync(join(tmpdir(), "sb-haproxy-deny-"));
    const cfg = [
      "defaults",
      "  mode http",
      "  timeout connect 2s",
      "  timeout client 10s",
      "  timeout server 10s",
      "frontend http",
      `  bind 127.0.0.1:${port}`,
      ...rules.map((r) => `  ${r}`),
      "  default_backend edges_http",
      "backend edges_http",
      `  server edge 127.0.0.1:${edgePort}`,
      "",
    ].join("\n");
    writeFileSync(join(dir, "haproxy.cfg"), cfg);
    haproxy = track(spawn(HAPROXY, ["-db", "-f", join(dir, "haproxy.cfg")], { stdio: ["ignore", "ignore", "pipe"] }));
    await waitForPort(port);
  }, 30_000);

  afterAll(async () => {
    await signalAndWait(haproxy, "SIGTERM");
    await new Promise((resolve) => edge?.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const status = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).status;

  it("answers 403 for /metrics and /admin/, however spelled", async () => {
    for (const path of ["/metrics", "/metrics?x=1", "/%6Detrics", "/admin", "/admin/", "/admin/users"]) expect(await status(path), path).toBe(403);
  });

  it("passes everything else to the edges", async () => {
    for (const path of ["/readyz", "/healthz", "/xmpp-websocket", "/administrator"]) expect(await status(path), path).toBe(200);
  });
});
