/** Facts about the machine and the software, recorded with every result file. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineFacts {
  date: string;
  nproc: number;
  cpuModel: string;
  memTotalBytes: number;
  kernel: string;
  node: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  fdLimit: string | null;
}

function tryExec(cmd: string, args: string[], cwd?: string): string | null {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

export function machineFacts(repoRoot: string): MachineFacts {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() is good enough
  }
  const status = tryExec("git", ["status", "--porcelain"], repoRoot);
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel,
    memTotalBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    gitCommit: tryExec("git", ["rev-parse", "HEAD"], repoRoot),
    gitDirty: status === null ? null : status.length > 0,
    fdLimit: tryExec("prlimit", ["--nofile", "--pid", String(process.pid), "--output", "SOFT,HARD", "--noheadings"]),
  };
}

/**
 * Pin this process (every thread: -a) to the load generator's core, and raise its fd soft limit
 * to the hard one so it can hold thousands of client sockets without a re-exec.
 */
export function pinLoadGenerator(core: number): { pinned: boolean; fdRaised: boolean } {
  const pinned = tryExec("taskset", ["-a", "-cp", String(core), String(process.pid)]) !== null;
  const hard = tryExec("sh", ["-c", "ulimit -Hn"]);
  const fdRaised = hard !== null && tryExec("prlimit", [`--pid=${process.pid}`, `--nofile=${hard}:${hard}`]) !== null;
  return { pinned, fdRaised };
}
