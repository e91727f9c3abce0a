/**
 * Real Redis and NATS processes for cluster and fault tests, on free loopback ports, each with
 * its own directory so a test can kill and restart them. Redis runs with the durability settings
 * the deployment uses (AOF, fsync always), so a restart keeps what was accepted.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@switchboard/bench";

/** A free loopback port (shared with the benchmark launchers). */
export { freePort };

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends a signal and resolves once the process has exited (at once if it already has). */
export async function signalAndWait(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill(signal);
  return exited;
}

function requireBinary(name: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not installed (apt-get install ${name === "nats-server" ? "nats-server" : "redis-server"}); .ci/run installs it`);
  }
}

/** Children still running when the test process exits are killed, even after a failed hook. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

abstract class ManagedProcess {
  protected child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "sb-proc-"));
  constructor(readonly port: number) {}
  protected abstract command(): [string, string[]];

  async start(): Promise<void> {
    const [cmd, args] = this.command();
    requireBinary(cmd);
    this.child = track(spawn(cmd, args, { stdio: "ignore", cwd: this.dir }));
    await waitForPort(this.port);
  }

  /** SIGKILL: the process dies without any goodbye */
  async kill(): Promise<void> {
    await signalAndWait(this.child, "SIGKILL");
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RedisProcess extends ManagedProcess {
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  protected command(): [string, string[]] {
    return ["redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"]];
  }
  static async create(): Promise<RedisProcess> {
    const p = new RedisProcess(await freePort());
    await p.start();
    return p;
  }
}

export class NatsProcess extends ManagedProcess {
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  protected command(): [string, string[]] {
    return ["nats-server", ["-a", "127.0.0.1", "-p", String(this.port)]];
  }
  static async create(): Promise<NatsProcess> {
    const p = new NatsProcess(await freePort());
    await p.start();
    return p;
  }
}
