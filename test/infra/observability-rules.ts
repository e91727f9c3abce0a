/**
 * The invariants of the observability profile's configs (infra/observability, docs/deployment.md
 * "Observability stack"): Prometheus finds every edge and the collector, the collector takes OTLP
 * and sends traces to Jaeger and metrics on, and the Grafana dashboard shows exactly the metric
 * catalogue of docs/observability.md. Each rule returns human-readable problems, as the others.
 */
import { asArray, at, isObject, type Json } from "./yaml.js";

export interface CatalogueEntry {
  name: string;
  type: "counter" | "gauge" | "histogram";
}

/** The rows of the `## Catalogue` table of docs/observability.md (first column name, second type). */
export function parseCatalogue(markdown: string): CatalogueEntry[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Catalogue"));
  if (!section) throw new Error("docs/observability.md has no ## Catalogue section");
  const entries: CatalogueEntry[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z_:][a-z0-9_:]*)`$/.exec(cells[1] ?? "")?.[1];
    if (!name) continue;
    const type = cells[2];
    if (type !== "counter" && type !== "gauge" && type !== "histogram") throw new Error(`catalogue: ${name} has unknown type ${String(type)}`);
    entries.push({ name, type });
  }
  return entries;
}

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan"]);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(...)` query) selects: the
 * identifiers left once strings, label matchers, ranges and grouping clauses are removed that
 * are not function calls or keywords.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/,\s*[a-zA-Z_]\w*\s*\)\s*$/, ")"); // label_values(metric, label): the label
  const names: string[] = [];
  for (const m of stripped.matchAll(/(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    const word = m[1]!;
    if (!PROMQL_WORDS.has(word.toLowerCase())) names.push(word);
  }
  return names;
}

export interface DashboardQuery {
  panel: string;
  expr: string;
}

/** Every query of every panel (rows' nested panels too), and the templating variables' queries. */
export function dashboardQueries(dashboard: unknown): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (panels: unknown) => {
    for (const panel of asArray(panels).filter(isObject)) {
      for (const target of asArray(panel.targets).filter(isObject))
        if (typeof target.expr === "string") out.push({ panel: String(panel.title), expr: target.expr });
      visit(panel.panels);
    }
  };
  visit(at(dashboard, "panels"));
  for (const variable of asArray(at(dashboard, "templating.list")).filter(isObject)) {
    const query = isObject(variable.query) ? variable.query.query : variable.query;
    if (variable.type === "query" && typeof query === "string") out.push({ panel: `variable $${String(variable.name)}`, expr: query });
  }
  return out;
}

/** Panels that show data: every leaf panel other than text and rows. */
export function dataPanels(dashboard: unknown): Json[] {
  const out: Json[] = [];
  const visit = (panels: unknown) => {
    for (const panel of asArray(panels).filter(isObject)) {
      if (panel.type === "row") visit(panel.panels);
      else if (panel.type !== "text") out.push(panel);
    }
  };
  visit(at(dashboard, "panels"));
  return out;
}

/**
 * The dashboard against the catalogue: only catalogue names (histograms through `_bucket` in
 * histogram_quantile, counters through rate/irate/increase), every catalogue metric somewhere,
 * every data panel with a query on a datasource that is provisioned.
 */
