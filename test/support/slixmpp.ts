/**
 * Running Debian's python3-slixmpp (a client not written here) from a protocol test: which
 * interpreter has it, and one script run with its output collected. Tests skip, saying so, on a
 * machine without it (.ci/run installs it; the README's quick start needs only Node).
 */
import { spawn, spawnSync } from "node:child_process";

/**
 * The first interpreter that imports `modules` (default slixmpp); Debian's first, as a python3
 * earlier on PATH (pyenv) lacks the apt package. Undefined, with a warning naming `test`, when none.
 */
export function slixmppPython(test: string, modules = "slixmpp"): string | undefined {
  const python = ["/usr/bin/python3", "python3"].find((bin) => spawnSync(bin, ["-c", `import ${modules}`], { stdio: "ignore" }).status === 0);
  if (!python) console.warn(`${test}: python3 with ${modules} not installed (apt install python3-slixmpp); skipped`);
  return python;
}

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` with `args` under `python`, killed after `timeoutMs`. */
export function runPython(python: string, script: string, args: string[], timeoutMs = 90_000): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
