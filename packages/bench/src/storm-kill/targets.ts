/**
 * The servers a storm-kill run takes down: what the run needs of each is where clients connect,
 * which processes to kill -9 at once and start again, their PIDs now (for peak RSS), their
 * /metrics (event-loop lag) and the Redis whose commands are counted.
 * - `switchboard-2edges`: two `--role edge` processes over their own redis-server and
 *   nats-server (rolling/cluster.ts), every process pinned to the server core as in
 *   `pnpm bench compare`; both edges are killed, Redis and NATS stay up (they are the state that
 *   must outlive an edge), and each edge restarts with its node id, data dir and ports;
 * - `ejabberd`: the private Debian ejabberd of servers/ejabberd.ts, one BEAM on the server core,
 *   killed and restarted on its node name, port and Mnesia spool.
 */
import { RollingCluster } from "../rolling/cluster.js";
import { launchEjabberd } from "../servers/ejabberd.js";
import { BENCH_DOMAIN, DEFAULT_PASSWORD, DEFAULT_USER_PREFIX } from "../servers/launcher.js";

export type StormTargetName = "switchboard-2edges" | "ejabberd";
export const STORM_TARGETS: readonly StormTargetName[] = ["switchboard-2edges", "ejabberd"];

export interface StormTarget {
  name: StormTargetName;
  version: string;
  endpoints: Array<{ host: string; port: number }>;
  domain: string;
  userPrefix: string;
  password: string;
  /** the processes that get killed, labelled, as they are now */
  processes(): Array<{ label: string; pid: number }>;
  /** processes that are not killed but whose peak RSS is reported too (Redis, NATS) */
  backendPids(): Array<{ label: string; pid: number }>;
  metricsUrls(): string[];
  redisPort: number | undefined;
  /** before the kill: whatever a long-running server would have written by then */
  settle(): Promise<void>;
  killAll(): Promise<void>;
  restartAll(): Promise<void>;
  stop(): Promise<void>;
  /** output of the server processes, for a failure report */
  output(): string;
}

export interface StormTargetOptions {
  users: number;
  core: number | undefined;
  log: (line: string) => void;
}

export async function startStormTarget(name: StormTargetName, opts: StormTargetOptions): Promise<StormTarget> {
  return name === "ejabberd" ? startEjabberdTarget(opts) : startClusterTarget(opts);
}

async function startClusterTarget(opts: StormTargetOptions): Promise<StormTarget> {
  const cluster = await RollingCluster.start(
    { edges: 2, users: opts.users, userPrefix: DEFAULT_USER_PREFIX, password: DEFAULT_PASSWORD, drainSeconds: 5, core: opts.core, nodeIdPrefix: "storm-edge" },
    opts.log,
  );
  const edges = cluster.edges;
  const ports = edges.map((e) => e.node.c2sPort);
  return {
    name: "switchboard-2edges",
    version: `switchboard 2 edges + redis + nats (node ${process.version})`,
    endpoints: edges.map((e) => ({ host: "127.0.0.1", port: e.node.c2sPort })),
    domain: BENCH_DOMAIN,
    userPrefix: DEFAULT_USER_PREFIX,
    password: DEFAULT_PASSWORD,
    processes: () => edges.map((e) => ({ label: e.nodeId, pid: e.node.process.pid })),
    backendPids: () => cluster.backendPids(),
    metricsUrls: () => edges.map((e) => `http://127.0.0.1:${e.node.httpPort}/metrics`),
    redisPort: cluster.redisPort,
    settle: async () => undefined,
    killAll: async () => void (await Promise.all(edges.map((_, i) => cluster.kill(i)))),
    restartAll: async () => {
      await Promise.all(edges.map((_, i) => cluster.relaunch(i)));
      const moved = edges.filter((e, i) => e.node.c2sPort !== ports[i]);
      if (moved.length > 0) throw new Error(`${moved.map((e) => e.nodeId).join(", ")} restarted on other ports (theirs were taken): the clients cannot follow`);
    },
    stop: () => cluster.stop(),
    output: () => edges.map((_, i) => `--- ${edges[i]!.nodeId}\n${cluster.output(i)}`).join("\n"),
  };
}

async function startEjabberdTarget(opts: StormTargetOptions): Promise<StormTarget> {
  const ej = await launchEjabberd({ users: opts.users, core: opts.core ?? 0 });
  const t = ej.server.target;
  return {
    name: "ejabberd",
    version: ej.server.version,
    endpoints: t.endpoints,
    domain: t.domain,
    userPrefix: t.userPrefix,
    password: t.password,
    processes: () => [{ label: "ejabberd", pid: ej.pid() }],
    backendPids: () => [],
    metricsUrls: () => [],
    redisPort: undefined,
    // accounts registered a moment ago may still be only in Mnesia's log; a server that has run
    // for a while has them in its tables, which is the case to measure
    settle: () => ej.dumpLog(),
    killAll: () => ej.kill(),
    restartAll: () => ej.restart(),
    stop: () => ej.server.stop(),
    output: () => "",
  };
}
