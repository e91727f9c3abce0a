/**
 * The admin API's token (admin.tokenFile, default `<dataDir>/admin-token`): made on first start,
 * 32 random bytes as base64url, mode 0600, so only the server's user (and root) can read it; the
 * CLI on the same machine reads it from the same place. An existing file is kept: a restart does
 * not lock out the tools an operator configured.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export class AdminTokenError extends Error {
  override name = "AdminTokenError";
}

export function ensureAdminToken(file: string): string {
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing.length < 16) throw new AdminTokenError(`admin.tokenFile ${file} holds no token (at least 16 characters); delete it to have a new one made`);
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      if (err instanceof AdminTokenError) throw err;
      throw new AdminTokenError(`admin.tokenFile ${file}: ${(err as Error).message}`);
    }
  }
  const token = randomBytes(32).toString("base64url");
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    // another process made it meanwhile (two nodes on one data dir): use theirs
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return ensureAdminToken(file);
    throw new AdminTokenError(`admin.tokenFile ${file}: cannot create it: ${(err as Error).message}`);
  }
  return token;
}

/** Constant-time comparison of a presented token with the real one. */
export function tokenMatches(presented: string, token: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
