#!/usr/bin/env node
// Runs the TypeScript sources through tsx with the "source" condition, exactly like
// `pnpm switchboard`, so `npx switchboard` and container images need no build step.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const child = spawn(process.execPath, [tsx, "--conditions=source", main, ...process.argv.slice(2)], { stdio: "inherit" });
// Forward termination signals: as PID 1 in a container this wrapper receives them, not the child.
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
