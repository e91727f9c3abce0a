/**
 * Test clients built on @xmpp/client (a third-party XMPP library), over TCP+STARTTLS or
 * WebSocket, with helpers to wait for stanzas and to make IQ requests.
 */
import { client, xml, type Client } from "@xmpp/client";
import type { Element } from "ltx";
import type { RunningServer } from "@switchboard/server";
import type { TestServer } from "./server.js";

export { xml };
export type { Element };

export type Transport = "tcp" | "websocket";

export interface TestClient {
  xmpp: Client;
  jid: string;
  received: Element[];
  send(el: Element): Promise<void>;
  /** resolves with the first stanza (already received or future) matching pred */
  waitFor(pred: (el: Element) => boolean, timeoutMs?: number): Promise<Element>;
  /** asserts that nothing matching pred arrives within ms */
  expectNone(pred: (el: Element) => boolean, ms?: number): Promise<void>;
  iq(el: Element, timeoutMs?: number): Promise<Element>;
  stop(): Promise<void>;
}

export function serviceUrl(ts: TestServer, transport: Transport, node = ts.nextNode()): string {
  const p = node.ports;
  return transport === "tcp" ? `xmpp://127.0.0.1:${p.c2s}` : `ws://127.0.0.1:${p.http}${ts.config.http.websocketPath}`;
}

export async function connect(
  ts: TestServer,
  local: string,
  opts: { password?: string; resource?: string; transport?: Transport; node?: RunningServer; resumable?: boolean; reconnect?: boolean } = {},
): Promise<TestClient> {
  return connectTo(serviceUrl(ts, opts.transport ?? "tcp", opts.node ?? ts.nextNode()), ts.domain, local, opts);
}

/** Logs in to any service URL (xmpp://, xmpps://, ws://) as local@domain. */
export async function connectTo(
  service: string,
  domain: string,
  local: string,
  opts: { password?: string; resource?: string; resumable?: boolean; reconnect?: boolean } = {},
): Promise<TestClient> {
  const xmpp = client({
    service,
    domain,
    username: local,
    password: opts.password ?? "secret",
    resource: opts.resource,
  });
  // `reconnect: true` keeps @xmpp/client's own reconnection (which resumes the XEP-0198 session)
  if (!opts.reconnect) xmpp.reconnect.stop();
  // @xmpp/client enables stream management (XEP-0198) with resumption whenever it is offered;
  // `resumable: false` keeps the acks but asks for no resumption (the session ends with its stream).
  if (opts.resumable === false) xmpp.streamManagement.allowResume = false;
  const received: Element[] = [];
  let waiters: Array<{ pred: (el: Element) => boolean; resolve: (el: Element) => void }> = [];
  xmpp.on("stanza", (el: Element) => {
    received.push(el);
    waiters = waiters.filter((w) => (w.pred(el) ? (w.resolve(el), false) : true));
  });
  xmpp.on("error", () => {});
  // A refused login leaves the stream open for a retry (RFC 6120 §6.4.5): close it, or the
  // socket lingers until the server's handshake timeout.
  const address = await xmpp.start().catch(async (err: unknown) => {
    await xmpp.stop().catch(() => {});
    throw err;
  });
  const tc: TestClient = {
    xmpp,
    jid: address.toString(),
    received,
    send: (el) => xmpp.send(el),
    waitFor(pred, timeoutMs = 5000) {
      const found = received.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${tc.jid}: timed out waiting for a stanza`)), timeoutMs);
        waiters.push({ pred, resolve: (el) => (clearTimeout(timer), resolve(el)) });
      });
    },
    async expectNone(pred, ms = 300) {
      await new Promise((r) => setTimeout(r, ms));
      const bad = received.find(pred);
      if (bad) throw new Error(`${tc.jid}: unexpected stanza ${bad.toString()}`);
    },
    iq: (el, timeoutMs = 5000) => xmpp.iqCaller.request(el, timeoutMs),
    async stop() {
      await xmpp.stop().catch(() => {});
    },
  };
  return tc;
}
