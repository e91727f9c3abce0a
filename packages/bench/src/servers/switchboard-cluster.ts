/**
 * Switchboard as a cluster: two `--role edge` processes over their own redis-server and
 * nats-server. Every process (both edges, Redis, NATS) is pinned to the SAME core, so the
 * comparison with the single node and with ejabberd stays "per core": this measures the cost of
 * the cluster hops (Redis registry/store, NATS bus), not a gain from more CPUs.
 *
 * Redis runs without persistence (`--save '' --appendonly no`): a benchmark needs no durability,
 * and fsync on every write would measure the disk. Production uses AOF with `appendfsync always`
 * (docs/deployment.md), so real clusters pay more on writes (logins, roster, offline) than here.
 *
 * For the muc scenario (`muc: true`) both edges also run the muc role (`--role edge,muc`) with the
 * benchmark's MUC limits; the room's occupants are spread over both edges (round-robin).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PinnedProcess, freePort, makeTempDir, portAccepts, selfSignedCertificate, waitUntil, withCleanupOnFailure } from "./process.js";
import { importSwitchboardUsers, mucBenchEnv, startSwitchboardNode, type SwitchboardNode } from "./switchboard.js";
import { BENCH_DOMAIN, DEFAULT_PASSWORD, DEFAULT_USER_PREFIX, type LaunchOptions, type LaunchedServer } from "./launcher.js";

const EDGE_COUNT = 2;

async function startBackend(label: string, core: number, command: string, args: (port: number) => string[], cwd: string): Promise<{ proc: PinnedProcess; port: number }> {
  const port = await freePort();
  const proc = PinnedProcess.spawn(label, command, args(port), { core, cwd });
  await withCleanupOnFailure([() => proc.stop()], () => waitUntil(`${label} on port ${port}`, proc, 15_000, () => portAccepts(port)));
  return { proc, port };
}

export async function startSwitchboardCluster(opts: LaunchOptions): Promise<LaunchedServer> {
  const core = opts.core ?? 0;
  const prefix = opts.userPrefix ?? DEFAULT_USER_PREFIX;
  const password = opts.password ?? DEFAULT_PASSWORD;
  const tmp = makeTempDir("sb-bench-cluster-");
  const processes: PinnedProcess[] = [];
  const stopAll = async () => {
    // edges first (they drain), then the bus and the store they were using
    for (const p of [...processes].reverse()) await p.stop();
    tmp.remove();
  };

  return withCleanupOnFailure([stopAll], async () => {
    const redisDir = join(tmp.path, "redis");
    mkdirSync(redisDir);
    const redis = await startBackend("redis-server", core, "redis-server", (port) => ["--port", String(port), "--bind", "127.0.0.1", "--dir", redisDir, "--save", "", "--appendonly", "no"], redisDir);
    processes.push(redis.proc);
    const nats = await startBackend("nats-server", core, "nats-server", (port) => ["-a", "127.0.0.1", "-p", String(port)], tmp.path);
    processes.push(nats.proc);

    // Every edge must present the same certificate and share the server secret (docs/deployment.md).
    const { cert, key } = await selfSignedCertificate(tmp.path);
    const secret = randomBytes(32).toString("hex") + "\n";
    const clusterEnv = {
      SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      SWITCHBOARD_NATS_URL: `nats://127.0.0.1:${nats.port}`,
      // The default prefix ("sb") on purpose: `switchboard user import` ignores clusterPrefix today
      // and always writes sb:* keys, so any other prefix leaves the edges without accounts.
      SWITCHBOARD_CLUSTER_PREFIX: "sb",
      SWITCHBOARD_DOMAIN: BENCH_DOMAIN,
      SWITCHBOARD_TLS_CERT: cert,
      SWITCHBOARD_TLS_KEY: key,
    };
    // With SWITCHBOARD_REDIS_URL set the CLI writes the accounts to Redis.
    await importSwitchboardUsers({ ...clusterEnv, SWITCHBOARD_DATA_DIR: join(tmp.path, "import") }, opts.users, prefix, password);

    const edges: SwitchboardNode[] = [];
    for (let i = 1; i <= EDGE_COUNT; i++) {
      const dataDir = join(tmp.path, `edge-${i}`);
      mkdirSync(dataDir);
      writeFileSync(join(dataDir, "server-secret"), secret, { mode: 0o600 });
      const edge = await startSwitchboardNode({
        label: `edge-${i}`,
        core,
        dataDir,
        role: opts.muc ? "edge,muc" : "edge",
        env: { ...clusterEnv, ...(opts.muc ? mucBenchEnv() : {}), SWITCHBOARD_NODE_ID: `bench-edge-${i}` },
      });
      processes.push(edge.process);
      edges.push(edge);
    }

    return {
      target: {
        name: "switchboard-2edges",
        endpoints: edges.map((e) => ({ host: "127.0.0.1", port: e.c2sPort })),
        domain: BENCH_DOMAIN,
        userPrefix: prefix,
        password,
        serverPids: [...edges.map((e) => e.process.pid), redis.proc.pid, nats.proc.pid],
        tls: true,
      },
      version: `switchboard 2 edges${opts.muc ? " (edge,muc)" : ""} + redis + nats (node ${process.version})`,
      stop: stopAll,
    };
  });
}
