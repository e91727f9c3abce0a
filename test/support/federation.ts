/**
 * Two Switchboards federating on loopback: `a.test` and `b.test`, each reaching the other
 * through `s2s.routes` (no DNS query, ever). In cluster mode each is a two-node cluster; the
 * other domain's route names its first node, so the second node's outbound streams are
 * verified by the first (the dialback key is the cluster's, not the node's).
 */
import type { DeepPartial, SwitchboardConfig } from "@switchboard/server";
import { freePort } from "./processes.js";
import { TEST_MODE, startTestServer, type TestServer } from "./server.js";

export interface FederatedPair {
  a: TestServer;
  b: TestServer;
  /** s2s ports per node, per domain */
  ports: { a: number[]; b: number[] };
  stop(): Promise<void>;
}

type S2sSettings = DeepPartial<SwitchboardConfig>["s2s"];

export async function startFederatedPair(
  opts: { a?: S2sSettings; b?: S2sSettings; extraRoutes?: Record<string, string>; /** other top-level settings per side */ config?: { a?: DeepPartial<SwitchboardConfig>; b?: DeepPartial<SwitchboardConfig> } } = {},
): Promise<FederatedPair> {
  const nodes = TEST_MODE === "cluster" ? 2 : 1;
  const ports = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < nodes; i++) ports.a.push(await freePort()), ports.b.push(await freePort());
  const settings = (own: "a" | "b", other: "a" | "b", i: number): S2sSettings => ({
    port: ports[own][i],
    // the other side's MUC service is a domain of its own, at the same server
    routes: { [`${other}.test`]: `127.0.0.1:${ports[other][0]}`, [`conference.${other}.test`]: `127.0.0.1:${ports[other][0]}`, ...opts.extraRoutes },
    ...opts[own],
  });
  const a = await startTestServer({ domain: "a.test", ...opts.config?.a }, { perNode: (i) => ({ s2s: settings("a", "b", i) }) });
  let b: TestServer;
  try {
    b = await startTestServer({ domain: "b.test", ...opts.config?.b }, { perNode: (i) => ({ s2s: settings("b", "a", i) }) });
  } catch (err) {
    await a.stop();
    throw err;
  }
  return {
    a,
    b,
    ports,
    async stop() {
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}
