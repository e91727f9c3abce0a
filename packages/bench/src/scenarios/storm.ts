/**
 * storm: N clients log in at once (a reconnect storm after a restart), with at most
 * `concurrency` handshakes in flight from the load generator and one overall deadline.
 */
import { closeAll, every, loginMany, throwIfAborted, type RunOptions } from "../pool.js";
import { round, serverCpuMs } from "../stats.js";
import type { StormResult, StormSpec, Target } from "../types.js";

export async function runStorm(target: Target, spec: StormSpec, run: RunOptions): Promise<StormResult> {
  const log = run.log ?? (() => undefined);
  let online = 0;
  const stopProgress = every(1000, () => log(`storm: ${online}/${spec.clients} online`));
  const cpuBefore = serverCpuMs(target.serverPids);
  const outcome = await loginMany(target, spec.clients, spec.concurrency, run, {
    deadlineMs: spec.timeoutSeconds * 1000,
    onProgress: (n) => (online = n),
  }).finally(stopProgress);
  try {
    throwIfAborted(run.signal);
    const seconds = outcome.elapsedMs / 1000;
    const cpuAfter = serverCpuMs(target.serverPids);
    const serverCpuMsPerLogin =
      cpuBefore !== undefined && cpuAfter !== undefined && outcome.clients.length > 0
        ? round((cpuAfter - cpuBefore) / outcome.clients.length, 3)
        : undefined;
    return {
      scenario: "storm",
      clients: spec.clients,
      succeeded: outcome.clients.length,
      loginsPerSecond: seconds > 0 ? round(outcome.clients.length / seconds, 1) : 0,
      // when the last successful login completed (equals the whole storm when all succeed)
      secondsUntilAllOnline: round(outcome.lastSuccessMs / 1000, 3),
      ...(serverCpuMsPerLogin === undefined ? {} : { serverCpuMsPerLogin }),
      failures: outcome.failures,
    };
  } finally {
    await closeAll(outcome.clients);
  }
}
