/**
 * upload.expireDays: files older than that are deleted, by a sweep at start and every hour on
 * every node (deleting is idempotent, so nodes need not agree who sweeps). Until the sweep gets
 * to a file, GET already answers 404 for it and the quota no longer counts it.
 */
import type { Logger } from "@switchboard/core";
import type { BlobStore } from "./blob-store.js";

export const SWEEP_INTERVAL_MS = 3_600_000;

/** Deletes what is past `expireDays`; returns how many went. */
export async function sweepExpired(store: BlobStore, expireDays: number, now = Date.now()): Promise<number> {
  if (expireDays <= 0) return 0;
  const cutoff = now - expireDays * 86_400_000;
  let deleted = 0;
  for (const blob of await store.list("")) {
    if (blob.modified.getTime() >= cutoff) continue;
    await store.delete(blob.key);
    deleted++;
  }
  return deleted;
}

export function startExpirySweeps(store: BlobStore, expireDays: number, log: Logger): () => void {
  if (expireDays <= 0) return () => {};
  const sweep = () =>
    sweepExpired(store, expireDays).then(
      (n) => n > 0 && log.info({ deleted: n, expireDays }, "expired uploads deleted"),
      (err: unknown) => log.warn({ err }, "upload expiry sweep failed; next one in an hour"),
    );
  void sweep();
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
