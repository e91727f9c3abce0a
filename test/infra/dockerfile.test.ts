/**
 * infra/Dockerfile cannot be built here (no Docker engine); these checks catch what reading it
 * would: files it copies that do not exist or that .dockerignore keeps out of the context, and
 * the runtime contract the compose file and Kubernetes manifests rely on.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseYaml, readRepoFile, repoRoot, at } from "./yaml.js";

const dockerfile = readRepoFile("infra/Dockerfile");
// Continuation lines joined, comments dropped: one instruction per entry.
const instructions = dockerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const ignored = readRepoFile(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const stageStarts = instructions.flatMap((l, i) => (l.startsWith("FROM ") ? [i] : []));
const finalStage = instructions.slice(stageStarts[stageStarts.length - 1]);

function isIgnored(path: string): boolean {
  return ignored.some((pattern) => path === pattern || path.startsWith(`${pattern}/`));
}

describe("infra/Dockerfile", () => {
  it("copies from the build context only files that exist and are not ignored", () => {
    const sources = instructions
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect(existsSync(new URL(source, repoRoot)), `${source} exists`).toBe(true);
      expect(isIgnored(source), `${source} is excluded by .dockerignore`).toBe(false);
    }
  });

  it("keeps local builds, dependencies and secrets out of the build context", () => {
    for (const pattern of ["**/node_modules", "**/dist", "data", "infra/certs", ".git"]) expect(ignored).toContain(pattern);
  });

  it("runs the compiled CLI as a non-root user with the edge and muc roles by default", () => {
    expect(finalStage[0]).toMatch(/^FROM node:20-bookworm-slim$/);
    const user = finalStage.find((l) => l.startsWith("USER "));
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
    expect(finalStage).toContain('ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]');
    expect(finalStage).toContain('CMD ["start", "--role", "edge,muc"]');
    expect(finalStage).toContain("EXPOSE 5222 5223 5280 5443");
    expect(finalStage.find((l) => l.startsWith("HEALTHCHECK "))).toMatch(/\/healthz/);
  });

  it("ships the setup script where docker-compose's setup service runs it", () => {
    const entrypoint = at(at(parseYaml(readRepoFile("docker-compose.yml")), "services.setup"), "entrypoint") as string[];
    expect(finalStage.some((l) => l.startsWith("COPY ") && l.endsWith(` ${entrypoint[1]}`))).toBe(true);
  });
});
