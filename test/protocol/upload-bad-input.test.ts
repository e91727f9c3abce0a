/**
 * XEP-0363 bad input (issue 14.7), over XMPP and over HTTPS: every refusal gets the right
 * stanza error or HTTP status, and nothing is stored — the GET of a refused upload is 404.
 *
 * Slots (§4.2): over upload.maxFileBytes → <not-acceptable/> + <file-too-large><max-file-size/>;
 * over the quota → the same with what still fits; a name that is a path (../x, /etc/passwd, NUL,
 * backslashes) or a bad size or type → <bad-request/>; a type not allowed → <not-acceptable/>;
 * past upload.slotsPerMinute → <resource-constraint/> with <retry stamp/>.
 * PUTs (§5): bad signature, tampered claims, expired → 403; another length or type → 400; over
 * the size limit → 413; no Content-Length → 411.
 */
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@switchboard/bench";
import { UploadSigner } from "@switchboard/modules";
import { connect, type TestClient } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { startS3, type TestS3 } from "../support/s3.js";
import { NS_UPLOAD, httpsRequest, onNode, rawIq, requestSlot, serverSecret, slotRequest } from "../support/upload.js";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
let ts: TestServer;
let s3: TestS3 | undefined;

beforeAll(async () => {
  s3 = process.env.SB_TEST_MODE === "cluster" ? await startS3() : undefined;
  ts = await startTestServer(
    {
      upload: {
        maxFileBytes: 5000,
        quotaBytesPerUser: 8000,
        slotsPerMinute: 12,
        allowedTypes: ["image/*", "text/plain", "application/octet-stream"],
        ...(s3 ? { s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}),
      },
    },
    { perNode: async () => ({ http: { tlsPort: await freePort() } }) },
  );
  for (const u of ["mallory", "hoarder", "spammer", "sender"]) await ts.addUser(u);
});
afterAll(async () => {
  await ts?.stop();
  await s3?.stop();
});

async function refusal(c: TestClient, attrs: Record<string, string | undefined>) {
  const res = await rawIq(c, slotRequest(ts.domain, attrs));
  expect(res.attrs.type, `${JSON.stringify(attrs)} should be refused`).toBe("error");
  const error = res.getChild("error")!;
  const condition = error.children.find((ch) => typeof ch !== "string" && ch.attrs.xmlns === STANZAS && ch.name !== "text") as { name: string } | undefined;
  return { type: error.attrs.type, condition: condition?.name, text: error.getChildText("text", STANZAS), error };
}

describe("upload slot requests with bad input", () => {
  it("refuses names that are paths or hold backslashes with bad-request", async () => {
    // (NUL and other control characters cannot travel in XML at all; slot.test.ts checks them)
    const c = await connect(ts, "mallory", { resource: "names" });
    for (const filename of ["../x", "/etc/passwd", "..", ".", "dir\\file.txt", "..\\..\\boot.ini", "x/../../y", "", "é".repeat(200)]) {
      const r = await refusal(c, { filename, size: "10", "content-type": "text/plain" });
      expect(r.condition, JSON.stringify(filename)).toBe("bad-request");
    }
    expect((await refusal(c, { size: "10" })).condition).toBe("bad-request");
    await c.stop();
  });

  it("refuses sizes that are not positive integers and types that are not MIME types with bad-request", async () => {
    const c = await connect(ts, "mallory", { resource: "sizes" });
    for (const size of ["0", "-1", "1.5", "abc", "", "1e3", "99999999999999999999"]) {
      expect((await refusal(c, { filename: "a.txt", size, "content-type": "text/plain" })).condition, size).toBe("bad-request");
    }
    for (const type of ["text", "text/", "te xt/plain", "<script>/x"]) {
      expect((await refusal(c, { filename: "a.txt", size: "1", "content-type": type })).condition, type).toBe("bad-request");
    }
    await c.stop();
  });

  it("refuses a file over upload.maxFileBytes with file-too-large and the limit, and a type not allowed", async () => {
    const c = await connect(ts, "mallory", { resource: "big" });
    const big = await refusal(c, { filename: "big.png", size: "5001", "content-type": "image/png" });
    expect(big).toMatchObject({ condition: "not-acceptable", type: "modify" });
    expect(big.error.getChild("file-too-large", NS_UPLOAD)?.getChildText("max-file-size")).toBe("5000");
    const zip = await refusal(c, { filename: "a.zip", size: "10", "content-type": "application/zip" });
    expect(zip.condition).toBe("not-acceptable");
    expect(zip.text).toContain("application/zip");
    await c.stop();
  });

  it("refuses a slot past the quota with file-too-large naming what still fits, counted over every edge", async () => {
    const c = await connect(ts, "hoarder", { resource: "q" });
    for (let i = 0; i < 2; i++) {
      const slot = await requestSlot(c, ts.domain, `f${i}.bin`, 3000);
      const put = await httpsRequest("PUT", onNode(slot.put, ts.nodes[i % ts.nodes.length]!), { "content-length": "3000" }, Buffer.alloc(3000, i));
      expect(put.status).toBe(201);
    }
    const over = await refusal(c, { filename: "f2.bin", size: "2500" });
    expect(over.condition).toBe("not-acceptable");
    expect(over.text).toMatch(/quota/);
    expect(over.error.getChild("file-too-large", NS_UPLOAD)?.getChildText("max-file-size")).toBe("2000");
    // two slots that each fit alone: the second PUT finds the quota used up (413), nothing stored
    const [s1, s2] = [await requestSlot(c, ts.domain, "g1.bin", 1500), await requestSlot(c, ts.domain, "g2.bin", 1500)];
    expect((await httpsRequest("PUT", onNode(s1.put, ts.server), { "content-length": "1500" }, Buffer.alloc(1500))).status).toBe(201);
    expect((await httpsRequest("PUT", onNode(s2.put, ts.server), { "content-length": "1500" }, Buffer.alloc(1500))).status).toBe(413);
    expect((await httpsRequest("GET", onNode(s2.get, ts.server))).status).toBe(404);
    await c.stop();
  });

  it("refuses slots past upload.slotsPerMinute with resource-constraint and a retry stamp", async () => {
    const c = await connect(ts, "spammer", { resource: "r" });
    let refused: Awaited<ReturnType<typeof refusal>> | undefined;
    for (let i = 0; i < 13 && !refused; i++) {
      const res = await rawIq(c, slotRequest(ts.domain, { filename: `n${i}.txt`, size: "1", "content-type": "text/plain" }));
      if (res.attrs.type === "error") {
        expect(i).toBe(12);
        refused = await refusal(c, { filename: "again.txt", size: "1", "content-type": "text/plain" });
      }
    }
    expect(refused).toMatchObject({ condition: "resource-constraint", type: "wait" });
    const stamp = refused!.error.getChild("retry", NS_UPLOAD)?.attrs.stamp as string;
    expect(Date.parse(stamp)).toBeGreaterThan(Date.now() - 1000);
    expect(Date.parse(stamp)).toBeLessThan(Date.now() + 61_000);
    await c.stop();
  });
});

