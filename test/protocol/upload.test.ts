/**
 * XEP-0363 HTTP File Upload through real clients and real HTTPS: the service is found through
 * the domain's disco#items (§3), a slot is requested over XMPP (§4), the file PUT over HTTPS
 * and fetched back (§5). In cluster mode the slot comes from one edge, the PUT goes to the other
 * and the GET to the first again: the signature verifies on every edge and the file lives in
 * S3 (a real S3-compatible server), visible from both. Also: http.tlsPort serves the WebSocket
 * (wss login) and /healthz like http.port.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@switchboard/bench";
import { connect, connectTo, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { S3BlobStore } from "@switchboard/server";
import { startS3, type TestS3 } from "../support/s3.js";
import { NS_UPLOAD, httpsRequest, onNode, rawIq, requestSlot } from "../support/upload.js";

const DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
let ts: TestServer;
let s3: TestS3 | undefined;

beforeAll(async () => {
  const cluster = process.env.SB_TEST_MODE === "cluster";
  s3 = cluster ? await startS3() : undefined;
  ts = await startTestServer(
    { upload: { maxFileBytes: 1_000_000, ...(s3 ? { s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}) } },
    { perNode: async () => ({ http: { tlsPort: await freePort() } }) },
  );
  for (const u of ["uploader", "viewer"]) await ts.addUser(u);
});
afterAll(async () => {
  await ts?.stop();
  await s3?.stop();
});

describe("HTTP File Upload (XEP-0363)", () => {
  it("is listed in the domain's disco#items with the feature and max-file-size in its disco#info", async () => {
    const c = await connect(ts, "uploader", { resource: "disco" });
    const items = await c.iq(xml("iq", { type: "get", to: ts.domain }, xml("query", { xmlns: DISCO_ITEMS })));
    const jids = items.getChild("query", DISCO_ITEMS)!.getChildren("item").map((i) => i.attrs.jid);
    expect(jids).toContain(`upload.${ts.domain}`);
    const info = (await c.iq(xml("iq", { type: "get", to: `upload.${ts.domain}` }, xml("query", { xmlns: DISCO_INFO })))).getChild("query", DISCO_INFO)!;
    expect(info.getChild("identity")?.attrs).toMatchObject({ category: "store", type: "file" });
    expect(info.getChildren("feature").map((f) => f.attrs.var)).toContain(NS_UPLOAD);
    const form = info.getChild("x", "jabber:x:data")!;
    const field = (name: string) => form.getChildren("field").find((f) => f.attrs.var === name)?.getChildText("value");
    expect(field("FORM_TYPE")).toBe(NS_UPLOAD);
    expect(field("max-file-size")).toBe("1000000");
    await c.stop();
  });

  it("takes a PUT to the slot on another edge and serves the file back with safe headers", async () => {
    const [a, b] = [ts.nodes[0]!, ts.nodes.at(-1)!];
    const c = await connect(ts, "uploader", { resource: "put", node: a });
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const slot = await requestSlot(c, ts.domain, "holiday photo é.png", bytes.length, "image/png");
    expect(slot.put.startsWith(`https://${ts.domain}:${a.ports.httpTls}/upload/`)).toBe(true);
    expect(slot.get.startsWith(`https://${ts.domain}:${a.ports.httpTls}/upload/`)).toBe(true);
    expect(slot.headers.Authorization).toMatch(/^Bearer /);
    expect(new URL(slot.get).pathname.split("/")[3]).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 random bits

    // the browser's preflight first (CORS)
    const preflight = await httpsRequest("OPTIONS", onNode(slot.put, b), { origin: "https://web.example", "access-control-request-method": "PUT" });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("*");
    expect(String(preflight.headers["access-control-allow-methods"])).toContain("PUT");
    expect(String(preflight.headers["access-control-allow-headers"])).toMatch(/Authorization/i);

    const put = await httpsRequest("PUT", onNode(slot.put, b), { ...slot.headers, "content-type": "image/png", "content-length": String(bytes.length) }, bytes);
    expect(put.status).toBe(201);
    for (const node of ts.nodes) {
      const got = await httpsRequest("GET", onNode(slot.get, node));
      expect(got.status).toBe(200);
      expect(got.body.equals(bytes)).toBe(true);
      expect(got.headers["content-type"]).toBe("image/png");
      expect(got.headers["content-disposition"]).toMatch(/^inline; /);
      expect(got.headers["content-disposition"]).toContain("filename*=UTF-8''holiday%20photo%20%C3%A9.png");
      expect(got.headers["x-content-type-options"]).toBe("nosniff");
      expect(got.headers["access-control-allow-origin"]).toBe("*");
    }
    const head = await httpsRequest("HEAD", onNode(slot.get, a));
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(bytes.length));
    // the slot is spent
    const again = await httpsRequest("PUT", onNode(slot.put, a), { "content-type": "image/png", "content-length": String(bytes.length) }, bytes);
    expect(again.status).toBe(409);
    // where it lives: the data dir on one node, the bucket in a cluster (never a node's disk)
    const key = new URL(slot.get).pathname.slice("/upload/".length);
    if (s3) {
      expect((await new S3BlobStore(s3).list("")).map((f) => f.key)).toContain(key);
      expect(existsSync(join(ts.dataDir, "uploads"))).toBe(false);
    } else expect(existsSync(join(ts.dataDir, "uploads", key))).toBe(true);
    await c.stop();
  });

  it("serves byte ranges (RFC 9110 §14) for players and resumed downloads", async () => {
    const c = await connect(ts, "uploader", { resource: "range" });
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
    const slot = await requestSlot(c, ts.domain, "clip.mp4", bytes.length, "video/mp4");
    expect((await httpsRequest("PUT", onNode(slot.put, ts.server), { "content-type": "video/mp4", "content-length": "1000" }, bytes)).status).toBe(201);
    const get = (range: string) => httpsRequest("GET", onNode(slot.get, ts.nextNode()), { range });
    const middle = await get("bytes=100-199");
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe("bytes 100-199/1000");
    expect(middle.body.equals(bytes.subarray(100, 200))).toBe(true);
    const tail = await get("bytes=-10");
    expect(tail.status).toBe(206);
    expect(tail.body.equals(bytes.subarray(990))).toBe(true);
    const open = await get("bytes=900-");
    expect(open.headers["content-range"]).toBe("bytes 900-999/1000");
    expect(open.body.length).toBe(100);
    const past = await get("bytes=1000-");
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe("bytes */1000");
    // several ranges, or nonsense: the whole file
    for (const range of ["bytes=0-1,5-6", "lines=1-2", "bytes=5-2"]) {
      const whole = await get(range);
      expect(whole.status, range).toBe(200);
      expect(whole.body.equals(bytes)).toBe(true);
    }
    expect((await get("bytes=0-0")).headers["accept-ranges"]).toBe("bytes");
    await c.stop();
  });

  it("serves anything but images, audio and video as an attachment, with a sandboxing CSP", async () => {
    const c = await connect(ts, "uploader", { resource: "html" });
    const page = Buffer.from("<script>alert(document.cookie)</script>");
    const slot = await requestSlot(c, ts.domain, "page.html", page.length, "text/html");
    expect((await httpsRequest("PUT", onNode(slot.put, ts.nextNode()), { "content-type": "text/html", "content-length": String(page.length) }, page)).status).toBe(201);
    const got = await httpsRequest("GET", onNode(slot.get, ts.nextNode()));
    expect(got.status).toBe(200);
    expect(got.headers["content-disposition"]).toMatch(/^attachment; filename="page.html"/);
    expect(got.headers["content-security-policy"]).toContain("sandbox");
    expect(got.headers["x-content-type-options"]).toBe("nosniff");
    // SVG carries scripts: never inline either
    const svg = Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'/>");
    const svgSlot = await requestSlot(c, ts.domain, "x.svg", svg.length, "image/svg+xml");
    expect((await httpsRequest("PUT", onNode(svgSlot.put, ts.server), { "content-type": "image/svg+xml", "content-length": String(svg.length) }, svg)).status).toBe(201);
    expect((await httpsRequest("GET", onNode(svgSlot.get, ts.server))).headers["content-disposition"]).toMatch(/^attachment;/);
    await c.stop();
  });

  it("answers 404 for an upload path nobody was given and 403 for uploads over plain HTTP", async () => {
    const c = await connect(ts, "uploader", { resource: "404" });
    const slot = await requestSlot(c, ts.domain, "never.txt", 3, "text/plain");
    expect((await httpsRequest("GET", onNode(slot.get, ts.server))).status).toBe(404);
    const guessed = new URL(onNode(slot.get, ts.server));
    guessed.pathname = guessed.pathname.replace(/\/[A-Za-z0-9_-]{22}\//, "/AAAAAAAAAAAAAAAAAAAAAA/");
    expect((await httpsRequest("GET", guessed.toString())).status).toBe(404);
    const plain = await fetch(`http://127.0.0.1:${ts.server.ports.http}${new URL(slot.put).pathname}${new URL(slot.put).search}`, { method: "PUT", body: "abc", headers: { "content-type": "text/plain" } });
    expect(plain.status).toBe(403);
    await c.stop();
  });

  it("serves the WebSocket (wss login), /healthz and /readyz on http.tlsPort, but not the operator paths", async () => {
    for (const node of ts.nodes) {
      for (const path of ["/metrics", "/admin/sessions", "/%6Detrics", "//admin"]) {
        expect((await httpsRequest("GET", `https://127.0.0.1:${node.ports.httpTls}${path}`)).status, path).toBe(403);
      }
      expect((await httpsRequest("GET", `https://127.0.0.1:${node.ports.httpTls}/healthz`)).status).toBe(200);
      expect((await httpsRequest("GET", `https://127.0.0.1:${node.ports.httpTls}/readyz`)).status).toBe(200);
      const viewer = await connectTo(`wss://127.0.0.1:${node.ports.httpTls}${ts.config.http.websocketPath}`, ts.domain, "viewer", { resource: `wss-${node.ports.httpTls}` });
      expect(viewer.jid).toBe(`viewer@${ts.domain}/wss-${node.ports.httpTls}`);
      // and a slot over that stream, too
      const res = await rawIq(viewer, xml("iq", { type: "get", to: `upload.${ts.domain}` }, xml("request", { xmlns: NS_UPLOAD, filename: "a.txt", size: "1" })));
      expect(res.attrs.type).toBe("result");
      await viewer.stop();
    }
  });
});
