/**
 * A cluster node in its own OS process, started exactly as an operator would
 * (`switchboard start --role edge` with SWITCHBOARD_* variables; another role list with
 * `role`), so a test can kill -9 it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, signalAndWait, track } from "./processes.js";

const ROOT = resolve(import.meta.dirname, "../..");

export class EdgeProcess {
  private child?: ChildProcess;
  output = "";
  /** its own, unless the test shares one between edges (then the test removes it) */
  readonly dataDir: string;
  private readonly ownsDataDir: boolean;

  private constructor(
    readonly nodeId: string,
    readonly ports: { c2s: number; c2sTls: number; http: number },
    private readonly env: Record<string, string>,
    dataDir?: string,
    private readonly role = "edge",
  ) {
    this.ownsDataDir = dataDir === undefined;
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), "sb-edge-"));
  }

  /**
   * Starts a node on free ports. A port is only free until someone binds it, and other suites
   * pick ports too: a node that finds one taken starts again on fresh ones (three tries).
   */
  static async start(opts: { nodeId: string; redisUrl: string; natsUrl: string; prefix: string; env?: Record<string, string>; dataDir?: string; role?: string }): Promise<EdgeProcess> {
    for (let attempt = 1; ; attempt++) {
      const ports = { c2s: await freePort(), c2sTls: await freePort(), http: await freePort() };
      const edge = new EdgeProcess(opts.nodeId, ports, {
        SWITCHBOARD_NODE_ID: opts.nodeId,
        SWITCHBOARD_REDIS_URL: opts.redisUrl,
        SWITCHBOARD_NATS_URL: opts.natsUrl,
        SWITCHBOARD_CLUSTER_PREFIX: opts.prefix,
        SWITCHBOARD_C2S_PORT: String(ports.c2s),
        SWITCHBOARD_C2S_TLS_PORT: String(ports.c2sTls),
        SWITCHBOARD_HTTP_PORT: String(ports.http),
        SWITCHBOARD_HTTP_TLS_PORT: "0",
        SWITCHBOARD_S2S_PORT: "0",
        SWITCHBOARD_BIND: "127.0.0.1",
        SWITCHBOARD_LOG_LEVEL: process.env.SB_TEST_LOG ?? "info",
        SWITCHBOARD_LOG_FORMAT: "json",
        ...opts.env,
      }, opts.dataDir, opts.role);
      try {
        await edge.launch();
        return edge;
      } catch (err) {
        if (attempt >= 3 || !/is already in use/.test(edge.output)) throw err;
        if (edge.ownsDataDir) rmSync(edge.dataDir, { recursive: true, force: true });
      }
    }
  }

  async launch(): Promise<void> {
    this.output = "";
    // One OS process (node with the tsx loader, not the tsx CLI, which would fork a child that
    // survives a kill -9 of its parent).
    this.child = track(spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "packages/cli/src/main.ts"), "start", "--role", this.role], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, SWITCHBOARD_DATA_DIR: this.dataDir, SWITCHBOARD_CONFIG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    }));
    this.child.stdout!.on("data", (d) => (this.output += d));
    this.child.stderr!.on("data", (d) => (this.output += d));
    await this.waitReady();
  }

  async readyz(): Promise<{ status: number; body: string }> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.ports.http}/readyz`);
      return { status: res.status, body: await res.text() };
    } catch (err) {
      return { status: 0, body: String(err) };
    }
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`edge ${this.nodeId} exited: ${this.output.slice(-2000)}`);
      if ((await this.readyz()).status === 200) return;
      if (Date.now() > deadline) throw new Error(`edge ${this.nodeId} not ready after ${timeoutMs} ms: ${(await this.readyz()).body}\n${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** kill -9: no goodbye, no cleanup */
  async kill(): Promise<void> {
    await signalAndWait(this.child, "SIGKILL");
  }

  /** SIGTERM: drain and stop */
  terminate(): Promise<number | null> {
    return signalAndWait(this.child, "SIGTERM");
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
