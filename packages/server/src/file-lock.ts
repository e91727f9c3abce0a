/**
 * A lock file for the one-time generation of files in the data dir (the self-signed certificate,
 * the server secret). Edges of a cluster may share one data dir and start at the same moment:
 * exactly one generates, the others wait and then read what it wrote, so all of them serve the
 * same certificate and the same secret.
 */
import { mkdir, open, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";

/** A lock older than this was left by a process that died while generating. */
const STALE_MS = 30_000;
const POLL_MS = 50;
const WAIT_MS = 60_000;

export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_MS) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${path} is held by another process for more than ${WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
