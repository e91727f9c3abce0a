/**
 * The cluster a rolling run works on: one redis-server, one nats-server and N `--role edge`
 * processes sharing a certificate and the server secret (docs/deployment.md), each restartable
 * on its own ports — SIGTERM (drain) or kill -9 — while the others serve.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PinnedProcess, freePort, makeTempDir, portAccepts, selfSignedCertificate, waitUntil, withCleanupOnFailure } from "../servers/process.js";
import { importSwitchboardUsers, startSwitchboardNode, type SwitchboardNode } from "../servers/switchboard.js";
import { BENCH_DOMAIN } from "../servers/launcher.js";

export interface RollingClusterOptions {
  edges: number;
  users: number;
  userPrefix: string;
  password: string;
  /** shutdown.drainSeconds of every edge */
  drainSeconds: number;
  /** CPU core every process (edges, Redis, NATS) is pinned to with taskset; default: not pinned */
  core?: number;
  /** node ids are `${nodeIdPrefix}-${i}` (default "rolling-edge") */
  nodeIdPrefix?: string;
  /** extra environment of every edge (e.g. limits for a storm) */
  edgeEnv?: Record<string, string>;
}

export interface Edge {
  nodeId: string;
  node: SwitchboardNode;
  dataDir: string;
  /** output tails of its earlier processes, oldest first */
  earlier: string[];
}

export class RollingCluster {
  private constructor(
    readonly edges: Edge[],
    private readonly env: Record<string, string>,
    private readonly backends: PinnedProcess[],
    private readonly tmp: { path: string; remove(): void },
    private readonly log: (line: string) => void,
    /** the cluster's own redis-server (for INFO stats) */
    readonly redisPort: number,
    private readonly core: number | undefined,
  ) {}

  static async start(opts: RollingClusterOptions, log: (line: string) => void): Promise<RollingCluster> {
    const tmp = makeTempDir("sb-rolling-");
    const backends: PinnedProcess[] = [];
    const edges: Edge[] = [];
    const stopAll = async () => {
      for (const e of edges) await e.node.process.kill();
      for (const b of backends.reverse()) await b.stop();
      tmp.remove();
    };
    return withCleanupOnFailure([stopAll], async () => {
      const redisPort = await freePort();
      const redisDir = join(tmp.path, "redis");
      mkdirSync(redisDir);
      const redis = PinnedProcess.spawn("redis-server", "redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--dir", redisDir, "--save", "", "--appendonly", "no"], { core: opts.core });
      backends.push(redis);
      await waitUntil("redis-server", redis, 15_000, () => portAccepts(redisPort));
      const natsPort = await freePort();
      const nats = PinnedProcess.spawn("nats-server", "nats-server", ["-a", "127.0.0.1", "-p", String(natsPort)], { core: opts.core });
      backends.push(nats);
      await waitUntil("nats-server", nats, 15_000, () => portAccepts(natsPort));

      const { cert, key } = await selfSignedCertificate(tmp.path);
      const secret = randomBytes(32).toString("hex") + "\n";
      const env = {
        SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        SWITCHBOARD_NATS_URL: `nats://127.0.0.1:${natsPort}`,
        SWITCHBOARD_CLUSTER_PREFIX: "sb",
        SWITCHBOARD_DOMAIN: BENCH_DOMAIN,
        SWITCHBOARD_TLS_CERT: cert,
        SWITCHBOARD_TLS_KEY: key,
        SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: String(opts.drainSeconds),
        ...opts.edgeEnv,
      };
      await importSwitchboardUsers({ ...env, SWITCHBOARD_DATA_DIR: join(tmp.path, "import") }, opts.users, opts.userPrefix, opts.password);
      const cluster = new RollingCluster(edges, env, backends, tmp, log, redisPort, opts.core);
      for (let i = 1; i <= opts.edges; i++) {
        const dataDir = join(tmp.path, `edge-${i}`);
        mkdirSync(dataDir);
        writeFileSync(join(dataDir, "server-secret"), secret, { mode: 0o600 });
        const nodeId = `${opts.nodeIdPrefix ?? "rolling-edge"}-${i}`;
        edges.push({ nodeId, dataDir, earlier: [], node: await cluster.launch(nodeId, dataDir) });
        log(`${nodeId} up on port ${edges.at(-1)!.node.c2sPort}`);
      }
      return cluster;
    });
  }

  /**
   * Starts an edge (on `ports` when given: a restart keeps its ports). A port another process
   * took meanwhile — a free port is only free until someone binds it — is not a failure of the
   * run: the edge starts again on fresh ports (the balancer follows livePorts()), twice at most.
   */
  private async launch(nodeId: string, dataDir: string, ports?: SwitchboardNode["ports"]): Promise<SwitchboardNode> {
    // SB_ROLLING_LOG=info|debug: the edges log at that level and the run prints their logs
    const level = process.env.SB_ROLLING_LOG;
    for (let attempt = 1; ; attempt++) {
      try {
        return await startSwitchboardNode({
          label: nodeId,
          core: this.core,
          dataDir,
          role: "edge",
          ports: attempt === 1 ? ports : undefined,
          outputTailChars: level ? 4_000_000 : undefined,
          env: { ...this.env, SWITCHBOARD_NODE_ID: nodeId, SWITCHBOARD_LOG_LEVEL: level ?? "warn" },
        });
      } catch (err) {
        if (attempt >= 3 || !/is already in use/.test(String((err as Error).message))) throw err;
        this.log(`${nodeId}: a port was taken meanwhile; starting it on fresh ports`);
      }
    }
  }

  /** the c2s ports of the edges whose process runs */
  livePorts(): number[] {
    return this.edges.filter((e) => e.node.process.running).map((e) => e.node.c2sPort);
  }

  /** Redis and NATS, labelled (they are not restarted) */
  backendPids(): Array<{ label: string; pid: number }> {
    return this.backends.filter((b) => b.running).map((b) => ({ label: b.label, pid: b.pid }));
  }

  /** SIGTERM: how long the drain took and the exit code. */
  async terminate(i: number): Promise<{ ms: number; code: number | null }> {
    const started = Date.now();
    const code = await this.edges[i]!.node.process.terminate();
    return { ms: Date.now() - started, code };
  }

  async kill(i: number): Promise<void> {
    await this.edges[i]!.node.process.kill();
  }

  /** The same node id, data and ports again (an upgraded build would start here). */
  async relaunch(i: number): Promise<number> {
    const started = Date.now();
    const edge = this.edges[i]!;
    edge.earlier.push(edge.node.process.output);
    edge.node = await this.launch(edge.nodeId, edge.dataDir, edge.node.ports);
    return Date.now() - started;
  }

  /** the output tails of an edge's processes, earlier ones first (for a failure report) */
  output(i: number): string {
    const edge = this.edges[i]!;
    return [...edge.earlier, edge.node.process.output].join("--- (restarted)\n");
  }

  async stop(): Promise<void> {
    for (const e of this.edges) await e.node.process.stop(5_000);
    for (const b of [...this.backends].reverse()) await b.stop();
    this.tmp.remove();
  }
}
