/**
 * Finds the running server from the settings it reads itself (config file, SWITCHBOARD_*):
 * a cluster (redisUrl and natsUrl) through its NATS, every node answering; a single node
 * through its HTTP port with the admin token (--token, SWITCHBOARD_ADMIN_TOKEN, else
 * admin.tokenFile, default <dataDir>/admin-token).
 */
import { readFileSync } from "node:fs";
import type { SwitchboardConfig } from "@switchboard/server";
import { CommandError } from "../errors.js";
import type { CliIo } from "../io.js";
import { serverModule, type GlobalOptions } from "../options.js";
import { HttpAdminApi, type AdminApi } from "./http-client.js";

export interface AdminConnection {
  api: AdminApi;
  close(): Promise<void>;
}

export async function connectAdmin(cfg: SwitchboardConfig, options: GlobalOptions, io: CliIo): Promise<AdminConnection> {
  const server = await serverModule();
  if (cfg.redisUrl && cfg.natsUrl) {
    try {
      const { client, close } = await server.openClusterAdmin(cfg);
      return { api: client, close };
    } catch (err) {
      throw new CommandError((err as Error).message, { cause: err });
    }
  }
  const token = options.token ?? io.env.SWITCHBOARD_ADMIN_TOKEN ?? readToken(server.adminTokenFile(cfg));
  const host = cfg.bind === "0.0.0.0" || cfg.bind === "::" || cfg.bind === "" ? "127.0.0.1" : cfg.bind.includes(":") ? `[${cfg.bind}]` : cfg.bind;
  return { api: new HttpAdminApi(`http://${host}:${cfg.http.port}`, token), close: async () => {} };
}

function readToken(file: string): string {
  try {
    const token = readFileSync(file, "utf8").trim();
    if (token) return token;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CommandError(`no admin token: ${file} (admin.tokenFile) does not exist — is the server running on this data dir? (or pass --token / SWITCHBOARD_ADMIN_TOKEN)`);
    throw new CommandError(`cannot read the admin token from ${file} (admin.tokenFile): ${(err as Error).message}`);
  }
  throw new CommandError(`the admin token file ${file} (admin.tokenFile) is empty`);
}
