/**
 * A tiny external component (XEP-0114) for tests: a raw TCP socket speaking
 * jabber:component:accept, parsed with the server's own streaming parser. It connects,
 * handshakes (or fails to, for the bad-input tests), records every stanza and stream error, and
 * can answer IQs (an app server acknowledging push notifications).
 */
import net from "node:net";
import { createHash } from "node:crypto";
import { DEFAULT_LIMITS, Element, StreamParser, type StreamError } from "@switchboard/xml";
import { connect, xml } from "./client.js";
import type { TestServer } from "./server.js";

export class TestComponent {
  readonly stanzas: Element[] = [];
  /** the stream error the server closed with, if any */
  streamError?: string;
  streamId?: string;
  /** the server's stream header */
  header?: Record<string, string>;
  closed = false;
  /** answers an IQ get/set sent to the component; undefined leaves it unanswered */
  answer?: (iq: Element) => Element | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly socket: net.Socket,
    readonly domain: string,
  ) {
    const parser = new StreamParser({ ...DEFAULT_LIMITS });
    parser.on("streamStart", (attrs: Record<string, string>) => {
      this.streamId = attrs.id;
      this.header = attrs;
      this.notify();
    });
    parser.on("stanza", (el: Element) => {
      if (el.name === "stream:error" || el.name === "error") {
        this.streamError = el.children.find((c): c is Element => c instanceof Element && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-streams")?.name;
      } else {
        this.stanzas.push(el);
        this.autoAnswer(el);
      }
      this.notify();
    });
    parser.on("error", (_err: StreamError) => {});
    socket.on("data", (chunk: Buffer) => parser.write(chunk));
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => {});
  }

  /** Opens the stream to `domain` and sends the handshake for `secret`; resolves once the server answered or closed. */
  static async connect(port: number, domain: string, secret: string, opts: { handshake?: (streamId: string) => string; namespace?: string; /** written instead of the handshake element */ raw?: string } = {}): Promise<TestComponent> {
    const socket = net.connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new TestComponent(socket, domain);
    c.write(`<?xml version='1.0'?><stream:stream xmlns='${opts.namespace ?? "jabber:component:accept"}' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
    await c.until(() => c.streamId !== undefined || c.closed);
    if (c.closed || c.streamError) return c;
    const digest = opts.handshake ? opts.handshake(c.streamId!) : createHash("sha1").update(c.streamId! + secret).digest("hex");
    c.write(opts.raw ?? `<handshake>${digest}</handshake>`);
    await c.until(() => c.handshaken || c.closed || c.streamError !== undefined);
    return c;
  }

  get handshaken(): boolean {
    return this.stanzas.some((s) => s.name === "handshake");
  }

  write(data: string): void {
    this.socket.write(data);
  }

  send(el: Element): void {
    this.write(el.toString());
  }

  /** the first stanza (received or to come) that matches */
  async waitFor(pred: (el: Element) => boolean, timeoutMs = 5000): Promise<Element> {
    let found: Element | undefined;
    await this.until(() => (found = this.stanzas.find(pred)) !== undefined, timeoutMs, "a stanza");
    return found!;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await this.until(() => this.closed, timeoutMs, "the connection to close");
  }

  async until(cond: () => boolean, timeoutMs = 5000, what = "a condition"): Promise<void> {
    if (cond()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`${this.domain}: timed out waiting for ${what}; error=${this.streamError} stanzas=${this.stanzas.map(String).join(" ").slice(-600)}`));
      }, timeoutMs);
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  close(): void {
    this.write("</stream:stream>");
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private autoAnswer(el: Element): void {
    if (el.name !== "iq" || (el.attrs.type !== "get" && el.attrs.type !== "set") || !this.answer) return;
    const reply = this.answer(el);
    if (reply) this.send(reply);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** A TCP port free on loopback right now (for listeners whose 0 means "off"). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Waits until the server's disco#items on every node lists `domain` (or, with `listed` false,
 * no longer does): every edge then knows where the component is, or that it has gone. Asks as
 * `watcher`, an existing account.
 */
export async function untilEveryEdgeLists(ts: TestServer, watcher: string, domain: string, listed = true, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const node of ts.nodes) {
    const c = await connect(ts, watcher, { resource: `watch-${Math.random().toString(36).slice(2)}`, node });
    try {
      for (;;) {
        const items = await c.iq(xml("iq", { type: "get", to: ts.domain }, xml("query", { xmlns: "http://jabber.org/protocol/disco#items" })));
        const jids = items.getChild("query")?.getChildren("item").map((i) => i.attrs.jid) ?? [];
        if (jids.includes(domain) === listed) break;
        if (Date.now() > deadline) throw new Error(`${domain} is ${listed ? "not yet" : "still"} in disco#items on ${node.host.nodeId}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await c.stop();
    }
  }
}
