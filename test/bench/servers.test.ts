/**
 * The benchmark's Switchboard launcher: accounts imported before start-up, the server pinned to a
 * core and ready, a clean stop. ejabberd's launcher is too slow and heavy for the normal suite; run
 * it by hand (docs/benchmarks.md, "Checking the launchers").
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client } from "@xmpp/client";
import { startSwitchboard, type LaunchedServer } from "../../packages/bench/src/servers/index.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function login(server: LaunchedServer, username: string): Promise<void> {
  const t = server.target;
  const xmpp = client({ service: `xmpp://${t.endpoints[0]!.host}:${t.endpoints[0]!.port}`, domain: t.domain, username, password: t.password });
  xmpp.on("error", () => {});
  try {
    await xmpp.start();
  } finally {
    await xmpp.stop().catch(() => {});
  }
}

describe("benchmark launcher: switchboard single node", () => {
  let server: LaunchedServer;
  beforeAll(async () => {
    server = await startSwitchboard({ users: 5, core: 0, userPrefix: "u" });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("returns a loopback target whose pid is the pinned node process", () => {
    expect(server.target).toMatchObject({ name: "switchboard", domain: "localhost", userPrefix: "u", tls: true });
    expect(server.target.endpoints).toEqual([{ host: "127.0.0.1", port: expect.any(Number) }]);
    const [pid] = server.target.serverPids;
    // taskset and the sh wrapper exec, so the pid is node itself and RSS readings are the server's
    expect(readFileSync(`/proc/${pid}/comm`, "utf8").trim()).toBe("node");
    expect(execFileSync("taskset", ["-p", String(pid)], { encoding: "utf8" })).toMatch(/affinity mask: 1$/m);
  });

  it("provisioned exactly the requested accounts before taking load", async () => {
    await login(server, "u0");
    await login(server, "u4");
    await expect(login(server, "u5")).rejects.toThrow(/not-authorized/);
  });

  it("stops the server process on stop()", async () => {
    const [pid] = server.target.serverPids;
    expect(alive(pid!)).toBe(true);
    await server.stop();
    expect(alive(pid!)).toBe(false);
    await server.stop(); // a second stop is harmless
  });
});
