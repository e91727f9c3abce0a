/**
 * Starts a real embedded Switchboard on free loopback ports with its own temporary data dir,
 * exactly as `switchboard start` would (same config loader, same wiring).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deriveCredentials } from "@switchboard/sasl";
import { createLogger, loadConfig, startServer, type DeepPartial, type RunningServer, type SwitchboardConfig } from "@switchboard/server";

export interface TestServer {
  server: RunningServer;
  config: SwitchboardConfig;
  dataDir: string;
  domain: string;
  addUser(local: string, password?: string): Promise<string>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** stops and starts again on the same data dir (new ports) */
  restart(): Promise<void>;
}

export async function startTestServer(overrides: DeepPartial<SwitchboardConfig> = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "sb-test-"));
  const config = loadConfig({
    env: {},
    overrides: {
      domain: "localhost",
      dataDir: dir,
      bind: "127.0.0.1",
      c2s: { port: 0, tlsPort: 0 },
      http: { port: 0 },
      log: { level: (process.env.SB_TEST_LOG as never) ?? "silent", format: "json" },
      ...overrides,
    },
  });
  const log = createLogger(config.log);
  const ts: TestServer = {
    server: await startServer(config, log),
    config,
    dataDir: dir,
    domain: config.domain,
    async addUser(local, password = "secret") {
      const bare = `${local}@${config.domain}`;
      await ts.server.host.store.accounts.create(bare, deriveCredentials(password, { iterations: 256 }));
      return bare;
    },
    async stop(opts = {}) {
      await ts.server.stop();
      if (!opts.keepData && !dataDir) rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await ts.server.stop();
      ts.server = await startServer(config, log);
    },
  };
  return ts;
}
