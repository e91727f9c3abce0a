/**
 * A per-deployment secret kept in the data dir (mode 0600). It seeds the fake SCRAM salts given
 * to unknown users, which must stay the same across restarts — and across the edges of a
 * cluster — so probing logins cannot tell whether an account exists.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { withFileLock } from "./file-lock.js";

export async function loadOrCreateSecret(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, "server-secret");
  const existing = await readSecret(file);
  if (existing) return existing;
  // Edges sharing one data dir may all start now: one writes it, the others then read it.
  return withFileLock(join(dataDir, "server-secret.lock"), async () => {
    const meanwhile = await readSecret(file);
    if (meanwhile) return meanwhile;
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(32);
    await writeFile(file, secret.toString("hex") + "\n", { mode: 0o600 });
    return secret;
  });
}

async function readSecret(file: string): Promise<Buffer | undefined> {
  try {
    const hex = (await readFile(file, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, "hex");
    throw new Error(`${file} does not hold a 64-digit hex secret; delete it to generate a new one`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
