/**
 * The parent's side of the loader processes: spawn them (each with the descriptor soft limit
 * raised to the hard one, optionally pinned to the load generator's core), hand each its slice,
 * keep the latest progress of each, and sum it. Every child is killed when the group is
 * stopped; they also exit by themselves when the parent disappears (loader.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "../servers/switchboard.js";
import type { LoaderConfig, LoaderMessage, LoaderProgress, ParentMessage } from "./protocol.js";

const LOADER_MAIN = fileURLToPath(new URL("./loader.ts", import.meta.url));

interface Loader {
  child: ChildProcess;
  progress: LoaderProgress;
  ready: boolean;
  armed: boolean;
  exited: Promise<void>;
  error?: string;
  output: string;
}

const EMPTY: LoaderProgress = { online: 0, dropped: 0, recovered: 0, lastRecoveredAt: 0, attempts: 0, failures: {}, samples: {}, gaveUp: 0 };

export class LoaderGroup {
  private constructor(private readonly loaders: Loader[]) {}

  /** One process per slice; `base` without first/count. */
  static spawn(slices: Array<{ first: number; count: number }>, base: Omit<LoaderConfig, "first" | "count">, core: number | undefined): LoaderGroup {
    const loaders = slices.map((slice) => {
      const pin = core === undefined ? [] : ["taskset", "-c", String(core)];
      const child = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', "sh", ...pin, process.execPath, "--conditions=source", "--import", "tsx", LOADER_MAIN], {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      const loader: Loader = { child, progress: EMPTY, ready: false, armed: false, output: "", exited: new Promise((r) => child.once("exit", () => r())) };
      const keep = (chunk: Buffer) => (loader.output = (loader.output + chunk.toString()).slice(-4000));
      child.stdout!.on("data", keep);
      child.stderr!.on("data", keep);
      child.on("message", (msg: LoaderMessage) => {
        if (msg.type === "progress" || msg.type === "ready") {
          const { type, ...progress } = msg;
          loader.progress = progress;
          if (type === "ready") loader.ready = true;
        } else if (msg.type === "armed") loader.armed = true;
        else if (msg.type === "error") loader.error = msg.message;
      });
      child.send({ type: "start", config: { ...base, ...slice } } satisfies ParentMessage);
      return loader;
    });
    return new LoaderGroup(loaders);
  }

  get pids(): number[] {
    return this.loaders.map((l) => l.child.pid!).filter((p) => p !== undefined);
  }

  /** the sum of the loaders' latest progress; lastRecoveredAt the latest of them */
  total(): LoaderProgress {
    const sum: LoaderProgress = { ...EMPTY, failures: {}, samples: {} };
    for (const { progress: p } of this.loaders) {
      sum.online += p.online;
      sum.dropped += p.dropped;
      sum.recovered += p.recovered;
      sum.attempts += p.attempts;
      sum.gaveUp += p.gaveUp;
      sum.lastRecoveredAt = Math.max(sum.lastRecoveredAt, p.lastRecoveredAt);
      for (const [k, n] of Object.entries(p.failures)) sum.failures[k] = (sum.failures[k] ?? 0) + n;
      for (const [k, xs] of Object.entries(p.samples)) sum.samples[k] = [...(sum.samples[k] ?? []), ...xs].slice(0, 5);
    }
    return sum;
  }

  get allReady(): boolean {
    return this.loaders.every((l) => l.ready);
  }

  /** a loader that died or reported an error, as a message; undefined while all are well */
  problem(): string | undefined {
    for (const [i, l] of this.loaders.entries()) {
      if (l.error) return `loader ${i}: ${l.error}`;
      if (l.child.exitCode !== null || l.child.signalCode !== null) return `loader ${i} exited (${l.child.exitCode ?? l.child.signalCode}): ${l.output}`;
    }
    return undefined;
  }

  /** Resets every loader's storm counters; resolves once all of them said so. */
  async arm(timeoutMs = 10_000): Promise<void> {
    for (const l of this.loaders) {
      l.armed = false;
      l.child.send({ type: "arm" } satisfies ParentMessage);
    }
    const deadline = Date.now() + timeoutMs;
    while (!this.loaders.every((l) => l.armed)) {
      const problem = this.problem();
      if (problem) throw new Error(problem);
      if (Date.now() > deadline) throw new Error(`loaders not armed after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // the progress they sent before the reset must not count: wait for one after it
    for (const l of this.loaders) l.progress = { ...l.progress, dropped: 0, recovered: 0, lastRecoveredAt: 0, attempts: 0, failures: {}, samples: {}, gaveUp: 0 };
  }

  /** "stop", then SIGKILL whatever has not exited after graceMs. */
  async stop(graceMs = 10_000): Promise<void> {
    for (const l of this.loaders) if (l.child.connected) l.child.send({ type: "stop" } satisfies ParentMessage);
    const timer = setTimeout(() => {
      for (const l of this.loaders) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill("SIGKILL");
    }, graceMs);
    await Promise.all(this.loaders.map((l) => l.exited));
    clearTimeout(timer);
  }
}