describe("upload PUTs with bad input", () => {
  it("answers 403 for a bad signature, tampered claims, an expired URL or another Authorization, storing nothing", async () => {
    const c = await connect(ts, "sender", { resource: "sig" });
    const slot = await requestSlot(c, ts.domain, "n.txt", 5, "text/plain");
    const body = Buffer.from("hello");
    const headers = { "content-type": "text/plain", "content-length": "5" };
    const url = (edit: (u: URL) => void) => {
      const u = new URL(onNode(slot.put, ts.server));
      edit(u);
      return u.toString();
    };
    const tries = [
      url((u) => u.searchParams.set("sig", "A".repeat(43))),
      url((u) => u.searchParams.delete("sig")),
      url((u) => u.searchParams.set("size", "4")),
      url((u) => u.searchParams.set("type", "image/png")),
      url((u) => u.searchParams.set("expires", String(Number(u.searchParams.get("expires")) + 3600))),
      url((u) => (u.pathname = u.pathname.replace("n.txt", "m.txt"))),
    ];
    for (const t of tries) expect((await httpsRequest("PUT", t, headers, body)).status, t).toBe(403);
    expect((await httpsRequest("PUT", onNode(slot.put, ts.server), { ...headers, authorization: "Bearer nope" }, body)).status).toBe(403);
    // correctly signed by the server's secret, but expired
    const signer = new UploadSigner(serverSecret(ts.dataDir));
    const path = signer.newPath(`sender@${ts.domain}`, "old.txt");
    const expires = Math.floor(Date.now() / 1000) - 1;
    const sig = signer.sign({ path, size: 5, contentType: "text/plain", expires });
    const expired = `https://127.0.0.1:${ts.server.ports.httpTls}${path}?size=5&type=text%2Fplain&expires=${expires}&sig=${sig}`;
    const answer = await httpsRequest("PUT", expired, headers, body);
    expect(answer.status).toBe(403);
    expect(answer.body.toString()).toMatch(/expired/);
    expect((await httpsRequest("GET", onNode(slot.get, ts.server))).status).toBe(404);
    expect((await httpsRequest("GET", `https://127.0.0.1:${ts.server.ports.httpTls}${path}`)).status).toBe(404);
    await c.stop();
  });

  it("answers 400 for another length or type, 411 without a length and 413 over the limit, storing nothing", async () => {
    const c = await connect(ts, "sender", { resource: "len" });
    const slot = await requestSlot(c, ts.domain, "n.txt", 5, "text/plain");
    const put = (headers: Record<string, string>, body?: Buffer) => httpsRequest("PUT", onNode(slot.put, ts.nextNode()), headers, body);
    expect((await put({ "content-type": "text/plain", "content-length": "6" }, Buffer.from("hello!"))).status).toBe(400);
    expect((await put({ "content-type": "text/plain", "content-length": "4" }, Buffer.from("hell"))).status).toBe(400);
    expect((await put({ "content-type": "image/png", "content-length": "5" }, Buffer.from("hello"))).status).toBe(400);
    expect((await put({ "content-type": "text/plain", "transfer-encoding": "chunked" }, Buffer.from("hello"))).status).toBe(411);
    expect((await httpsRequest("GET", onNode(slot.get, ts.server))).status).toBe(404);
    // a slot the service would never give (past maxFileBytes), signed with its secret: 413
    const signer = new UploadSigner(serverSecret(ts.dataDir));
    const path = signer.newPath(`sender@${ts.domain}`, "huge.bin");
    const expires = Math.floor(Date.now() / 1000) + 60;
    const sig = signer.sign({ path, size: 6000, contentType: "application/octet-stream", expires });
    const huge = await httpsRequest("PUT", `https://127.0.0.1:${ts.server.ports.httpTls}${path}?size=6000&type=application%2Foctet-stream&expires=${expires}&sig=${sig}`, { "content-length": "6000" }, Buffer.alloc(6000));
    expect(huge.status).toBe(413);
    expect((await httpsRequest("GET", `https://127.0.0.1:${ts.server.ports.httpTls}${path}`)).status).toBe(404);
    // the right PUT still works afterwards
    expect((await put({ "content-type": "text/plain", "content-length": "5" }, Buffer.from("hello"))).status).toBe(201);
    expect((await httpsRequest("GET", onNode(slot.get, ts.server))).body.toString()).toBe("hello");
    await c.stop();
  });

  it("stores nothing of a PUT whose client goes away halfway, and the slot still works afterwards", async () => {
    const c = await connect(ts, "sender", { resource: "abort" });
    const slot = await requestSlot(c, ts.domain, "half.bin", 4000);
    const url = new URL(onNode(slot.put, ts.nodes.at(-1)!));
    await new Promise<void>((resolve) => {
      const req = https.request(url, { method: "PUT", headers: { "content-length": "4000" }, rejectUnauthorized: false, agent: false });
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.write(Buffer.alloc(1500, 7));
      setTimeout(() => req.destroy(), 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await httpsRequest("GET", onNode(slot.get, ts.server))).status).toBe(404);
    const put = await httpsRequest("PUT", onNode(slot.put, ts.server), { "content-length": "4000" }, Buffer.alloc(4000, 8));
    expect(put.status).toBe(201);
    const got = await httpsRequest("GET", onNode(slot.get, ts.nodes.at(-1)!));
    expect(got.body.equals(Buffer.alloc(4000, 8))).toBe(true);
    await c.stop();
  });

  it("counts refusals by the limit that refused and PUTs by status in /metrics", async () => {
    const texts = await Promise.all(ts.nodes.map(async (n) => (await fetch(`http://127.0.0.1:${n.ports.http}/metrics`)).text()));
    const seen = (re: RegExp) => texts.some((t) => re.test(t));
    expect(seen(/switchboard_upload_slots_total\{[^}]*outcome="upload\.maxFileBytes"[^}]*\} [1-9]/)).toBe(true);
    expect(seen(/switchboard_upload_slots_total\{[^}]*outcome="upload\.quotaBytesPerUser"[^}]*\} [1-9]/)).toBe(true);
    expect(seen(/switchboard_upload_slots_total\{[^}]*outcome="upload\.slots"[^}]*\} [1-9]/)).toBe(true);
    expect(seen(/switchboard_upload_http_total\{[^}]*status="403"[^}]*\} [1-9]/)).toBe(true);
    expect(seen(/switchboard_upload_http_total\{[^}]*status="201"[^}]*\} [1-9]/)).toBe(true);
  });

  // (cluster mode only: embedded, the files are on the node's own disk)
  it.runIf(process.env.SB_TEST_MODE === "cluster")("answers 503 and internal-server-error (wait) while the cluster's S3 store is down", async () => {
    if (!s3) throw new Error("cluster mode runs with S3");
    const c = await connect(ts, "sender", { resource: "down" });
    const slot = await requestSlot(c, ts.domain, "kept.txt", 4, "text/plain");
    expect((await httpsRequest("PUT", onNode(slot.put, ts.server), { "content-type": "text/plain", "content-length": "4" }, Buffer.from("kept"))).status).toBe(201);
    await s3.stop();
    const got = await httpsRequest("GET", onNode(slot.get, ts.server));
    expect(got.status).toBe(503);
    expect(got.body.toString()).not.toMatch(/127\.0\.0\.1|switchboard-uploads|ECONNREFUSED/);
    const r = await refusal(c, { filename: "more.txt", size: "4", "content-type": "text/plain" });
    expect(r).toMatchObject({ condition: "internal-server-error", type: "wait" });
    await c.stop();
  });
});
