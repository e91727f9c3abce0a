/**
 * docker-compose.yml and the HAProxy config in front of it: validated by docker-compose itself
 * when installed, and checked against the cluster invariants in compose-rules.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { composeProblems, environmentOf, haproxyProblems } from "./compose-rules.js";
import { at, clone, isObject, parseYaml, readRepoFile, repoRoot, type Json } from "./yaml.js";

const DOCKER_COMPOSE = "/usr/bin/docker-compose";
const hasDockerCompose = existsSync(DOCKER_COMPOSE);
const compose = parseYaml(readRepoFile("docker-compose.yml"));
const haproxyCfg = readRepoFile("infra/haproxy/haproxy.cfg");

function runCompose(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const { SWITCHBOARD_DOMAIN: _unset, ...baseEnv } = process.env;
  return execFileSync(DOCKER_COMPOSE, ["-f", "docker-compose.yml", ...args], {
    cwd: fileURLToPath(repoRoot),
    env: { ...baseEnv, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function services(doc: unknown): Json {
  return at(doc, "services") as Json;
}

// The only skip in these tests: without the tool there is nothing to run.
const validationSuite = hasDockerCompose
  ? "docker-compose validation"
  : `docker-compose validation — SKIPPED: ${DOCKER_COMPOSE} is not installed`;

describe.skipIf(!hasDockerCompose)(validationSuite, () => {
  it("accepts the file (docker-compose config -q)", () => {
    expect(() => runCompose(["config", "-q"])).not.toThrow();
  });

  it("defaults the domain to localhost and takes SWITCHBOARD_DOMAIN from the environment", () => {
    const byDefault = parseYaml(runCompose(["config"]));
    expect(environmentOf(services(byDefault).edge).get("SWITCHBOARD_DOMAIN")).toBe("localhost");
    const custom = parseYaml(runCompose(["config"], { SWITCHBOARD_DOMAIN: "chat.example.org" }));
    expect(environmentOf(services(custom).edge).get("SWITCHBOARD_DOMAIN")).toBe("chat.example.org");
    expect(environmentOf(services(custom).setup).get("SWITCHBOARD_DOMAIN")).toBe("chat.example.org");
  });

  it("still satisfies every invariant after docker-compose resolved it", () => {
    expect(composeProblems(parseYaml(runCompose(["config"])))).toEqual([]);
  });
});

describe("docker-compose.yml invariants", () => {
  it("holds all of them", () => {
    expect(composeProblems(compose)).toEqual([]);
  });

  it("mounts the shared volume read-only on edges and read-write in setup, which edges wait for", () => {
    const edge = services(compose).edge as Json;
    const setup = services(compose).setup as Json;
    expect(edge.volumes).toContain("shared:/var/lib/switchboard:ro");
    expect(setup.volumes).toContain("shared:/var/lib/switchboard");
    expect(at(edge, "depends_on.setup.condition")).toBe("service_completed_successfully");
  });

  // The rules must reject what they guard against: each mutation breaks one invariant.
  const mutations: Array<[string, (doc: Json) => void, RegExp]> = [
    ["redis without fsync always", (d) => { (services(d).redis as Json).command = ["redis-server", "--appendonly", "yes"]; }, /appendfsync always/],
    ["redis without AOF", (d) => { (services(d).redis as Json).command = ["redis-server"]; }, /appendonly yes/],
    ["a NATS node missing a route", (d) => { (services(d)["nats-3"] as Json).command = ["nats-server", "--cluster_name", "switchboard", "--cluster", "nats://0.0.0.0:6222", "--routes", "nats://nats-1:6222"]; }, /nats-3: no route to nats-2/],
    ["a NATS node removed", (d) => { delete services(d)["nats-2"]; }, /no nats-2 service/],
    ["edges publishing host ports", (d) => { (services(d).edge as Json).ports = ["5222:5222"]; }, /edge: publishes host ports/],
    ["edges without the Redis URL", (d) => { delete ((services(d).edge as Json).environment as Json).SWITCHBOARD_REDIS_URL; }, /SWITCHBOARD_REDIS_URL/],
    ["edges with one NATS server only", (d) => { ((services(d).edge as Json).environment as Json).SWITCHBOARD_NATS_URL = "nats://nats-1:4222"; }, /lacks nats:\/\/nats-2:4222/],
    ["edges with a fixed node id", (d) => { ((services(d).edge as Json).environment as Json).SWITCHBOARD_NODE_ID = "edge-1"; }, /NODE_ID/],
    ["edges not waiting for healthy Redis", (d) => { delete ((services(d).edge as Json).depends_on as Json).redis; }, /wait for redis/],
    ["edges not expecting the PROXY header HAProxy sends", (d) => { delete ((services(d).edge as Json).environment as Json).SWITCHBOARD_C2S_PROXY_PROTOCOL; }, /SWITCHBOARD_C2S_PROXY_PROTOCOL/],
    ["edges ignoring X-Forwarded-For from HAProxy", (d) => { delete ((services(d).edge as Json).environment as Json).SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR; }, /SWITCHBOARD_HTTP_TRUST_FORWARDED_FOR/],
    ["edges not expecting the PROXY header HAProxy sends on 5443", (d) => { delete ((services(d).edge as Json).environment as Json).SWITCHBOARD_HTTP_TLS_PROXY_PROTOCOL; }, /SWITCHBOARD_HTTP_TLS_PROXY_PROTOCOL/],
    ["a short stop grace period", (d) => { (services(d).edge as Json).stop_grace_period = "10s"; }, /stop_grace_period/],
    ["edges without the archive's PostgreSQL", (d) => { delete ((services(d).edge as Json).environment as Json).SWITCHBOARD_POSTGRES_URL; }, /SWITCHBOARD_POSTGRES_URL/],
    ["PostgreSQL data off its volume", (d) => { (services(d).postgres as Json).volumes = []; }, /postgres: \/var\/lib\/postgresql\/data is not on a volume/],
    ["the load balancer not publishing 5223", (d) => { (services(d).lb as Json).ports = ["5222:5222", "5280:5280"]; }, /no load balancer/],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`rejects ${name}`, () => {
      const broken = clone(compose) as Json;
      expect(isObject(broken)).toBe(true);
      mutate(broken);
      expect(composeProblems(broken).join("\n")).toMatch(expected);
    });
  }
});

describe("infra/haproxy/haproxy.cfg", () => {
  it("sends each public port to the same port on DNS-discovered, ready edges", () => {
    expect(haproxyProblems(haproxyCfg)).toEqual([]);
  });

  it("rejects a backend pointing at the wrong edge port", () => {
    expect(haproxyProblems(haproxyCfg.replace("edge:5223", "edge:5222")).join("\n")).toMatch(/:5223 does not go to edge:5223/);
  });

  it("rejects a missing listener", () => {
    expect(haproxyProblems(haproxyCfg.replace("bind :5280", "bind :8080")).join("\n")).toMatch(/nothing binds :5280/);
  });

  it("rejects client ports without the PROXY header, and the HTTP port with one", () => {
    expect(haproxyProblems(haproxyCfg.replace("edge:5223 send-proxy-v2", "edge:5223")).join("\n")).toMatch(/:5223 does not send the PROXY header/);
    expect(haproxyProblems(haproxyCfg.replace("edge:5280", "edge:5280 send-proxy-v2")).join("\n")).toMatch(/:5280 sends a PROXY header/);
  });

  it("rejects health checks that ignore readiness", () => {
    const cfg = haproxyCfg.replaceAll("http-check send meth GET uri /readyz", "http-check send meth GET uri /healthz");
    expect(haproxyProblems(cfg)).toHaveLength(4); // every backend: 5222, 5223, 5280, 5443
  });
});
