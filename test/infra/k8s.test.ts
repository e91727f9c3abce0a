/**
 * infra/k8s: every manifest parses, and the objects that matter pass the structural checks in
 * k8s-rules.ts. Broken copies must be rejected, so the checks are known to bite.
 */
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { manifestProblems, type Manifest } from "./k8s-rules.js";
import { asArray, at, clone, isObject, parseYamlDocuments, readRepoFile, repoRoot, type Json } from "./yaml.js";

const DIR = "infra/k8s/";
const files = readdirSync(new URL(DIR, repoRoot)).filter((f) => /\.ya?ml$/.test(f)).sort();
const manifests: Manifest[] = files.flatMap((file) =>
  parseYamlDocuments(readRepoFile(DIR + file)).map((object) => {
    if (!isObject(object)) throw new Error(`${file}: a document is not a mapping`);
    return { file, object };
  }),
);

const find = (all: Manifest[], kind: string): Json => {
  const m = all.find((x) => x.object.kind === kind);
  if (!m) throw new Error(`no ${kind}`);
  return m.object;
};
const container = (all: Manifest[]): Json => asArray(at(find(all, "Deployment"), "spec.template.spec.containers"))[0] as Json;
const problemsAfter = (mutate: (all: Manifest[]) => void): string => {
  const copy = clone(manifests);
  mutate(copy);
  return manifestProblems(copy).join("\n");
};

