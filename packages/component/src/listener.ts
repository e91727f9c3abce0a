/**
 * The XEP-0114 listener on components.port: plain TCP (the protocol predates STARTTLS; run it
 * on loopback or a private network, as ejabberd and Prosody advise), one stream engine with the
 * component policy per connection. Connections that have not handshaken yet are bounded in time
 * (limits.handshakeTimeoutSeconds) and in number (MAX_UNAUTHENTICATED per process: there are
 * only as many components as configured), so a port left open to the world cannot be used to
 * hold sockets; past the cap a new connection is closed at accept. Closing the listener ends
 * every component stream with `<system-shutdown/>`.
 */
import net from "node:net";
import { StreamError, type ParserLimits } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import { TcpTransport, type StreamEngine } from "@switchboard/stream";
import { NS_COMPONENT, openComponentStream, type ComponentStreamOptions } from "./component-stream.js";

/** connections not yet handshaken, per process */
export const MAX_UNAUTHENTICATED = 64;

export interface ComponentListenerOptions extends ComponentStreamOptions {
  bind: string;
  port: number;
  parser: ParserLimits;
}

export interface ComponentListener {
  readonly port: number;
  stopAccepting(): void;
  close(graceMs: number): Promise<void>;
}

export async function listenForComponents(host: Host, opts: ComponentListenerOptions): Promise<ComponentListener> {
  const streams = new Set<StreamEngine>();
  const sockets = new Set<net.Socket>();
  let unauthenticated = 0;
  let refusing = false;
  const server = net.createServer((socket) => {
    if (unauthenticated >= MAX_UNAUTHENTICATED) {
      if (!refusing) host.log.warn({ cap: MAX_UNAUTHENTICATED, ip: socket.remoteAddress }, "component port: too many connections without a handshake, closing new ones");
      refusing = true;
      socket.destroy();
      return;
    }
    refusing = false;
    unauthenticated++;
    let counted = true;
    const handshaken = () => {
      if (!counted) return;
      counted = false;
      unauthenticated--;
    };
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const stream = openComponentStream(host, new TcpTransport(socket, opts.parser, undefined, NS_COMPONENT), opts, handshaken);
    streams.add(stream);
    socket.once("close", () => streams.delete(stream));
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(`components.port ${opts.port} on ${opts.bind}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(opts.port, opts.bind, () => resolve((server.address() as net.AddressInfo).port));
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    stopAccepting: () => server.close(),
    close: (graceMs) =>
      (closing ??= (async () => {
        server.close();
        for (const stream of streams) stream.close(new StreamError("system-shutdown", "the server is stopping"));
        const deadline = Date.now() + graceMs;
        while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        for (const socket of sockets) socket.destroy();
      })()),
  };
}
