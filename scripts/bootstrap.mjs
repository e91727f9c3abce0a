#!/usr/bin/env node
// Lets `npm start` and `npm test` work from a fresh clone with only Node >= 20 and npm:
// installs the workspace with pnpm 10 (through npx when pnpm is not on PATH) the first time,
// then runs the named root script with pnpm. Corepack is not used: its signature check fails
// against some registries.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error("usage: node scripts/bootstrap.mjs <script> [args...]");
  process.exit(2);
}

// npm exports its own config as npm_config_* variables; pnpm would read them as its own.
const env = { ...process.env };
for (const key of Object.keys(env)) if (key.toLowerCase().startsWith("npm_")) delete env[key];

// A Ctrl-C reaches this process too; it must outlive the child it waits for (which handles the
// signal and exits 0 after a clean stop) instead of dying first and making npm report a failure.
// With a handler installed the signal waits for spawnSync to return, and is then ignored.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => {});

const hasPnpm = spawnSync("pnpm", ["--version"], { stdio: "ignore", env }).status === 0;
const pnpm = hasPnpm ? ["pnpm"] : ["npx", "-y", "pnpm@10"];
const run = (cmdArgs) => {
  const r = spawnSync(pnpm[0], [...pnpm.slice(1), ...cmdArgs], { cwd: root, stdio: "inherit", env });
  if (r.error) {
    console.error(`bootstrap: could not run ${pnpm.join(" ")}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status ?? 1;
};

const marker = join(root, "node_modules", ".modules.yaml");
if (!existsSync(marker)) {
  console.error("bootstrap: installing dependencies with pnpm (first run only)…");
  const status = run(["install", "--frozen-lockfile"]);
  if (status !== 0) process.exit(status);
}
process.exit(run(["run", script, ...args]));
