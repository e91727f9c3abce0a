/**
 * The s2s port (RFC 6120 §3.2, 5269 by default): accept, cap connections per address
 * (s2s.connectionsPerIp, before any TLS or XML work), and run each connection as a stream
 * engine with the inbound server policy (inbound.ts) over the TCP transport in jabber:server.
 */
import net from "node:net";
import { NS_SERVER, StreamError } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { StreamEngine, TcpTransport, normaliseIp } from "@switchboard/stream";
import { InboundPolicy, type InboundDeps } from "./inbound.js";
import type { S2sOptions } from "./options.js";

export class S2sListener {
  private readonly server: net.Server;
  private readonly streams = new Set<StreamEngine>();
  private readonly perIp = new Map<string, number>();

  constructor(
    private readonly host: Host,
    private readonly opts: S2sOptions,
    private readonly deps: Omit<InboundDeps, "host" | "opts" | "ended">,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === "EADDRINUSE" ? `s2s.port ${this.opts.port} is already in use on ${this.opts.bind}` : `cannot listen on ${this.opts.bind}:${this.opts.port} for s2s.port (${err.code ?? err.message})`, { cause: err }));
      this.server.once("error", fail);
      this.server.listen(this.opts.port, this.opts.bind, () => {
        this.server.off("error", fail);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** inbound streams open now */
  get size(): number {
    return this.streams.size;
  }

  private accept(socket: net.Socket): void {
    const ip = normaliseIp(socket.remoteAddress ?? "unknown");
    const held = this.perIp.get(ip) ?? 0;
    if (this.opts.connectionsPerIp > 0 && held >= this.opts.connectionsPerIp) {
      this.host.log.warn({ policy: "s2s.connectionsPerIp", ip, held }, "s2s connection refused: too many from this address");
      socket.destroy();
      return;
    }
    this.perIp.set(ip, held + 1);
    socket.on("error", () => {});
    const transport = new TcpTransport(socket, this.opts.parser, undefined, NS_SERVER);
    const policy = new InboundPolicy({
      ...this.deps,
      host: this.host,
      opts: this.opts,
      ended: (stream) => {
        this.streams.delete(stream);
        const left = (this.perIp.get(ip) ?? 1) - 1;
        if (left <= 0) this.perIp.delete(ip);
        else this.perIp.set(ip, left);
      },
    });
    this.streams.add(new StreamEngine(this.host, transport, policy));
  }

  stopAccepting(): void {
    this.server.close();
  }

  /** closes every inbound stream with <system-shutdown/>, cutting what is left after graceMs */
  async close(graceMs: number): Promise<void> {
    this.stopAccepting();
    for (const stream of this.streams) stream.close(new StreamError("system-shutdown", "the server is stopping"));
    const deadline = Date.now() + graceMs;
    while (this.streams.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const stream of this.streams) stream.destroy("shutdown deadline");
  }
}
