/**
 * `switchboard start` as a real subprocess: a signal-initiated stop ends within
 * shutdown.drainSeconds whatever the connections are doing, frees the ports and exits 0; start-up
 * failures are one line naming the setting, with a non-zero exit code and no stack.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../../..");
/**
 * One OS process, as `pnpm switchboard start` runs it (node with the tsx loader): the tsx CLI
 * would put a wrapper of its own between the test's signals and the server.
 */
const node = [process.execPath, "--conditions=source", "--import", "tsx"] as const;
const main = join(repoRoot, "packages/cli/src/main.ts");

interface Started {
  child: ChildProcess;
  ports: { c2s: number; c2sTls: number; http: number };
  output: () => string;
  exited: Promise<{ code: number | null; at: number }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env, SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: "", SWITCHBOARD_DATA_DIR: mkdtempSync(join(tmpdir(), "sb-start-")),
    SWITCHBOARD_LOG_FORMAT: "json", SWITCHBOARD_LOG_LEVEL: "info", SWITCHBOARD_C2S_PORT: "0", SWITCHBOARD_C2S_TLS_PORT: "0",
    SWITCHBOARD_HTTP_PORT: "0", SWITCHBOARD_HTTP_TLS_PORT: "0", SWITCHBOARD_S2S_PORT: "0", SWITCHBOARD_BIND: "127.0.0.1", ...extra,
  };
}

async function start(env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(node[0], [...node.slice(1), main, "start"], { cwd: repoRoot, env: baseEnv(env) });
  children.push(child);
  let output = "";
  const exited = new Promise<{ code: number | null; at: number }>((done) => child.on("exit", (code) => done({ code, at: Date.now() })));
  const started = await new Promise<boolean>((done) => {
    child.stdout!.on("data", (chunk) => {
      output += String(chunk);
      if (output.includes('"msg":"switchboard started"')) done(true);
    });
    child.stderr!.on("data", (chunk) => (output += String(chunk)));
    void exited.then(() => done(false));
  });
  expect(started, output).toBe(true);
  const line = output.split("\n").find((l) => l.includes('"msg":"switchboard started"'))!;
  return { child, ports: JSON.parse(line).ports, output: () => output, exited };
}

async function openSocket(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  return socket;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A logged-in-looking client that never closes its side: it holds a TLS session and ignores </stream:stream>. */
async function stubbornTlsClient(port: number): Promise<tls.TLSSocket> {
  const socket = tls.connect({ port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false, ALPNProtocols: ["xmpp-client"] });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  socket.write("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  return socket;
}

describe("switchboard start: a stop that always ends", { timeout: 60_000 }, () => {
  it.each(["SIGINT", "SIGTERM"] as const)("%s with a client stuck in the TLS handshake ends within drainSeconds, exit 0, ports freed", async (signal) => {
    // limits.tlsHandshakeSeconds far above the drain: only the shutdown can end that socket.
    const server = await start({ SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: "2", SWITCHBOARD_LIMITS_TLS_HANDSHAKE_SECONDS: "300" });
    const stuck = await openSocket(server.ports.c2sTls); // never sends a ClientHello
    const streaming = await stubbornTlsClient(server.ports.c2sTls);
    const half = await openSocket(server.ports.http);
    half.write("GET /xmpp-websocket HTTP/1.1\r\n");
    await new Promise((r) => setTimeout(r, 200));
    const signalled = Date.now();
    server.child.kill(signal);
    const { code, at } = await server.exited;
    expect(code, server.output()).toBe(0);
    expect(at - signalled).toBeLessThan(2_000 + 1_500);
    for (const port of Object.values(server.ports)) expect(await portIsFree(port), `port ${port}`).toBe(true);
    for (const s of [stuck, streaming, half]) s.destroy();
  });

  it("with drainSeconds 0 cuts everything at once and still exits 0", async () => {
    const server = await start({ SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: "0" });
    const streaming = await stubbornTlsClient(server.ports.c2sTls);
    const signalled = Date.now();
    server.child.kill("SIGINT");
    const { code, at } = await server.exited;
    expect(code).toBe(0);
    expect(at - signalled).toBeLessThan(1_500);
    streaming.destroy();
  });

  it("treats a second SIGINT right after the first as the same Ctrl-C (a wrapper forwarding it)", async () => {
    const server = await start({ SWITCHBOARD_SHUTDOWN_DRAIN_SECONDS: "2" });
    server.child.kill("SIGINT");
    server.child.kill("SIGINT");
    expect((await server.exited).code).toBe(0);
  });
});

describe("switchboard start: start-up failures are one line", { timeout: 60_000 }, () => {
  /** Runs `start` to its end without blocking the test worker (see cli.test.ts). */
  function startSync(env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(node[0], [...node.slice(1), main, "start"], { cwd: repoRoot, env: baseEnv(env) });
      children.push(child);
      let stderr = "";
      child.stderr.on("data", (chunk) => (stderr += String(chunk)));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stderr }));
    });
  }

  it("names the port already in use", async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const run = await startSync({ SWITCHBOARD_C2S_TLS_PORT: String(port), SWITCHBOARD_LOG_LEVEL: "warn" });
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(`switchboard: c2s.tlsPort ${port} is already in use on 127.0.0.1 (another server, or an earlier Switchboard still running?)\n`);
      const http = await startSync({ SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_LOG_LEVEL: "warn" });
      expect(http.stderr).toMatch(new RegExp(`^switchboard: http.port ${port} is already in use`));
      expect(http.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      taken.close();
    }
  });

  it("names a certificate file that cannot be read, and shows the stack only at debug", async () => {
    const run = await startSync({ SWITCHBOARD_TLS_CERT: "/nonexistent/cert.pem", SWITCHBOARD_TLS_KEY: "/nonexistent/key.pem", SWITCHBOARD_LOG_LEVEL: "warn" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("switchboard: tls: tls.cert: cannot read /nonexistent/cert.pem (ENOENT)\n");
    const debug = await startSync({ SWITCHBOARD_TLS_CERT: "/nonexistent/cert.pem", SWITCHBOARD_TLS_KEY: "/nonexistent/key.pem", SWITCHBOARD_LOG_LEVEL: "debug" });
    expect(debug.stderr).toMatch(/^switchboard: tls: tls.cert: cannot read/);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("refuses a YAML boolean written as yes, naming the key and the accepted form", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-start-"));
    writeFileSync(join(dir, "sb.yaml"), "c2s:\n  requireTls: yes\n");
    const run = await startSync({ SWITCHBOARD_CONFIG: join(dir, "sb.yaml") });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^switchboard: config: c2s.requireTls: must be true or false \(a YAML boolean, no quotes\), got "yes"/);
  });

  it("warns about a SWITCHBOARD_* variable that names no key and starts anyway", async () => {
    const server = await start({ SWITCHBOARD_C2S_PROT: "5222" });
    expect(server.output()).toContain("switchboard: warning: environment variable SWITCHBOARD_C2S_PROT names no configuration key; did you mean SWITCHBOARD_C2S_PORT?");
    server.child.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });
});
