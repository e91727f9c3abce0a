/**
 * Test fixture: real nats-server processes on free loopback ports. Every process started here is
 * killed by stopAllNatsServers() (call it in afterAll) and, as a last resort, on process exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect as tcpConnect } from "node:net";

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = tcpConnect(port, "127.0.0.1");
      sock.once("connect", () => (sock.destroy(), resolve(true)));
      sock.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface NatsServerProcess {
  port: number;
  url: string;
  /** SIGKILL and wait for the exit */
  kill(): Promise<void>;
}

export async function startNatsServer(port: number, extraArgs: string[] = []): Promise<NatsServerProcess> {
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), ...extraArgs], { stdio: "ignore" });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => running.delete(child));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  try {
    await waitForPort(port);
  } catch (err) {
    await kill();
    throw err;
  }
  return { port, url: `nats://127.0.0.1:${port}`, kill };
}

export async function stopAllNatsServers(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/** Polls until the predicate holds; fails with the message otherwise. */
export async function eventually(predicate: () => boolean, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Fails (never skips) when the shared server is down: connect() would otherwise retry forever. */
export async function requireSharedNats(url: string): Promise<void> {
  const { port } = new URL(url.replace(/^nats:/, "http:"));
  await waitForPort(Number(port || 4222), 3_000).catch((err: unknown) => {
    throw new Error(`shared NATS at ${url} is not reachable (set SWITCHBOARD_TEST_NATS_URL)`, { cause: err });
  });
}
