/**
 * An ejabberd (Debian's, /usr/sbin/ejabberdctl) of its own for interop tests: config, inetrc,
 * Mnesia spool and logs in a temp dir owned by the `ejabberd` user (ejabberdctl drops to it),
 * its own Erlang node name, c2s and s2s ports on 127.0.0.1, run in the foreground and stopped at
 * the end. Erlang's resolver is pointed by inetrc at a FakeDns on loopback and nothing else, so
 * ejabberd finds our test domain by SRV and no query leaves the machine. Dialback
 * (mod_s2s_dialback) over STARTTLS, self-signed certificates both ways.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, track, waitForPort } from "./processes.js";

export const EJABBERDCTL = "/usr/sbin/ejabberdctl";

export function ejabberdInstalled(): boolean {
  return existsSync(EJABBERDCTL) && spawnSync("sh", ["-c", "command -v openssl erl && getent passwd ejabberd"]).status === 0;
}

export class Ejabberd {
  private child?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "sb-ejabberd-"));
  readonly node = `sbtest${process.pid}${Math.floor(Math.random() * 1e6)}@localhost`;
  private constructor(
    readonly domain: string,
    readonly ports: { c2s: number; s2s: number },
    private readonly dnsPort: number,
  ) {}

  static async prepare(domain: string, dnsPort: number): Promise<Ejabberd> {
    return new Ejabberd(domain, { c2s: await freePort(), s2s: await freePort() }, dnsPort);
  }

  get log(): string {
    const logs = join(this.dir, "logs");
    if (!existsSync(logs)) return "";
    return readdirSync(logs).map((f) => readFileSync(join(logs, f), "utf8")).join("\n");
  }

  private ctlArgs(...args: string[]): string[] {
    return ["-n", this.node, "-d", this.dir, "-f", join(this.dir, "ejabberd.yml"), "-s", join(this.dir, "spool"), "-l", join(this.dir, "logs"), ...args];
  }

  private ctl(...args: string[]): ReturnType<typeof spawnSync> {
    return spawnSync(EJABBERDCTL, this.ctlArgs(...args), { encoding: "utf8", cwd: this.dir });
  }

  private writeConfig(): void {
    const d = this.dir;
    const openssl = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${this.domain}`,
      "-addext", `subjectAltName=DNS:${this.domain}`, "-keyout", join(d, "key.pem"), "-out", join(d, "cert.pem")], { stdio: "ignore" });
    if (openssl.status !== 0) throw new Error("openssl could not make a certificate for ejabberd");
    writeFileSync(join(d, "ejabberd.pem"), readFileSync(join(d, "cert.pem"), "utf8") + readFileSync(join(d, "key.pem"), "utf8"));
    // Erlang's resolver (inetrc): `localhost` and this machine's name for the node names
    // (ejabberdctl reaches the node by Erlang distribution), our DNS for everything else; no
    // resolv.conf and no hosts file ("" turns each off: an empty file of our own was re-read
    // now and then, and the name server went with it: one run in five asked nobody)
    writeFileSync(join(d, "inetrc"), `{lookup, [file, dns]}.\n{host, {127,0,0,1}, ["localhost", "${hostname()}"]}.\n{resolv_conf, ""}.\n{hosts_file, ""}.\n{nameserver, {127,0,0,1}, ${this.dnsPort}}.\n{timeout, 1000}.\n{retry, 1}.\n`);
    writeFileSync(join(d, "ejabberd.yml"), `
hosts: ["${this.domain}"]
loglevel: info
certfiles: ["${d}/ejabberd.pem"]
ca_file: "${d}/cert.pem"
listen:
  - { port: ${this.ports.c2s}, ip: "127.0.0.1", module: ejabberd_c2s, starttls: true }
  - { port: ${this.ports.s2s}, ip: "127.0.0.1", module: ejabberd_s2s_in }
s2s_use_starttls: required
outgoing_s2s_families: [ipv4]
s2s_dns_timeout: 2
auth_method: internal
acl: { local: { user_regexp: "" } }
access_rules: { local: { allow: local }, c2s: { allow: all }, s2s: { allow: all } }
s2s_access: s2s
modules:
  mod_roster: {}
  mod_disco: {}
  mod_s2s_dialback: {}
  mod_offline: {}
  mod_ping: {}
  mod_muc: { host: "conference.${this.domain}", access_create: all, access: all, default_room_options: { allow_subscription: false } }
`);
    for (const sub of ["spool", "logs"]) mkdirSync(join(d, sub));
    const owner = spawnSync("id", ["-u", "ejabberd"], { encoding: "utf8" });
    const group = spawnSync("id", ["-g", "ejabberd"], { encoding: "utf8" });
    const [uid, gid] = [Number(owner.stdout.trim()), Number(group.stdout.trim())];
    for (const f of ["", "spool", "logs", "ejabberd.yml", "ejabberd.pem", "cert.pem", "key.pem", "inetrc"]) chownSync(join(d, f), uid, gid);
  }

  async start(users: string[]): Promise<void> {
    this.writeConfig();
    this.child = track(spawn(EJABBERDCTL, this.ctlArgs("foreground"), { stdio: "ignore", cwd: this.dir }));
    await waitForPort(this.ports.c2s, 60_000);
    await waitForPort(this.ports.s2s, 10_000);
    for (const user of users) {
      const r = this.ctl("register", user, this.domain, "secret");
      if (r.status !== 0) throw new Error(`ejabberdctl register ${user} failed: ${String(r.stdout)}${String(r.stderr)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once("exit", r));
      // ejabberdctl runs the node through su, in a session of its own: stop it by name, then
      // make sure no process of this node (found by its node name) is left
      await new Promise((r) => execFile(EJABBERDCTL, this.ctlArgs("stop"), { cwd: this.dir, timeout: 15_000 }, r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    for (const pid of this.nodeProcesses()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    if (!process.env.SB_KEEP_EJABBERD) rmSync(this.dir, { recursive: true, force: true });
  }

  /** the processes started for this node (their command line names it) */
  private nodeProcesses(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(this.node)) pids.push(Number(entry));
      } catch {}
    }
    return pids;
  }
}
