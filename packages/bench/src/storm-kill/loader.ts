/**
 * A loader process of `pnpm bench storm-kill` (run.ts forks several: one process may hold no
 * more than the machine's descriptor limit, 20,000 here, and a storm of 15,000 clients wants
 * more than one core's worth of TLS anyway). It logs its slice of the accounts in, at most
 * `loginConcurrency` handshakes at a time, says "ready", and from then on every client
 * reconnects by itself whenever it is dropped (storm-client.ts). Progress goes to the parent
 * four times a second. It exits on "stop", when the parent goes away (the IPC channel closes),
 * or after `lifetimeMs` whatever happens: nothing here outlives the run.
 */
import type { LoaderConfig, LoaderMessage, LoaderProgress, ParentMessage } from "./protocol.js";
import { StormClient } from "./storm-client.js";

const PROGRESS_EVERY_MS = 250;
/** messages kept per failure kind */
const SAMPLES = 3;

function send(msg: LoaderMessage): void {
  if (process.connected) process.send!(msg);
}

async function run(config: LoaderConfig): Promise<void> {
  const abort = new AbortController();
  const lifetime = setTimeout(() => void shutdown(3), config.lifetimeMs);
  lifetime.unref();
  let online = 0;
  const counters = { dropped: 0, recovered: 0, lastRecoveredAt: 0, attempts: 0, failures: {} as Record<string, number>, samples: {} as Record<string, string[]>, gaveUp: 0 };
  const progress = (): LoaderProgress => ({ online, ...counters, failures: { ...counters.failures }, samples: { ...counters.samples } });

  const clients: StormClient[] = [];
  for (let k = 0; k < config.count; k++) {
    const i = config.first + k;
    const endpoint = config.endpoints[i % config.endpoints.length]!;
    clients.push(
      new StormClient({
        host: endpoint.host,
        port: endpoint.port,
        localAddress: endpoint.host.startsWith("127.") ? `127.0.0.${1 + (i % config.sourceAddresses)}` : undefined,
        domain: config.domain,
        username: `${config.userPrefix}${i}`,
        password: config.password,
        resource: `storm${i}`,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        backoff: config.backoff,
        giveUpMs: config.giveUpMs,
        signal: abort.signal,
        onAttempt: (failure, err) => {
          counters.attempts++;
          if (!failure) return;
          counters.failures[failure] = (counters.failures[failure] ?? 0) + 1;
          if (failure === "refused") return;
          const kept = (counters.samples[failure] ??= []);
          if (kept.length < SAMPLES) kept.push(String((err as Error)?.message ?? err).slice(0, 300));
        },
        onOnline: (c) => {
          online++;
          if (c.droppedSinceArm) {
            counters.recovered++;
            counters.lastRecoveredAt = Date.now();
          }
        },
        onDropped: (c) => {
          online--;
          if (c.droppedSinceArm) counters.dropped++;
        },
        onGaveUp: () => counters.gaveUp++,
      }),
    );
  }

  let stopping = false;
  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    abort.abort();
    clearInterval(ticker);
    await Promise.all(clients.map((c) => c.close()));
    process.exit(code);
  }
  process.on("message", (msg: ParentMessage) => {
    if (msg.type === "stop") void shutdown(0);
    else if (msg.type === "arm") {
      for (const c of clients) c.droppedSinceArm = false;
      Object.assign(counters, { dropped: 0, recovered: 0, lastRecoveredAt: 0, attempts: 0, failures: {}, samples: {}, gaveUp: 0 });
      send({ type: "armed" });
    }
  });
  const ticker = setInterval(() => send({ type: "progress", ...progress() }), PROGRESS_EVERY_MS);

  // The first logins, paced: `loginConcurrency` workers each take the next client; one whose
  // attempt failed retries by itself (its backoff) and is waited for below.
  let next = 0;
  const worker = async () => {
    while (next < clients.length && !abort.signal.aborted) await clients[next++]!.connect();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(config.loginConcurrency, clients.length)) }, worker));
  while (online < clients.length && !abort.signal.aborted) {
    if (clients.some((c) => c.gaveUp)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  send({ type: "ready", ...progress() });
}

process.once("message", (msg: ParentMessage) => {
  if (msg.type !== "start") return;
  run(msg.config).catch((err: unknown) => {
    send({ type: "error", message: (err as Error).stack ?? String(err) });
    process.exit(1);
  });
});
process.on("disconnect", () => process.exit(0));
