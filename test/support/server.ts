/**
 * Starts a real Switchboard for protocol tests, exactly as `switchboard start` would (same
 * config loader, same wiring), on free loopback ports with its own data dir.
 *
 * SB_TEST_MODE=cluster runs the same suite against two nodes (roles "edge,muc") sharing Redis and
 * NATS (backends.ts picks env URLs, testcontainers or local processes); `connect()` alternates
 * edges, so the two parties of a two-party test sit on different edges.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveCredentials } from "@switchboard/sasl";
import { createLogger, loadConfig, startServer, type DeepPartial, type RunningServer, type SwitchboardConfig } from "@switchboard/server";
import { startBackends, type TestBackends } from "./backends.js";

export type TestMode = "embedded" | "cluster";

export const TEST_MODE: TestMode = process.env.SB_TEST_MODE === "cluster" ? "cluster" : "embedded";

export interface TestServer {
  mode: TestMode;
  /** the first (or only) node */
  server: RunningServer;
  /** every node: one when embedded, two edges in cluster mode */
  nodes: RunningServer[];
  config: SwitchboardConfig;
  backends?: TestBackends;
  dataDir: string;
  domain: string;
  /** the node the next client should use (round-robin over nodes) */
  nextNode(): RunningServer;
  addUser(local: string, password?: string): Promise<string>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** stops and starts every node again on the same data (new ports) */
  restart(): Promise<void>;
}

export async function startTestServer(
  overrides: DeepPartial<SwitchboardConfig> = {},
  opts: {
    mode?: TestMode;
    localBackends?: boolean;
    /** the OTEL_* variables the nodes read instead of process.env */
    env?: NodeJS.ProcessEnv;
    /** settings of one node (by index) over `overrides`: ports that cannot be 0 (http.tlsPort) */
    perNode?: (index: number) => DeepPartial<SwitchboardConfig> | Promise<DeepPartial<SwitchboardConfig>>;
  } = {},
): Promise<TestServer> {
  const mode = opts.mode ?? TEST_MODE;
  const dir = mkdtempSync(join(tmpdir(), "sb-test-"));
  const backends = mode === "cluster" ? await startBackends({ local: opts.localBackends }) : undefined;
  const nodeCount = mode === "cluster" ? 2 : 1;
  const nodeOverrides = await Promise.all(Array.from({ length: nodeCount }, (_, i) => opts.perNode?.(i) ?? {}));
  const configs = Array.from({ length: nodeCount }, (_, i) =>
    loadConfig({
      env: {},
      overrides: deepMerge<DeepPartial<SwitchboardConfig>>({
        domain: "localhost",
        dataDir: dir,
        bind: "127.0.0.1",
        c2s: { port: 0, tlsPort: 0 },
        s2s: { port: 0 },
        log: { level: (process.env.SB_TEST_LOG as never) ?? "silent", format: "json" },
        ...(backends
          ? { role: "edge,muc" as const, redisUrl: backends.redisUrl, natsUrl: backends.natsUrl, postgresUrl: backends.postgresUrl, clusterPrefix: backends.prefix, nodeId: `edge${i}-${backends.prefix}` }
          : {}),
        ...overrides,
        // http.tlsPort 0 is "off" (not "any port"): tests that want HTTPS give each node a free port
        http: { port: 0, tlsPort: 0, ...overrides.http },
      }, nodeOverrides[i]!),
    }),
  );
  const log = createLogger(configs[0]!.log);
  const startAll = async () => {
    const nodes: RunningServer[] = [];
    try {
      for (const cfg of configs) nodes.push(await startServer(cfg, log, { env: opts.env }));
      for (const node of nodes) await waitReady(node);
    } catch (err) {
      // whatever did start must not outlive the failure (ports, redis/nats processes)
      for (const node of nodes) await node.stop().catch(() => {});
      throw err;
    }
    return nodes;
  };
  let next = 0;
  let nodes: RunningServer[];
  try {
    nodes = await startAll();
  } catch (err) {
    await backends?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const ts: TestServer = {
    mode,
    server: nodes[0]!,
    nodes,
    config: configs[0]!,
    backends,
    dataDir: dir,
    domain: configs[0]!.domain,
    nextNode() {
      return ts.nodes[next++ % ts.nodes.length]!;
    },
    async addUser(local, password = "secret") {
      const bare = `${local}@${ts.domain}`;
      await ts.server.host.store.accounts.create(bare, deriveCredentials(password, { iterations: 256 }));
      return bare;
    },
    async stop(o = {}) {
      for (const n of ts.nodes) await n.stop();
      await backends?.stop();
      if (!o.keepData) rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      for (const n of ts.nodes) await n.stop();
      ts.nodes = await startAll();
      ts.server = ts.nodes[0]!;
    },
  };
  return ts;
}

/** `over` on top of `base`, mapping by mapping (arrays and values replace). */
function deepMerge<T>(base: T, over: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b) ? deepMerge(b, v as never) : v;
  }
  return out as T;
}

async function waitReady(node: RunningServer, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = await node.notReadyReason();
    if (!reason) return;
    if (Date.now() > deadline) throw new Error(`node not ready after ${timeoutMs} ms: ${reason}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
