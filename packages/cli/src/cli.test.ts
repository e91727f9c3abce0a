/**
 * The `switchboard` command run as a real subprocess (tsx on the sources), each test with its own
 * data directory, the way an operator runs it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(import.meta.dirname, "../../..");
const tsx = join(repoRoot, "node_modules/.bin/tsx");
const main = join(repoRoot, "packages/cli/src/main.ts");

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function freshDataDir(): string {
  return mkdtempSync(join(tmpdir(), "sb-cli-"));
}

/**
 * Runs the command without blocking the test worker (a spawnSync per call would freeze vitest's
 * own RPC for the length of a multi-spawn test, which it reports as an error on a busy machine).
 */
function switchboard(dataDir: string, args: string[], input = "", env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, ["--conditions=source", main, ...args], {
      cwd: repoRoot,
      // SWITCHBOARD_CONFIG cleared so a developer's own setting cannot leak in.
      env: { ...process.env, SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: "", SWITCHBOARD_DATA_DIR: dataDir, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += String(chunk)));
    child.stderr.on("data", (chunk) => (stderr += String(chunk)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

// Each spawn compiles the sources with tsx (about a second), so give the multi-spawn tests room.
describe("switchboard CLI", { timeout: 90_000 }, () => {
  it("prints usage listing every command for --help and help", async () => {
    for (const args of [["--help"], ["help"]]) {
      const run = await switchboard(freshDataDir(), args);
      expect(run.status).toBe(0);
      for (const command of ["start", "user add", "user passwd", "user del", "user list", "user import"]) {
        expect(run.stdout).toContain(command);
      }
    }
  });

  it("rejects an unknown command and an unknown option with exit code 2", async () => {
    const unknown = await switchboard(freshDataDir(), ["frobnicate"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^switchboard: unknown command "frobnicate"/);
    const option = await switchboard(freshDataDir(), ["user", "list", "--frob"]);
    expect(option.status).toBe(2);
    expect(option.stderr).toMatch(/^switchboard: unknown option --frob/);
  });

  it("refuses bad --iterations and --role values and garbage for bench, with exit code 2", async () => {
    const dir = freshDataDir();
    const few = await switchboard(dir, ["user", "add", "x@localhost", "pw", "--iterations", "10"]);
    expect(few.status).toBe(2);
    expect(few.stderr).toMatch(/^switchboard: --iterations must be an integer from 4096/);
    expect((await switchboard(dir, ["user", "list"])).stdout).not.toContain("x@localhost");
    const role = await switchboard(dir, ["start", "--role", "router"]);
    expect(role.status).toBe(1);
    expect(role.stderr).toMatch(/role/);
    const edge = await switchboard(dir, ["start", "--role", "edge,edge"]);
    expect(edge.status).toBe(1);
    expect(edge.stderr).toMatch(/role: names a role twice/);
    const half = await switchboard(dir, ["start", "--role", "edge"], "", { SWITCHBOARD_REDIS_URL: "redis://127.0.0.1:6379" });
    expect(half.status).toBe(1);
    expect(half.stderr).toMatch(/natsUrl: must be set too/);
    const bench = await switchboard(dir, ["bench", "run", "--host", "192.0.2.1", "--scenario", "idle"]);
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/only loopback/);
  });

  it("adds, lists, changes the password of and deletes users", async () => {
    const dir = freshDataDir();
    const add = await switchboard(dir, ["user", "add", "Alice@localhost", "s3cret"]);
    expect(add.stderr).toBe("");
    expect(add.status).toBe(0);
    expect(add.stdout).toContain("alice@localhost");
    expect((await switchboard(dir, ["user", "add", "bob@localhost", "pw"])).status).toBe(0);

    const list = await switchboard(dir, ["user", "list"]);
    expect(list.status).toBe(0);
    expect(list.stdout).toBe("alice@localhost\nbob@localhost\n");

    expect((await switchboard(dir, ["user", "passwd", "alice@localhost", "n3w"])).status).toBe(0);

    const del = await switchboard(dir, ["user", "del", "bob@localhost"]);
    expect(del.status).toBe(0);
    expect((await switchboard(dir, ["user", "list"])).stdout).toBe("alice@localhost\n");
  });

  it("refuses to add an existing user with exit code 1", async () => {
    const dir = freshDataDir();
    expect((await switchboard(dir, ["user", "add", "alice@localhost", "pw"])).status).toBe(0);
    const again = await switchboard(dir, ["user", "add", "alice@localhost", "other"]);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe("switchboard: user alice@localhost already exists\n");
  });

  it("refuses passwd and del for a missing user", async () => {
    const dir = freshDataDir();
    const passwd = await switchboard(dir, ["user", "passwd", "ghost@localhost", "pw"]);
    expect(passwd.status).toBe(1);
    expect(passwd.stderr).toContain("ghost@localhost does not exist");
    const del = await switchboard(dir, ["user", "del", "ghost@localhost"]);
    expect(del.status).toBe(1);
    expect(del.stderr).toContain("ghost@localhost does not exist");
  });

  it("refuses invalid JIDs and JIDs of another domain", async () => {
    const dir = freshDataDir();
    for (const jid of ["no-at-sign", "a b@localhost", "alice@localhost/phone", "@localhost"]) {
      const run = await switchboard(dir, ["user", "add", jid, "pw"]);
      expect(run.status, jid).toBe(2);
      expect(run.stderr, jid).toMatch(/^switchboard: invalid JID/);
    }
    const foreign = await switchboard(dir, ["user", "add", "alice@example.org", "pw"]);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toContain('is not the configured domain "localhost"');
    // --domain applies to user commands too.
    expect((await switchboard(dir, ["user", "add", "alice@example.org", "pw", "--domain", "example.org"])).status).toBe(0);
    expect((await switchboard(dir, ["--domain", "example.org", "user", "list"])).stdout).toBe("alice@example.org\n");
  });

  it("says what is wrong with a JID typed with spaces instead of printing only the usage line", async () => {
    const run = await switchboard(freshDataDir(), ["user", "add", "not", "a", "jid"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('switchboard: invalid JID "not": expected user@localhost; a JID has no spaces (got 3 arguments: "not a jid")\n');
    const tooMany = await switchboard(freshDataDir(), ["user", "add", "alice@localhost", "pw", "extra"]);
    expect(tooMany.stderr).toBe("switchboard: usage: switchboard user add <jid> [password]\n");
  });

  it("reports an unreachable Redis in one line, without ioredis noise", async () => {
    const run = await switchboard(freshDataDir(), ["user", "list"], "", { SWITCHBOARD_REDIS_URL: "redis://127.0.0.1:1" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("switchboard: cannot reach Redis at redis://127.0.0.1:1 (redisUrl): connect ECONNREFUSED 127.0.0.1:1\n");
  });

  it("reads the password from stdin when omitted, and refuses an empty one", async () => {
    const dir = freshDataDir();
    const add = await switchboard(dir, ["user", "add", "carol@localhost"], "from-stdin\n");
    expect(add.status).toBe(0);
    expect((await switchboard(dir, ["user", "list"])).stdout).toBe("carol@localhost\n");
    const empty = await switchboard(dir, ["user", "add", "dave@localhost"], "\n");
    expect(empty.status).toBe(2);
    expect(empty.stderr).toBe("switchboard: empty password\n");
    expect((await switchboard(dir, ["user", "list"])).stdout).toBe("carol@localhost\n");
  });

  it("imports users, reporting bad lines by number and carrying on", async () => {
    const dir = freshDataDir();
    expect((await switchboard(dir, ["user", "add", "existing@localhost", "pw"])).status).toBe(0);
    const file = join(dir, "users.txt");
    writeFileSync(
      file,
      ["# accounts", "u1@localhost one", "", "just-a-jid@localhost", "u2@localhost two words", "existing@localhost pw", "x@elsewhere pw"].join("\n"),
    );
    const run = await switchboard(dir, ["user", "import", file]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("switchboard: line 4: expected");
    expect(run.stderr).toContain("switchboard: line 7: invalid JID");
    expect(run.stdout).toContain("created 2, existed 1, bad 2");
    expect((await switchboard(dir, ["user", "list"])).stdout).toBe("existing@localhost\nu1@localhost\nu2@localhost\n");
  });

  it("imports from stdin and exits 0 when every line is good", async () => {
    const dir = freshDataDir();
    const run = await switchboard(dir, ["user", "import"], "a@localhost pa\r\nb@localhost pb\n");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("created 2, existed 0, bad 0");
  });

  it("reports a bad configuration with exit code 1 naming the variable", async () => {
    const run = await switchboard(freshDataDir(), ["user", "list"], "", { SWITCHBOARD_C2S_PORT: "abc" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('switchboard: config: c2s.port: must be an integer from 0 to 65535, got "abc" (from SWITCHBOARD_C2S_PORT)\n');
    const missingFile = await switchboard(freshDataDir(), ["user", "list", "--config", "/nonexistent/sb.yaml"]);
    expect(missingFile.status).toBe(1);
    expect(missingFile.stderr).toContain("/nonexistent/sb.yaml");
  });

  it("starts the server and exits 0 on SIGTERM", async () => {
    const child = spawn(tsx, ["--conditions=source", main, "start", "--log-level", "info"], {
      cwd: repoRoot,
      env: {
        ...process.env, SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: "", SWITCHBOARD_DATA_DIR: freshDataDir(),
        SWITCHBOARD_LOG_FORMAT: "json", SWITCHBOARD_C2S_PORT: "0", SWITCHBOARD_C2S_TLS_PORT: "0", SWITCHBOARD_HTTP_PORT: "0", SWITCHBOARD_S2S_PORT: "0",
        SWITCHBOARD_HTTP_TLS_PORT: "0", SWITCHBOARD_BIND: "127.0.0.1",
      },
    });
    let output = "";
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    const started = await new Promise<boolean>((done) => {
      child.stdout.on("data", (chunk) => {
        output += String(chunk);
        if (output.includes('"msg":"switchboard started"')) done(true);
      });
      child.stderr.on("data", (chunk) => (output += String(chunk)));
      void exited.then(() => done(false));
    });
    expect(started, output).toBe(true);
    const startedLine = output.split("\n").find((line) => line.includes('"msg":"switchboard started"'))!;
    expect(JSON.parse(startedLine).ports.c2s).toBeGreaterThan(0);
    child.kill("SIGTERM");
    expect(await exited, output).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});
