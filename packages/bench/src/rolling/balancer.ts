/**
 * A TCP balancer in front of the edges, as a Kubernetes Service or haproxy would be: each new
 * connection goes to the next edge that accepts it (round robin, skipping refused ones), bytes
 * are piped both ways, and when either side goes away the other is cut too — without an XML
 * stream close, so a client whose edge stopped or died sees a dropped connection and resumes
 * its session through the balancer on a live edge.
 */
import net from "node:net";

export interface Balancer {
  port: number;
  /** connections piped right now */
  readonly open: number;
  close(): Promise<void>;
}

export async function startBalancer(backendPorts: () => number[], host = "127.0.0.1"): Promise<Balancer> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    client.on("error", () => {});
    const ports = backendPorts();
    const attempt = (tries: number) => {
      if (tries >= ports.length || client.destroyed) return client.destroy();
      const port = ports[next++ % ports.length]!;
      const upstream = net.connect({ host, port });
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        sockets.add(upstream);
        upstream.setNoDelay(true);
        client.setNoDelay(true);
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
        const cut = () => {
          client.destroy();
          upstream.destroy();
        };
        upstream.on("close", cut);
        client.on("close", cut);
        upstream.on("error", () => {});
      });
      upstream.once("error", () => {
        if (!connected) attempt(tries + 1); // refused: the next edge
      });
      upstream.on("close", () => sockets.delete(upstream));
    };
    client.on("close", () => sockets.delete(client));
    attempt(0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get open() {
      return sockets.size;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
