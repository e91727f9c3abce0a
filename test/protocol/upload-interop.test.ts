/**
 * XEP-0363 with a client not written here: slixmpp's xep_0363 plugin (Debian's python3-slixmpp,
 * aiohttp verifying our certificate) finds the service through disco#items, reads max-file-size,
 * gets a slot and PUTs over HTTPS; the file is then fetched from the other edge in cluster mode.
 * Skipped, saying so, where python3-slixmpp is not installed (.ci/run installs it).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@switchboard/bench";
import { startTestServer, type TestServer } from "../support/server.js";
import { startS3, type TestS3 } from "../support/s3.js";
import { httpsRequest, onNode } from "../support/upload.js";
import { slixmppPython } from "../support/slixmpp.js";

const script = fileURLToPath(new URL("../interop/slixmpp_upload.py", import.meta.url));
const python = slixmppPython("upload-interop", "slixmpp.plugins.xep_0363, aiohttp");

describe.skipIf(!python)("HTTP File Upload with slixmpp (a client not written here)", () => {
  let ts: TestServer;
  let s3: TestS3 | undefined;
  beforeAll(async () => {
    s3 = process.env.SB_TEST_MODE === "cluster" ? await startS3() : undefined;
    ts = await startTestServer(
      { upload: { maxFileBytes: 50_000, ...(s3 ? { s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}) } },
      { perNode: async () => ({ http: { tlsPort: await freePort() } }) },
    );
    await ts.addUser("sli-up", "up secret");
  }, 60_000);
  afterAll(async () => {
    await ts?.stop();
    await s3?.stop();
  });

  it("discovers the service, uploads over HTTPS and respects max-file-size", async () => {
    const node = ts.nodes[0]!;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(python!, [script, "127.0.0.1", String(node.ports.c2s), "sli-up@localhost", "up secret"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, SSL_CERT_FILE: join(ts.dataDir, "tls", "localhost.crt") },
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("error", reject);
      child.on("close", (c) => {
        clearTimeout(timer);
        resolve({ code: c, stdout: out, stderr: err });
      });
    });
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { url?: string; error?: string; discoError?: string; service?: string; maxFileSize?: number; tooBig?: string };
    expect(result.discoError, stderr).toBeUndefined();
    expect(result.error, stderr).toBeUndefined();
    expect(result.service).toBe("upload.localhost");
    expect(result.maxFileSize).toBe(50_000);
    expect(result.tooBig).toBe("FileTooBig");
    const got = await httpsRequest("GET", onNode(result.url!, ts.nodes.at(-1)!));
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe("uploaded by slixmpp\n".repeat(100));
    expect(got.headers["content-disposition"]).toContain("hello%20slixmpp.txt");
  });
});
