/**
 * Helpers for the XEP-0363 upload tests: slot requests as raw IQs (to read the whole error,
 * application condition included) and HTTPS requests that can send any Content-Length.
 */
import https from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunningServer } from "@switchboard/server";
import { xml, type Element, type TestClient } from "./client.js";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";
let seq = 0;

/** Sends an IQ and resolves with the response stanza, result or error. */
export async function rawIq(client: TestClient, el: Element): Promise<Element> {
  const id = `up-${++seq}`;
  el.attrs.id = id;
  await client.send(el);
  return client.waitFor((s) => s.name === "iq" && s.attrs.id === id && (s.attrs.type === "result" || s.attrs.type === "error"));
}

export function slotRequest(domain: string, attrs: Record<string, string | undefined>): Element {
  return xml("iq", { type: "get", to: `upload.${domain}` }, xml("request", { xmlns: NS_UPLOAD, ...attrs }));
}

export interface Slot {
  put: string;
  get: string;
  headers: Record<string, string>;
}

export async function requestSlot(client: TestClient, domain: string, filename: string, size: number, contentType?: string): Promise<Slot> {
  const res = await rawIq(client, slotRequest(domain, { filename, size: String(size), "content-type": contentType }));
  if (res.attrs.type !== "result") throw new Error(`slot refused: ${res.toString()}`);
  const slot = res.getChild("slot", NS_UPLOAD)!;
  const put = slot.getChild("put")!;
  const headers: Record<string, string> = {};
  for (const h of put.getChildren("header")) headers[h.attrs.name as string] = h.text();
  return { put: put.attrs.url as string, get: slot.getChild("get")!.attrs.url as string, headers };
}

/** The same URL on another node's HTTPS port, by address (the slot names the XMPP domain). */
export function onNode(url: string, node: RunningServer): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(node.ports.httpTls);
  return u.toString();
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function httpsRequest(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    // a server that answers before reading the body may close while it is still being sent
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    req.end(body);
  });
}

/** The deployment's server secret, to sign slot URLs the service would never hand out (expired, too big). */
export function serverSecret(dataDir: string): Buffer {
  return Buffer.from(readFileSync(join(dataDir, "server-secret"), "utf8").trim(), "hex");
}
