/**
 * idle: ramp to N authenticated, bound, available connections and hold them. Measures what an
 * idle session costs the server: RSS delta over the ramp divided by the connections online.
 */
import type { LoadClient } from "../client.js";
import { failureKindOf } from "../errors.js";
import { closeAll, connectUser, every, pace, sleep, throwIfAborted, type RunOptions } from "../pool.js";
import { countFailure, round, serverRssBytes } from "../stats.js";
import type { Failures, IdleResult, IdleSpec, Target } from "../types.js";

export async function runIdle(target: Target, spec: IdleSpec, run: RunOptions): Promise<IdleResult> {
  const log = run.log ?? (() => undefined);
  const failures: Failures = {};
  const clients = new Set<LoadClient>();
  const onClose = (err: { kind: string }, client: LoadClient) => {
    clients.delete(client);
    countFailure(failures, `dropped:${err.kind}`);
  };
  const rssBeforeBytes = serverRssBytes(target.serverPids);
  const started = performance.now();
  let lastOnlineMs = 0;
  let nextIndex = 0;
  const attempts: Promise<void>[] = [];
  const stopProgress = every(1000, () => log(`idle: ${clients.size}/${spec.connections} online`));
  try {
    await pace({
      rate: spec.rampPerSecond,
      total: spec.connections,
      signal: run.signal,
      emit: (n) => {
        for (let k = 0; k < n; k++) {
          const attempt = connectUser(target, nextIndex++, run, { onClose }).then(
            (client) => {
              clients.add(client);
              lastOnlineMs = performance.now() - started;
            },
            (err: unknown) => countFailure(failures, failureKindOf(err)),
          );
          attempts.push(attempt);
        }
      },
    });
    await Promise.all(attempts);
    throwIfAborted(run.signal);
    log(`idle: ${clients.size}/${spec.connections} online after ${round(lastOnlineMs / 1000)} s; holding ${spec.holdSeconds} s`);
    await sleep(spec.holdSeconds * 1000, run.signal);
    throwIfAborted(run.signal);
    // measured at the end of the hold: allocations made during the ramp have had time to settle
    const rssAfterBytes = serverRssBytes(target.serverPids);
    const online = clients.size;
    return {
      scenario: "idle",
      connections: spec.connections,
      online,
      secondsToOnline: round(lastOnlineMs / 1000, 3),
      rssBeforeBytes,
      rssAfterBytes,
      bytesPerConnection: online > 0 ? Math.round((rssAfterBytes - rssBeforeBytes) / online) : 0,
      failures,
    };
  } finally {
    stopProgress();
    // attempts still in flight after an abort settle (they are aborted too) before the last close
    await Promise.allSettled(attempts);
    await closeAll(clients);
  }
}
