/**
 * A per-deployment secret kept in the data dir (mode 0600). It seeds the fake SCRAM salts given
 * to unknown users, which must stay the same across restarts so probing logins cannot tell
 * whether an account exists.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

export function loadOrCreateSecret(dataDir: string): Buffer {
  const file = join(dataDir, "server-secret");
  try {
    const hex = readFileSync(file, "utf8").trim();
    if (/^[0-9a-f]{64}$/.test(hex)) return Buffer.from(hex, "hex");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString("hex") + "\n", { mode: 0o600 });
  return secret;
}
