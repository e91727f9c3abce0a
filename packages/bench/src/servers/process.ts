/**
 * Child processes for the servers under test: pinned to one CPU core with taskset, with the
 * file-descriptor soft limit raised to the hard limit, stopped with SIGTERM (then SIGKILL after a
 * grace period). `sh -c '…; exec "$@"'` and taskset both exec, so the PID we hold is the server
 * process itself (node, beam.smp, redis-server, nats-server), which is what RSS is read from.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class ServerStartError extends Error {
  override name = "ServerStartError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Keep only the end of a process's output: enough to explain a failure, bounded in memory. */
const OUTPUT_TAIL_CHARS = 8_000;

export interface PinnedProcessOptions {
  /** CPU core for taskset -c; undefined: not pinned */
  core?: number;
  env?: Record<string, string>;
  cwd?: string;
  /** how much of the output's end to keep (default OUTPUT_TAIL_CHARS) */
  outputTailChars?: number;
}

export class PinnedProcess {
  private outputTail = "";
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    tailChars = OUTPUT_TAIL_CHARS,
  ) {
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString("utf8")).slice(-tailChars);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      });
      child.once("error", (err) => {
        keep(Buffer.from(String(err)));
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  static spawn(label: string, command: string, args: string[], opts: PinnedProcessOptions = {}): PinnedProcess {
    const pin = opts.core === undefined ? [] : ["taskset", "-c", String(opts.core)];
    // Raise the fd soft limit to the hard one: thousands of client sockets per server process.
    const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
    const child = spawn("sh", ["-c", script, "sh", ...pin, command, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new PinnedProcess(label, child, opts.outputTailChars);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new ServerStartError(`${this.label}: not started: ${this.output}`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get output(): string {
    return this.outputTail;
  }

  /** kill -9, and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM and the exit code, without escalating (a drain that must finish by itself). */
  async terminate(): Promise<number | null> {
    if (this.running) this.child.kill("SIGTERM");
    return this.exited;
  }

  /** SIGTERM, then SIGKILL when the process has not exited after graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns true; fail early when the process died, or at the deadline. */
export async function waitUntil(what: string, proc: PinnedProcess | undefined, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !proc.running) throw new ServerStartError(`${proc.label} exited while waiting for ${what}:\n${proc.output}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new ServerStartError(`${what}: not after ${timeoutMs} ms${proc ? `\n${proc.output}` : ""}`);
    await sleep(100);
  }
}

export function portAccepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

export async function httpStatus(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status;
}

/** Run a command to completion with optional stdin; reject with its output on a non-zero exit. */
export function runCommand(command: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.once("error", (err) => (clearTimeout(timer), reject(new ServerStartError(`${command}: ${err.message}`, { cause: err }))));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new ServerStartError(`${command} ${args.join(" ")} exited with ${code ?? signal}:\n${out.slice(-4000)}`));
    });
    // A command that exits without reading its input (openssl) makes the write fail with EPIPE:
    // its exit code says what happened, not an unhandled stream error.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

export function makeTempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A self-signed P-256 certificate for localhost and 127.0.0.1 (both servers use one). */
export async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  await runCommand("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert,
  ]);
  return { cert, key };
}

/** Run `body`; if it throws, run every cleanup (newest first), then rethrow. */
export async function withCleanupOnFailure<T>(cleanups: Array<() => unknown>, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    for (const cleanup of [...cleanups].reverse()) await Promise.resolve(cleanup()).catch(() => {});
    throw err;
  }
}