describe("infra/k8s manifests", () => {
  it("contain the edge objects and pass every structural check", () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(manifestProblems(manifests)).toEqual([]);
  });

  it("list every manifest except the example Secret and the ServiceMonitor (needs the operator's CRD) in kustomization.yaml", () => {
    const resources = asArray(at(find(manifests, "Kustomization"), "resources")).map(String).sort();
    const expected = files.filter((f) => !["kustomization.yaml", "secret.example.yaml", "servicemonitor.yaml"].includes(f));
    expect(resources).toEqual(expected);
  });

  it("annotate the edge pods for Prometheus and ship a ServiceMonitor for the operator", () => {
    expect(at(find(manifests, "Deployment"), "spec.template.metadata.annotations")).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "5280",
      "prometheus.io/path": "/metrics",
    });
    const monitor = manifests.find((m) => m.object.kind === "ServiceMonitor");
    expect(monitor?.file).toBe("servicemonitor.yaml");
    expect(asArray(at(monitor?.object, "spec.endpoints")).map((e) => at(e, "port"))).toEqual(["http"]);
  });

  it("keep the example Secret to placeholders", () => {
    const secret = find(manifests, "Secret");
    expect(readRepoFile(`${DIR}secret.example.yaml`)).toMatch(/EXAMPLE ONLY/);
    expect(String(at(secret, "stringData.server-secret"))).toMatch(/CHANGE-ME/);
    expect(String(at(secret, "stringData.SWITCHBOARD_REDIS_URL"))).toMatch(/CHANGE-ME/);
  });

  it("point the TLS settings at the mounted certificate Secret and share the server secret file", () => {
    const config = at(find(manifests, "ConfigMap"), "data") as Json;
    const mounts = asArray(container(manifests).volumeMounts) as Json[];
    const tlsMount = mounts.find((m) => m.name === "tls");
    expect(config.SWITCHBOARD_TLS_CERT).toBe(`${String(tlsMount?.mountPath)}/tls.crt`);
    expect(config.SWITCHBOARD_TLS_KEY).toBe(`${String(tlsMount?.mountPath)}/tls.key`);
    const secretMount = mounts.find((m) => m.name === "server-secret");
    expect(secretMount?.mountPath).toBe(`${String(config.SWITCHBOARD_DATA_DIR)}/server-secret`);
  });

  const mutations: Array<[string, (all: Manifest[]) => void, RegExp]> = [
    ["an unknown apiVersion", (all) => { find(all, "HorizontalPodAutoscaler").apiVersion = "autoscaling/v1beta9"; }, /unknown apiVersion\/kind/],
    ["a missing name", (all) => { delete (find(all, "Service").metadata as Json).name; }, /metadata.name missing/],
    ["a selector that misses the pod labels", (all) => { (at(find(all, "Deployment"), "spec.selector.matchLabels") as Json)["app.kubernetes.io/component"] = "web"; }, /selector does not match the pod template labels/],
    ["a readiness probe on the wrong path", (all) => { (at(container(all), "readinessProbe.httpGet") as Json).path = "/healthz"; }, /readinessProbe path is \/healthz/],
    ["a liveness probe on an undeclared port", (all) => { (at(container(all), "livenessProbe.httpGet") as Json).port = "metrics"; }, /livenessProbe port metrics/],
    ["a missing startup probe", (all) => { delete container(all).startupProbe; }, /no startupProbe/],
    ["a renamed container port", (all) => { (asArray(container(all).ports)[1] as Json).name = "xmpps"; }, /no port xmpps-client=5223/],
    ["a root container", (all) => { (at(find(all, "Deployment"), "spec.template.spec.securityContext") as Json).runAsNonRoot = false; }, /runAsNonRoot/],
    ["no memory limit", (all) => { delete (at(container(all), "resources.limits") as Json).memory; }, /resources.limits.memory/],
    ["a short grace period", (all) => { (at(find(all, "Deployment"), "spec.template.spec") as Json).terminationGracePeriodSeconds = 5; }, /terminationGracePeriodSeconds/],
    ["an HPA aimed at another Deployment", (all) => { (at(find(all, "HorizontalPodAutoscaler"), "spec.scaleTargetRef") as Json).name = "edge"; }, /scaleTargetRef/],
    ["a PDB selecting nothing", (all) => { (at(find(all, "PodDisruptionBudget"), "spec.selector.matchLabels") as Json)["app.kubernetes.io/name"] = "other"; }, /PodDisruptionBudget .*selector matches no/],
    ["a Service selecting nothing", (all) => { (at(find(all, "Service"), "spec.selector") as Json)["app.kubernetes.io/component"] = "muc"; }, /Service .*selector matches no/],
    ["a Service port with the wrong number", (all) => { (asArray(at(find(all, "Service"), "spec.ports"))[2] as Json).port = 80; }, /no port http=5280/],
    ["a Service targeting an unknown port", (all) => { (asArray(at(find(all, "Service"), "spec.ports"))[0] as Json).targetPort = "xmpp"; }, /targets xmpp/],
    ["a URL not taken from a Secret", (all) => { container(all).env = asArray(container(all).env).filter((e) => at(e, "name") !== "SWITCHBOARD_NATS_URL"); }, /SWITCHBOARD_NATS_URL is not read from a Secret/],
    ["no scrape annotation on the pods", (all) => { delete (at(find(all, "Deployment"), "spec.template.metadata.annotations") as Json)["prometheus.io/scrape"]; }, /prometheus.io\/scrape/],
    ["an unquoted scrape port", (all) => { (at(find(all, "Deployment"), "spec.template.metadata.annotations") as Json)["prometheus.io/port"] = 5280; }, /prometheus.io\/port is 5280/],
    ["a ServiceMonitor on a port the Service lacks", (all) => { (asArray(at(find(all, "ServiceMonitor"), "spec.endpoints"))[0] as Json).port = "metrics"; }, /endpoint port metrics/],
    ["a ServiceMonitor selecting no Service", (all) => { (at(find(all, "ServiceMonitor"), "spec.selector.matchLabels") as Json)["app.kubernetes.io/component"] = "muc"; }, /ServiceMonitor .*selector matches no Service/],
    ["a mount of an undefined volume", (all) => { (at(find(all, "Deployment"), "spec.template.spec") as Json).volumes = []; }, /mounts undefined volume/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`reject ${name}`, () => {
      expect(problemsAfter(mutate)).toMatch(expected);
    });
  }
});
