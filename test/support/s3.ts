/**
 * A real S3-compatible server for upload tests (s3rver, which checks SigV4 signatures), on a
 * free loopback port with its own directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { freePort } from "@switchboard/bench";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** `bucket` is not created: the server makes it on start (S3BlobStore.open). */
export async function startS3(bucket = "switchboard-uploads"): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), "sb-s3-"));
  const port = await freePort();
  const server = new S3rver({ address: "127.0.0.1", port, silent: true, directory });
  await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: "us-east-1",
    // s3rver's built-in account
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
