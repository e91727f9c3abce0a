/**
 * The `switchboard` command run as a real subprocess (tsx on the sources), each test with its own
 * data directory, the way an operator runs it.
 */
import { spawn, spawnSync } from "node:child_process";
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

function switchboard(dataDir: string, args: string[], input = "", env: Record<string, string> = {}): Run {
  const result = spawnSync(tsx, ["--conditions=source", main, ...args], {
    cwd: repoRoot,
    input,
    encoding: "utf8",
    timeout: 20_000,
    // SWITCHBOARD_CONFIG cleared so a developer's own setting cannot leak in.
    env: { ...process.env, SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: "", SWITCHBOARD_DATA_DIR: dataDir, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Each spawn compiles the sources with tsx (about a second), so give the multi-spawn tests room.
describe("switchboard CLI", { timeout: 90_000 }, () => {
  it("prints usage listing every command for --help and help", () => {
    for (const args of [["--help"], ["help"]]) {
      const run = switchboard(freshDataDir(), args);
      expect(run.status).toBe(0);
      for (const command of ["start", "user add", "user passwd", "user del", "user list", "user import"]) {
        expect(run.stdout).toContain(command);
      }
    }
  });

  it("rejects an unknown command and an unknown option with exit code 2", () => {
    const unknown = switchboard(freshDataDir(), ["frobnicate"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^switchboard: unknown command "frobnicate"/);
    const option = switchboard(freshDataDir(), ["user", "list", "--frob"]);
    expect(option.status).toBe(2);
    expect(option.stderr).toMatch(/^switchboard: unknown option --frob/);
  });

  it("refuses bad --iterations and --role values and garbage for bench, with exit code 2", () => {
    const dir = freshDataDir();
    const few = switchboard(dir, ["user", "add", "x@localhost", "pw", "--iterations", "10"]);
    expect(few.status).toBe(2);
    expect(few.stderr).toMatch(/^switchboard: --iterations must be an integer from 4096/);
    expect(switchboard(dir, ["user", "list"]).stdout).not.toContain("x@localhost");
    const role = switchboard(dir, ["start", "--role", "router"]);
    expect(role.status).toBe(1);
    expect(role.stderr).toMatch(/role/);
    const edge = switchboard(dir, ["start", "--role", "edge"]);
    expect(edge.status).toBe(1);
    expect(edge.stderr).toMatch(/redisUrl: required when role is edge/);
    const bench = switchboard(dir, ["bench", "run", "--host", "192.0.2.1", "--scenario", "idle"]);
    expect(bench.status).toBe(2);
    expect(bench.stderr).toMatch(/only loopback/);
  });

  it("adds, lists, changes the password of and deletes users", () => {
    const dir = freshDataDir();
    const add = switchboard(dir, ["user", "add", "Alice@localhost", "s3cret"]);
    expect(add.stderr).toBe("");
    expect(add.status).toBe(0);
    expect(add.stdout).toContain("alice@localhost");
    expect(switchboard(dir, ["user", "add", "bob@localhost", "pw"]).status).toBe(0);

    const list = switchboard(dir, ["user", "list"]);
    expect(list.status).toBe(0);
    expect(list.stdout).toBe("alice@localhost\nbob@localhost\n");

    expect(switchboard(dir, ["user", "passwd", "alice@localhost", "n3w"]).status).toBe(0);

    const del = switchboard(dir, ["user", "del", "bob@localhost"]);
    expect(del.status).toBe(0);
    expect(switchboard(dir, ["user", "list"]).stdout).toBe("alice@localhost\n");
  });

  it("refuses to add an existing user with exit code 1", () => {
    const dir = freshDataDir();
    expect(switchboard(dir, ["user", "add", "alice@localhost", "pw"]).status).toBe(0);
    const again = switchboard(dir, ["user", "add", "alice@localhost", "other"]);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe("switchboard: user alice@localhost already exists\n");
  });

  it("refuses passwd and del for a missing user", () => {
    const dir = freshDataDir();
    const passwd = switchboard(dir, ["user", "passwd", "ghost@localhost", "pw"]);
    expect(passwd.status).toBe(1);
    expect(passwd.stderr).toContain("ghost@localhost does not exist");
    const del = switchboard(dir, ["user", "del", "ghost@localhost"]);
    expect(del.status).toBe(1);
    expect(del.stderr).toContain("ghost@localhost does not exist");
  });

  it("refuses invalid JIDs and JIDs of another domain", () => {
    const dir = freshDataDir();
    for (const jid of ["no-at-sign", "a b@localhost", "alice@localhost/phone", "@localhost"]) {
      const run = switchboard(dir, ["user", "add", jid, "pw"]);
      expect(run.status, jid).toBe(2);
      expect(run.stderr, jid).toMatch(/^switchboard: invalid JID/);
    }
    const foreign = switchboard(dir, ["user", "add", "alice@example.org", "pw"]);
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toContain('is not the configured domain "localhost"');
    // --domain applies to user commands too.
    expect(switchboard(dir, ["user", "add", "alice@example.org", "pw", "--domain", "example.org"]).status).toBe(0);
    expect(switchboard(dir, ["--domain", "example.org", "user", "list"]).stdout).toBe("alice@example.org\n");
  });

  it("reads the password from stdin when omitted, and refuses an empty one", () => {
    const dir = freshDataDir();
    const add = switchboard(dir, ["user", "add", "carol@localhost"], "from-stdin\n");
    expect(add.status).toBe(0);
    expect(switchboard(dir, ["user", "list"]).stdout).toBe("carol@localhost\n");
    const empty = switchboard(dir, ["user", "add", "dave@localhost"], "\n");
    expect(empty.status).toBe(2);
    expect(empty.stderr).toBe("switchboard: empty password\n");
    expect(switchboard(dir, ["user", "list"]).stdout).toBe("carol@localhost\n");
  });

  it("imports users, reporting bad lines by number and carrying on", () => {
    const dir = freshDataDir();
    expect(switchboard(dir, ["user", "add", "existing@localhost", "pw"]).status).toBe(0);
    const file = join(dir, "users.txt");
    writeFileSync(
      file,
      ["# accounts", "u1@localhost one", "", "just-a-jid@localhost", "u2@localhost two words", "existing@localhost pw", "x@elsewhere pw"].join("\n"),
    );
    const run = switchboard(dir, ["user", "import", file]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("switchboard: line 4: expected");
    expect(run.stderr).toContain("switchboard: line 7: invalid JID");
    expect(run.stdout).toContain("created 2, existed 1, bad 2");
    expect(switchboard(dir, ["user", "list"]).stdout).toBe("existing@localhost\nu1@localhost\nu2@localhost\n");
  });

  it("imports from stdin and exits 0 when every line is good", () => {
    const dir = freshDataDir();
    const run = switchboard(dir, ["user", "import"], "a@localhost pa\r\nb@localhost pb\n");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("created 2, existed 0, bad 0");
  });

  it("reports a bad configuration with exit code 1 naming the variable", () => {
    const run = switchboard(freshDataDir(), ["user", "list"], "", { SWITCHBOARD_C2S_PORT: "abc" });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('switchboard: config: c2s.port: must be an integer from 0 to 65535, got "abc" (from SWITCHBOARD_C2S_PORT)\n');
    const missingFile = switchboard(freshDataDir(), ["user", "list", "--config", "/nonexistent/sb.yaml"]);
    expect(missingFile.status).toBe(1);
    expect(missingFile.stderr).toContain("/nonexistent/sb.yaml");
  });

  it("starts the server and exits 0 on SIGTERM", async () => {
    const child = spawn(tsx, ["--conditions=source", main, "start", "--log-level", "info"], {
      cwd: repoRoot,
      env: {
        ...process.env, SWITCHBOARD_CONFIG: "", SWITCHBOARD_DOMAIN: "", SWITCHBOARD_DATA_DIR: freshDataDir(),
        SWITCHBOARD_LOG_FORMAT: "json", SWITCHBOARD_C2S_PORT: "0", SWITCHBOARD_C2S_TLS_PORT: "0", SWITCHBOARD_HTTP_PORT: "0",
        SWITCHBOARD_BIND: "127.0.0.1",
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
