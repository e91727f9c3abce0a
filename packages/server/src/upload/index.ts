/**
 * HTTP File Upload (XEP-0363) in a process: the store (files on one node, S3 in a cluster),
 * the HTTP route on the shared listener (served over HTTPS only), the expiry sweeps, and what
 * the XMPP module (@switchboard/modules upload) needs from them: the quota's usage and the
 * HTTPS origin of the slot URLs.
 */
import { join } from "node:path";
import type { Logger, Metrics } from "@switchboard/core";
import { UploadSigner, type UploadDeps, type UploadOptions } from "@switchboard/modules";
import type { SwitchboardConfig } from "../config.js";
import type { RunningHttp } from "../http.js";
import { FileBlobStore, type BlobStore } from "./blob-store.js";
import { S3BlobStore } from "./s3-store.js";
import { startExpirySweeps } from "./expiry.js";
import { uploadRoute } from "./http-routes.js";

export { FileBlobStore, BlobIncompleteError, type BlobStore, type BlobInfo, type StoredBlob } from "./blob-store.js";
export { S3BlobStore, type S3Settings } from "./s3-store.js";
export { sweepExpired } from "./expiry.js";
export { contentHeaders } from "./http-routes.js";

export interface RunningUpload {
  store: BlobStore;
  deps: UploadDeps;
  options: UploadOptions;
  stop(): void;
}

/** Why uploads stay off with this configuration, or undefined when they can run. */
export function uploadUnavailableReason(cfg: SwitchboardConfig): string | undefined {
  if (!cfg.upload.enabled) return "upload.enabled is false";
  if (cfg.http.tlsPort === 0) return "http.tlsPort is 0, and uploads are served over HTTPS only (XEP-0363 §5)";
  if (cfg.redisUrl && !cfg.upload.s3.endpoint) return "a cluster needs upload.s3.endpoint, so that every edge sees every file";
  if (cfg.upload.s3.endpoint && (!cfg.upload.s3.accessKeyId || !cfg.upload.s3.secretAccessKey)) return "upload.s3.endpoint needs upload.s3.accessKeyId and upload.s3.secretAccessKey";
  return undefined;
}

export async function startUpload(opts: { cfg: SwitchboardConfig; secret: Buffer; http: RunningHttp; httpsPort: () => number; log: Logger; metrics: Metrics }): Promise<RunningUpload> {
  const { cfg, secret, http, log } = opts;
  const u = cfg.upload;
  const store: BlobStore = u.s3.endpoint
    ? new S3BlobStore({ endpoint: u.s3.endpoint, bucket: u.s3.bucket, region: u.s3.region, accessKeyId: u.s3.accessKeyId!, secretAccessKey: u.s3.secretAccessKey! })
    : new FileBlobStore(join(cfg.dataDir, "uploads"));
  await store.open();
  const signer = new UploadSigner(secret);
  const unexpiredBytes = async (owner: string) => {
    const cutoff = u.expireDays > 0 ? Date.now() - u.expireDays * 86_400_000 : -Infinity;
    return (await store.list(`${owner}/`)).reduce((sum, b) => (b.modified.getTime() >= cutoff ? sum + b.size : sum), 0);
  };
  http.route(uploadRoute(store, signer, unexpiredBytes, { maxFileBytes: u.maxFileBytes, quotaBytesPerUser: u.quotaBytesPerUser, expireDays: u.expireDays, trustForwardedFor: cfg.http.trustForwardedFor }, log, opts.metrics));
  const stopSweeps = startExpirySweeps(store, u.expireDays, log);
  // The slot URLs name the XMPP domain: the certificate is the domain's (tls.cert), and the
  // port is the one this node serves HTTPS on.
  const baseUrl = () => `https://${cfg.domain}:${opts.httpsPort()}`;
  log.info({ store: store.kind, maxFileBytes: u.maxFileBytes, expireDays: u.expireDays }, "HTTP file upload on");
  return {
    store,
    deps: { secret, baseUrl, usage: (bare) => unexpiredBytes(signer.ownerTag(bare)) },
    options: { maxFileBytes: u.maxFileBytes, quotaBytesPerUser: u.quotaBytesPerUser, slotsPerMinute: u.slotsPerMinute, allowedTypes: u.allowedTypes, slotSeconds: u.slotSeconds },
    stop: stopSweeps,
  };
}
