/**
 * Edges must share one certificate and one server secret: an edge that differs from a live one
 * says so at start (naming the other edge), and edges started together on one shared data dir
 * generate a single certificate and secret between them.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBackends, type TestBackends } from "../support/backends.js";
import { EdgeProcess } from "../support/edge-process.js";

let backends: TestBackends;
const edges: EdgeProcess[] = [];
const shared = mkdtempSync(join(tmpdir(), "sb-shared-"));

beforeAll(async () => {
  backends = await startBackends({ local: true });
}, 60_000);
afterAll(async () => {
  for (const e of edges) await e.stop();
  await backends?.stop();
  rmSync(shared, { recursive: true, force: true });
});

const common = () => ({ redisUrl: backends.redisUrl, natsUrl: backends.natsUrl, prefix: backends.prefix });
const warnedAbout = (edge: EdgeProcess, other: string) => edge.output.split("\n").filter((l) => l.includes(`differs from edge ${other}'s`));

describe("cluster identity", () => {
  it("warns at start when this edge's certificate and secret differ from a live edge's", async () => {
    const a = await EdgeProcess.start({ ...common(), nodeId: "id-a" });
    edges.push(a);
    const b = await EdgeProcess.start({ ...common(), nodeId: "id-b" });
    edges.push(b);
    const lines = warnedAbout(b, "id-a");
    expect(lines.some((l) => l.includes("TLS certificate differs")), b.output).toBe(true);
    expect(lines.some((l) => l.includes("server secret differs")), b.output).toBe(true);
    expect(warnedAbout(a, "id-b")).toEqual([]);
    expect(await a.terminate()).toBe(0);
    expect(await b.terminate()).toBe(0);
  }, 90_000);

  it("lets edges started together on one data dir share one certificate and secret, without warnings", async () => {
    const [c, d] = await Promise.all([
      EdgeProcess.start({ ...common(), nodeId: "id-c", dataDir: shared }),
      EdgeProcess.start({ ...common(), nodeId: "id-d", dataDir: shared }),
    ]);
    edges.push(c, d);
    expect(warnedAbout(c, "id-d"), c.output).toEqual([]);
    expect(warnedAbout(d, "id-c"), d.output).toEqual([]);
    expect(readFileSync(join(shared, "server-secret"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    const generated = [c, d].filter((e) => e.output.includes("generated a self-signed TLS certificate"));
    expect(generated).toHaveLength(1);
  }, 90_000);
});
