/**
 * A small structural checker for the manifests in infra/k8s: not a full schema, only what would
 * make the edges fail to deploy, to receive traffic, to scale or to drain. Each rule returns
 * human-readable problems; an empty list means sound.
 */
import { asArray, at, isObject, type Json } from "./yaml.js";

/** apiVersion → kinds this directory may contain. */
const KNOWN_KINDS: Record<string, readonly string[]> = {
  v1: ["ConfigMap", "Secret", "Service"],
  "apps/v1": ["Deployment"],
  "autoscaling/v2": ["HorizontalPodAutoscaler"],
  "policy/v1": ["PodDisruptionBudget"],
  "kustomize.config.k8s.io/v1beta1": ["Kustomization"],
  // Prometheus Operator's CRD: servicemonitor.yaml, applied separately (not in the kustomization).
  "monitoring.coreos.com/v1": ["ServiceMonitor"],
};

/** Pod annotations the common `kubernetes-pods` Prometheus scrape job reads. */
export const SCRAPE_ANNOTATIONS: Readonly<Record<string, string>> = {
  "prometheus.io/scrape": "true",
  "prometheus.io/port": "5280",
  "prometheus.io/path": "/metrics",
};

/** The public ports (clients, and federation on 5269) and the names every manifest uses for them. */
export const EDGE_PORTS: ReadonlyMap<string, number> = new Map([
  ["xmpp-client", 5222],
  ["xmpps-client", 5223],
  ["http", 5280],
  ["https", 5443],
  ["xmpp-server", 5269],
]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// IANA service name as Kubernetes validates port names: ≤ 15 chars, at least one letter.
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface Manifest {
  file: string;
  object: Json;
}

const nameOf = (m: Manifest) => String(at(m.object, "metadata.name") ?? "?");
const label = (m: Manifest) => `${m.file}: ${String(m.object.kind)} ${nameOf(m)}`;
const ofKind = (all: Manifest[], kind: string) => all.filter((m) => m.object.kind === kind);

/** true when every key/value of `selector` is among `labels` (and the selector is not empty). */
export function selects(selector: unknown, labels: unknown): boolean {
  if (!isObject(selector) || !isObject(labels) || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function podLabels(deployment: Manifest): unknown {
  return at(deployment.object, "spec.template.metadata.labels");
}

function containersOf(deployment: Manifest): Json[] {
  return asArray(at(deployment.object, "spec.template.spec.containers")).filter(isObject);
}

function basics(m: Manifest): string[] {
  const problems: string[] = [];
  const { apiVersion, kind } = m.object;
  const kinds = KNOWN_KINDS[String(apiVersion)];
  if (!kinds?.includes(String(kind))) problems.push(`${m.file}: unknown apiVersion/kind ${String(apiVersion)}/${String(kind)}`);
  if (kind === "Kustomization") return problems;
  const name = at(m.object, "metadata.name");
  if (typeof name !== "string" || !DNS_LABEL.test(name) || name.length > 63) problems.push(`${label(m)}: metadata.name missing or invalid`);
  if (at(m.object, "metadata.namespace") !== undefined) problems.push(`${label(m)}: sets a namespace (apply with -n instead)`);
  return problems;
}

function probeProblems(where: string, container: Json, probeName: string, expectedPath: string): string[] {
  const probe = container[probeName];
  if (!isObject(probe)) return [`${where}: no ${probeName}`];
  const path = at(probe, "httpGet.path");
  const port = at(probe, "httpGet.port");
  const problems: string[] = [];
  if (path !== expectedPath) problems.push(`${where}: ${probeName} path is ${String(path)}, expected ${expectedPath}`);
  const ports = asArray(container.ports).filter(isObject);
  const known = ports.some((p) => p.name === port || p.containerPort === port);
  if (!known || (port !== "http" && port !== 5280)) problems.push(`${where}: ${probeName} port ${String(port)} is not the container's HTTP port`);
  return problems;
}

function deploymentProblems(m: Manifest, all: Manifest[]): string[] {
  const where = label(m);
  const problems: string[] = [];
  const spec = m.object.spec;
  const labels = podLabels(m);
  if (!selects(at(spec, "selector.matchLabels"), labels)) problems.push(`${where}: selector does not match the pod template labels`);
  const annotations = at(spec, "template.metadata.annotations");
  for (const [key, value] of Object.entries(SCRAPE_ANNOTATIONS)) {
    const actual = isObject(annotations) ? annotations[key] : undefined;
    // Annotation values are strings: an unquoted true or 5280 would be rejected by the API server.
    if (actual !== value) problems.push(`${where}: pod annotation ${key} is ${JSON.stringify(actual)}, expected "${value}"`);
  }
  const pod = at(spec, "template.spec");
  if (Number(at(pod, "terminationGracePeriodSeconds") ?? 30) < 30) problems.push(`${where}: terminationGracePeriodSeconds under 30 leaves no time to drain`);
  for (const spread of asArray(at(pod, "topologySpreadConstraints")))
    if (!selects(at(spread, "labelSelector.matchLabels"), labels)) problems.push(`${where}: a topology spread constraint selects other pods`);
  if (asArray(at(pod, "topologySpreadConstraints")).length === 0) problems.push(`${where}: no topology spread`);
  const volumes = new Map(asArray(at(pod, "volumes")).filter(isObject).map((v) => [String(v.name), v]));
  const configMaps = new Set(ofKind(all, "ConfigMap").map(nameOf));
  const secrets = new Map(ofKind(all, "Secret").map((s) => [nameOf(s), s]));

  const containers = containersOf(m);
  if (containers.length === 0) problems.push(`${where}: no containers`);
  for (const c of containers) {
    const cw = `${where} container ${String(c.name)}`;
    const nonRoot = at(c, "securityContext.runAsNonRoot") ?? at(pod, "securityContext.runAsNonRoot");
    if (nonRoot !== true) problems.push(`${cw}: runAsNonRoot is not true`);
    const ports = asArray(c.ports).filter(isObject);
    for (const [name, number] of EDGE_PORTS)
      if (!ports.some((p) => p.name === name && p.containerPort === number)) problems.push(`${cw}: no port ${name}=${number}`);
    for (const p of ports) if (!PORT_NAME.test(String(p.name)) || String(p.name).length > 15) problems.push(`${cw}: invalid port name ${String(p.name)}`);
    problems.push(...probeProblems(cw, c, "readinessProbe", "/readyz"));
    problems.push(...probeProblems(cw, c, "livenessProbe", "/healthz"));
    problems.push(...probeProblems(cw, c, "startupProbe", "/healthz"));
    for (const kind of ["requests", "limits"]) for (const r of ["cpu", "memory"])
      if (at(c, `resources.${kind}.${r}`) === undefined) problems.push(`${cw}: no resources.${kind}.${r}`);
    for (const from of asArray(c.envFrom)) {
      const cm = at(from, "configMapRef.name");
      if (cm !== undefined && !configMaps.has(String(cm))) problems.push(`${cw}: envFrom names missing ConfigMap ${String(cm)}`);
    }
    const env = new Map(asArray(c.env).filter(isObject).map((e) => [String(e.name), e]));
    for (const name of ["SWITCHBOARD_REDIS_URL", "SWITCHBOARD_NATS_URL"]) {
      const ref = at(env.get(name), "valueFrom.secretKeyRef");
      const secret = secrets.get(String(at(ref, "name")));
      if (!ref) problems.push(`${cw}: ${name} is not read from a Secret`);
      else if (secret && at(secret.object, `stringData.${String(at(ref, "key"))}`) === undefined)
        problems.push(`${cw}: ${name} names key ${String(at(ref, "key"))} absent from the example Secret`);
    }
    for (const mount of asArray(c.volumeMounts).filter(isObject))
      if (!volumes.has(String(mount.name))) problems.push(`${cw}: mounts undefined volume ${String(mount.name)}`);
  }
  return problems;
}

function serviceProblems(m: Manifest, all: Manifest[]): string[] {
  const where = label(m);
  const problems: string[] = [];
  const targets = ofKind(all, "Deployment").filter((d) => selects(at(m.object, "spec.selector"), podLabels(d)));
  if (targets.length === 0) problems.push(`${where}: selector matches no Deployment's pods`);
  const containerPortNames = new Set(targets.flatMap(containersOf).flatMap((c) => asArray(c.ports).filter(isObject).map((p) => p.name)));
  const ports = asArray(at(m.object, "spec.ports")).filter(isObject);
  const seen = new Map(ports.map((p) => [String(p.name), p]));
  for (const [name, number] of EDGE_PORTS) {
    const port = seen.get(name);
    if (!port || port.port !== number) problems.push(`${where}: no port ${name}=${number}`);
    else if (!containerPortNames.has(port.targetPort) && !targets.flatMap(containersOf).some((c) => asArray(c.ports).some((p) => at(p, "containerPort") === port.targetPort)))
      problems.push(`${where}: port ${name} targets ${String(port.targetPort)}, which no pod exposes`);
  }
  if (ports.length !== EDGE_PORTS.size) problems.push(`${where}: expected exactly the ports ${[...EDGE_PORTS.keys()].join(", ")}`);
  return problems;
}

function autoscalerProblems(m: Manifest, all: Manifest[]): string[] {
  const where = label(m);
  const problems: string[] = [];
  const target = at(m.object, "spec.scaleTargetRef");
  const deployment = ofKind(all, "Deployment").find((d) => nameOf(d) === at(target, "name"));
  if (at(target, "kind") !== "Deployment" || at(target, "apiVersion") !== "apps/v1" || !deployment)
    problems.push(`${where}: scaleTargetRef does not name a Deployment here`);
  const min = Number(at(m.object, "spec.minReplicas"));
  const max = Number(at(m.object, "spec.maxReplicas"));
  if (!(min >= 2 && max >= min)) problems.push(`${where}: replicas must be at least 2 and min ≤ max (got ${min}..${max})`);
  const cpu = asArray(at(m.object, "spec.metrics")).find((x) => at(x, "resource.name") === "cpu");
  if (at(cpu, "resource.target.averageUtilization") === undefined) problems.push(`${where}: no CPU utilization target`);
  if (deployment && containersOf(deployment).some((c) => at(c, "resources.requests.cpu") === undefined))
    problems.push(`${where}: CPU utilization needs CPU requests on the target`);
  return problems;
}

function disruptionBudgetProblems(m: Manifest, all: Manifest[]): string[] {
  const where = label(m);
  const problems: string[] = [];
  if (!ofKind(all, "Deployment").some((d) => selects(at(m.object, "spec.selector.matchLabels"), podLabels(d))))
    problems.push(`${where}: selector matches no Deployment's pods`);
  if (at(m.object, "spec.maxUnavailable") === undefined && at(m.object, "spec.minAvailable") === undefined)
    problems.push(`${where}: neither maxUnavailable nor minAvailable`);
  return problems;
}

/** A ServiceMonitor must select the edge Service and scrape its HTTP port, by name, on /metrics. */
function serviceMonitorProblems(m: Manifest, all: Manifest[]): string[] {
  const where = label(m);
  const problems: string[] = [];
  const selector = at(m.object, "spec.selector.matchLabels");
  const services = ofKind(all, "Service").filter((s) => selects(selector, at(s.object, "metadata.labels")));
  if (services.length === 0) problems.push(`${where}: selector matches no Service's labels`);
  const endpoints = asArray(at(m.object, "spec.endpoints")).filter(isObject);
  if (endpoints.length === 0) problems.push(`${where}: no endpoints`);
  const httpPortName = [...EDGE_PORTS].find(([, n]) => n === 5280)![0];
  for (const e of endpoints) {
    if (e.port !== httpPortName) problems.push(`${where}: endpoint port ${String(e.port)} is not the Service's ${httpPortName} port`);
    for (const s of services)
      if (!asArray(at(s.object, "spec.ports")).some((p) => at(p, "name") === e.port)) problems.push(`${where}: ${label(s)} has no port named ${String(e.port)}`);
    if ((e.path ?? "/metrics") !== "/metrics") problems.push(`${where}: endpoint path ${String(e.path)} is not /metrics`);
  }
  return problems;
}

const KIND_RULES: Record<string, (m: Manifest, all: Manifest[]) => string[]> = {
  ServiceMonitor: serviceMonitorProblems,
  Deployment: deploymentProblems,
  Service: serviceProblems,
  HorizontalPodAutoscaler: autoscalerProblems,
  PodDisruptionBudget: disruptionBudgetProblems,
};

export function manifestProblems(all: Manifest[]): string[] {
  const problems = all.flatMap(basics);
  for (const kind of ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "Kustomization"])
    if (ofKind(all, kind).length === 0) problems.push(`no ${kind}`);
  for (const m of all) problems.push(...(KIND_RULES[String(m.object.kind)]?.(m, all) ?? []));
  return problems;
}