export function dashboardProblems(dashboard: unknown, catalogue: CatalogueEntry[], datasourceUids: string[]): string[] {
  const problems: string[] = [];
  if (!isObject(dashboard) || typeof dashboard.uid !== "string" || typeof dashboard.title !== "string") return ["dashboard: no uid or title"];
  const types = new Map(catalogue.map((e) => [e.name, e.type]));
  const shown = new Set<string>();
  for (const { panel, expr } of dashboardQueries(dashboard)) {
    for (const name of metricNames(expr)) {
      const bucketOf = /^(.*)_bucket$/.exec(name)?.[1];
      if (bucketOf && types.get(bucketOf) === "histogram") {
        if (!/histogram_quantile\s*\(/.test(expr)) problems.push(`${panel}: ${name} outside histogram_quantile`);
        shown.add(bucketOf);
        continue;
      }
      const type = types.get(name);
      if (!type) {
        problems.push(`${panel}: ${name} is not in the catalogue (docs/observability.md)`);
        continue;
      }
      if (type === "histogram") problems.push(`${panel}: histogram ${name} used without _bucket`);
      if (type === "counter" && !new RegExp(`\\b(rate|irate|increase)\\s*\\(\\s*${name}\\b`).test(expr)) problems.push(`${panel}: counter ${name} not under rate()`);
      shown.add(name);
    }
  }
  for (const { name } of catalogue) if (!shown.has(name)) problems.push(`dashboard: catalogue metric ${name} is on no panel`);
  for (const panel of dataPanels(dashboard)) {
    const targets = asArray(panel.targets).filter(isObject);
    if (targets.length === 0) problems.push(`${String(panel.title)}: no query`);
    for (const ds of [panel.datasource, ...targets.map((t) => t.datasource)])
      if (ds !== undefined && !datasourceUids.includes(String(at(ds, "uid")))) problems.push(`${String(panel.title)}: datasource ${JSON.stringify(ds)} is not provisioned`);
  }
  return problems;
}

/** host:port → port, or undefined. */
function portOf(endpoint: unknown): number | undefined {
  const m = /:(\d+)$/.exec(String(endpoint ?? ""));
  return m ? Number(m[1]) : undefined;
}

function componentType(id: string): string {
  return id.split("/")[0]!;
}

export interface CollectorFacts {
  /** The port its prometheus exporter serves, for Prometheus to scrape. */
  prometheusPort?: number;
}

/** otel-collector.yaml: OTLP in on 4317/4318 from other containers, traces → Jaeger, metrics → Prometheus. */
export function collectorProblems(config: unknown, facts: CollectorFacts = {}): string[] {
  const problems: string[] = [];
  const otlp = at(config, "receivers.otlp");
  if (!isObject(otlp)) problems.push("collector: no otlp receiver");
  for (const [protocol, port] of [["grpc", 4317], ["http", 4318]] as const) {
    const endpoint = String(at(otlp, `protocols.${protocol}.endpoint`) ?? "");
    if (endpoint !== `0.0.0.0:${port}`) problems.push(`collector: otlp ${protocol} endpoint is ${endpoint || "the default (localhost)"}, expected 0.0.0.0:${port}`);
  }
  const pipelines = at(config, "service.pipelines");
  if (!isObject(pipelines)) return [...problems, "collector: no pipelines"];
  for (const [name, pipeline] of Object.entries(pipelines)) {
    for (const kind of ["receivers", "processors", "exporters"])
      for (const id of asArray(at(pipeline, kind)).map(String))
        if (!isObject(config) || !isObject(at(config, kind)) || !(id in (at(config, kind) as Json))) problems.push(`collector: pipeline ${name} uses undefined ${kind.slice(0, -1)} ${id}`);
  }
  for (const ext of asArray(at(config, "service.extensions")).map(String))
    if (!isObject(at(config, "extensions")) || !(ext in (at(config, "extensions") as Json))) problems.push(`collector: undefined extension ${ext}`);
  const ofSignal = (signal: string) => Object.entries(pipelines).filter(([name]) => componentType(name) === signal).map(([, p]) => p);
  const exporters = (at(config, "exporters") ?? {}) as Json;

  const traces = ofSignal("traces");
  const toJaeger = traces.some((p) =>
    asArray(at(p, "receivers")).map(String).some((r) => componentType(r) === "otlp") &&
    asArray(at(p, "exporters")).map(String).some((e) => {
      const exporter = exporters[e];
      return ["otlp", "otlphttp"].includes(componentType(e)) && /^(https?:\/\/)?jaeger:4317$/.test(String(at(exporter, "endpoint"))) && at(exporter, "tls.insecure") === true;
    }),
  );
  if (!toJaeger) problems.push("collector: no traces pipeline from otlp to an otlp exporter at jaeger:4317 (tls insecure)");

  const metrics = ofSignal("metrics");
  const metricExporters = metrics
    .filter((p) => asArray(at(p, "receivers")).map(String).some((r) => componentType(r) === "otlp"))
    .flatMap((p) => asArray(at(p, "exporters")).map(String))
    .filter((e) => ["prometheus", "prometheusremotewrite"].includes(componentType(e)));
  if (metricExporters.length === 0) problems.push("collector: no metrics pipeline from otlp to prometheus or prometheusremotewrite");
  const scraped = metricExporters.find((e) => componentType(e) === "prometheus");
  if (scraped) facts.prometheusPort = portOf(at(exporters[scraped], "endpoint"));
  return problems;
}

/** prometheus.yml: every edge replica through Docker DNS on 5280 /metrics, and the collector. */
export function prometheusProblems(config: unknown, collector: { host: string; port?: number }): string[] {
  const problems: string[] = [];
  const jobs = asArray(at(config, "scrape_configs")).filter(isObject);
  if (jobs.length === 0) return ["prometheus: no scrape_configs"];
  // Self-contained, so that promtool check config sees all of it and nothing is left to mount.
  if (asArray(at(config, "rule_files")).length > 0) problems.push("prometheus: rule_files refer to files outside prometheus.yml");
  for (const job of jobs) if (job.file_sd_configs !== undefined) problems.push(`prometheus: ${String(job.job_name)} uses file_sd_configs`);
  const names = jobs.map((j) => String(j.job_name));
  if (new Set(names).size !== names.length) problems.push("prometheus: duplicate job_name");

  const edgeJob = jobs.find((job) =>
    asArray(job.dns_sd_configs).some((sd) =>
      asArray(at(sd, "names")).some((n) => n === "edge" || n === "tasks.edge") && at(sd, "type") === "A" && Number(at(sd, "port")) === 5280,
    ),
  );
  if (!edgeJob) problems.push("prometheus: no job discovering the edges through DNS (dns_sd_configs names [edge], type A, port 5280)");
  else {
    if ((edgeJob.metrics_path ?? "/metrics") !== "/metrics") problems.push(`prometheus: edges scraped on ${String(edgeJob.metrics_path)}, not /metrics`);
    if ((edgeJob.scheme ?? "http") !== "http") problems.push("prometheus: edges' HTTP port is plain http");
  }
  const target = `${collector.host}:${collector.port ?? "?"}`;
  const collectorJob = jobs.find((job) => asArray(job.static_configs).some((sc) => asArray(at(sc, "targets")).includes(target)));
  if (!collectorJob) problems.push(`prometheus: the collector (${target}) is not scraped`);
  else if (collectorJob.honor_labels !== true) problems.push("prometheus: the collector job lacks honor_labels (its job/instance come from the OTLP resource)");
  return problems;
}
