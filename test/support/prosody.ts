/**
 * A Prosody (Debian's /usr/bin/prosody) of its own for interop tests: config, data, log and a
 * self-signed certificate in a temp dir, its own c2s and s2s ports on 127.0.0.1, run in the
 * foreground and killed at the end. Prosody has no static s2s routes, and no query may leave the
 * machine: its resolver (libunbound) answers `.test` names from a hosts file of its own
 * (`unbound.hoststxt`) and forwards nothing anywhere but a dead loopback port. unbound serves
 * `test.` as a static local zone (RFC 6761), so an SRV query for one of our domains is answered
 * NXDOMAIN locally and Prosody falls back to the address on 5269 (RFC 6120 §3.2.2): our test
 * server listens there on a loopback address of its own (see loopbackWithFreePort).
 * Dialback over STARTTLS with `s2s_secure_auth = false` (self-signed certificates both ways).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import { join } from "node:path";
import { freePort, signalAndWait, track, waitForPort } from "./processes.js";

export const PROSODY = "/usr/bin/prosody";

export function prosodyInstalled(): boolean {
  return existsSync(PROSODY) && spawnSync("sh", ["-c", "command -v openssl prosodyctl"]).status === 0;
}

export class Prosody {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "sb-prosody-"));
  private constructor(
    readonly domain: string,
    readonly ports: { c2s: number; s2s: number },
    /** our test domains and the loopback address each is at */
    private readonly hosts: Record<string, string>,
  ) {}

  /** picks the ports; start() runs it (the ports are needed for our own routes first) */
  static async prepare(domain: string, hosts: Record<string, string>): Promise<Prosody> {
    return new Prosody(domain, { c2s: await freePort(), s2s: await freePort() }, hosts);
  }

  get configFile(): string {
    return join(this.dir, "prosody.cfg.lua");
  }

  get log(): string {
    return existsSync(join(this.dir, "prosody.log")) ? readFileSync(join(this.dir, "prosody.log"), "utf8") : "";
  }

  private writeConfig(): void {
    const d = this.dir;
    const openssl = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${this.domain}`,
      "-addext", `subjectAltName=DNS:${this.domain}`, "-keyout", join(d, "key.pem"), "-out", join(d, "cert.pem")], { stdio: "ignore" });
    if (openssl.status !== 0) throw new Error("openssl could not make a certificate for Prosody");
    writeFileSync(join(d, "hosts"), Object.entries(this.hosts).map(([name, ip]) => `${ip} ${name}\n`).join(""));
    writeFileSync(this.configFile, `
run_as_root = true
daemonize = false
pidfile = "${d}/prosody.pid"
data_path = "${d}/data"
log = { { levels = { min = "debug" }, to = "file", filename = "${d}/prosody.log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${this.ports.c2s} }
s2s_ports = { ${this.ports.s2s} }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_plain"
unbound = { hoststxt = "${d}/hosts", resolvconf = false, forward = "127.0.0.1@9" }
modules_enabled = { "roster", "saslauth", "tls", "dialback", "disco", "ping", "offline" }
modules_disabled = { "s2s_bidi" }
ssl = { certificate = "${d}/cert.pem", key = "${d}/key.pem" }
VirtualHost "${this.domain}"
Component "conference.${this.domain}" "muc"
  restrict_room_creation = false
`);
  }

  async start(users: string[]): Promise<void> {
    this.writeConfig();
    for (const user of users) {
      const r = spawnSync("prosodyctl", ["--config", this.configFile, "register", user, this.domain, "secret"], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`prosodyctl register ${user} failed: ${r.stderr || r.stdout}`);
    }
    await this.run();
  }

  private async run(): Promise<void> {
    this.child = track(spawn(PROSODY, ["--config", this.configFile, "-F"], { stdio: "ignore", cwd: this.dir }));
    await waitForPort(this.ports.c2s, 15_000);
    await waitForPort(this.ports.s2s, 15_000);
  }

  /** stops and starts it again on the same data and ports */
  async restart(): Promise<void> {
    await signalAndWait(this.child, "SIGTERM");
    await this.run();
  }

  async stop(): Promise<void> {
    await signalAndWait(this.child, "SIGKILL");
    if (!process.env.SB_KEEP_PROSODY) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A loopback address (127.0.0.x) on which `port` is free, for a server a peer can only find on
 * the standard port (5269); the address is what keeps parallel test files apart.
 */
export async function loopbackWithFreePort(port: number): Promise<string> {
  const start = 10 + (process.pid % 200);
  for (let i = 0; i < 240; i++) {
    const address = `127.0.0.${10 + ((start + i) % 240)}`;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, address, () => server.close(() => resolve(true)));
    });
    if (free) return address;
  }
  throw new Error(`no loopback address with port ${port} free`);
}
