/**
 * A role: what a process serves on top of the shared core (backends, Host, modules, HTTP). The
 * process runs the roles its `role` setting names (config-schema.ts ROLES); each role starts its
 * listeners once the core is up and stops them first at shutdown.
 */
import type { Host } from "@switchboard/core";
import type { ComponentDirectory } from "@switchboard/component";
import type { Server as HttpServer } from "node:http";
import type { SwitchboardConfig } from "../config.js";
import type { TlsMaterial } from "../tls.js";

export interface RoleContext {
  cfg: SwitchboardConfig;
  host: Host;
  tls: TlsMaterial;
  /** the per-deployment secret (fake SCRAM salts, later dialback) */
  secret: Buffer;
  /** the process's HTTP server (/healthz, /readyz), for roles that serve on it */
  http: HttpServer;
  /** where external components (XEP-0114) are connected; the edge's listener claims domains in it */
  components: ComponentDirectory;
  /** the same over TLS on http.tlsPort (https.ts), when that is on */
  https?: HttpServer;
}

export interface RunningRole {
  readonly name: string;
  /** Closes its listeners; what it serves carries on until stop() (drain's first step). */
  stopAccepting(): void;
  /** Stops accepting and ends what it serves, destroying what is left after graceMs. */
  stop(graceMs: number): Promise<void>;
}
