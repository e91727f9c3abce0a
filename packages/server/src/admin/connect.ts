/**
 * How the `switchboard` admin commands reach a running server, from the settings the server
 * itself reads: in a cluster (redisUrl and natsUrl set) its NATS, where every node answers the
 * admin topic; on a single node nothing but its HTTP port (the CLI's HTTP client, behind the
 * token). This is the cluster half.
 */
import { NatsStanzaBus } from "@switchboard/nats";
import type { SwitchboardConfig } from "../config.js";
import { AdminClient, AdminUnreachableError } from "./admin-client.js";

const NATS_CONNECT_MS = 3_000;

export async function openClusterAdmin(cfg: Pick<SwitchboardConfig, "natsUrl" | "clusterPrefix">): Promise<{ client: AdminClient; close(): Promise<void> }> {
  const where = `NATS ${redact(cfg.natsUrl!)} (cluster prefix ${cfg.clusterPrefix})`;
  let bus: NatsStanzaBus;
  try {
    bus = await Promise.race([
      NatsStanzaBus.connect({ servers: cfg.natsUrl!.split(","), name: "switchboard-cli", subjectPrefix: cfg.clusterPrefix, oneShot: true }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${NATS_CONNECT_MS} ms`)), NATS_CONNECT_MS).unref()),
    ]);
  } catch (err) {
    throw new AdminUnreachableError(`cannot reach ${where}: ${(err as Error).message}`);
  }
  return { client: new AdminClient(bus, where), close: () => bus.close() };
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}
