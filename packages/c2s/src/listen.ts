/**
 * Opening a listening socket with an error an operator can act on: "c2s.port 5222 is already in
 * use" names the setting to change, where Node says only "listen EADDRINUSE: address already in
 * use 0.0.0.0:5222" with a stack.
 */
import type net from "node:net";

export class ListenError extends Error {
  override name = "ListenError";
  constructor(
    /** the configuration key naming the port */
    readonly key: string,
    readonly port: number,
    readonly bind: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(describe(key, port, bind, code), options);
  }
}

function describe(key: string, port: number, bind: string, code: string | undefined): string {
  switch (code) {
    case "EADDRINUSE":
      return `${key} ${port} is already in use on ${bind} (another server, or an earlier Switchboard still running?)`;
    case "EACCES":
      return `${key} ${port} needs privileges this process does not have (EACCES); use a port above 1023`;
    case "EADDRNOTAVAIL":
      return `bind ${bind} is not an address of this machine (EADDRNOTAVAIL), cannot open ${key} ${port}`;
    default:
      return `cannot listen on ${bind}:${port} for ${key}${code ? ` (${code})` : ""}`;
  }
}

/** Listens and resolves with the bound port (0 picks one), or rejects with a ListenError. */
export function listenOn(server: net.Server, bind: string, port: number, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(new ListenError(key, port, bind, err.code, { cause: err }));
    server.once("error", fail);
    server.listen(port, bind, () => {
      server.off("error", fail);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
