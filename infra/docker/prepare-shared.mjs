// One-shot setup for docker-compose (the `setup` service): fills the volume that every edge
// mounts read-only as its data dir, so all edges serve the same TLS certificate and share the
// server secret (it seeds the fake SCRAM salts for unknown users: edges that disagreed on it
// would let a prober tell existing accounts from missing ones by comparing salts).
//
//   node prepare-shared.mjs [sharedDir] [providedDir]
//
// providedDir (default /certs) may hold tls.crt + tls.key and/or server-secret; these replace
// what is in sharedDir on every run. Otherwise a self-signed certificate and a secret are
// generated once and kept. Files land where an edge looks with no further settings:
// <dataDir>/tls/<domain>.crt|.key and <dataDir>/server-secret.
import { copyFile, chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const sharedDir = process.argv[2] ?? "/var/lib/switchboard";
const providedDir = process.argv[3] ?? "/certs";
const domain = (process.env.SWITCHBOARD_DOMAIN ?? "localhost").toLowerCase();

// Resolved through the CLI package, which depends on the server package (the root does not in
// a production install).
const requireFromCli = createRequire(new URL("../../packages/cli/package.json", import.meta.url));
const { loadOrCreateTlsMaterial } = await import(pathToFileURL(requireFromCli.resolve("@switchboard/server")).href);

const exists = (path) => readFile(path).then(() => true, () => false);

const tlsDir = join(sharedDir, "tls");
const providedCert = join(providedDir, "tls.crt");
const providedKey = join(providedDir, "tls.key");
if ((await exists(providedCert)) && (await exists(providedKey))) {
  await mkdir(tlsDir, { recursive: true });
  await copyFile(providedKey, join(tlsDir, `${domain}.key`));
  await chmod(join(tlsDir, `${domain}.key`), 0o600);
  await copyFile(providedCert, join(tlsDir, `${domain}.crt`));
  console.log(`setup: using the certificate from ${providedCert} for ${domain}`);
} else {
  const tls = await loadOrCreateTlsMaterial({ tls: {}, dataDir: sharedDir, domain });
  console.log(`setup: ${tls.generated ? "generated" : "kept"} the self-signed certificate ${tls.certFile}`);
}

const secretFile = join(sharedDir, "server-secret");
const providedSecret = join(providedDir, "server-secret");
if (await exists(providedSecret)) {
  // Checked here because the server replaces a malformed secret, which the read-only mount on
  // the edges would turn into a start-up failure far from its cause.
  if (!/^[0-9a-f]{64}$/.test((await readFile(providedSecret, "utf8")).trim())) {
    console.error(`setup: ${providedSecret} must hold 64 lowercase hex digits (openssl rand -hex 32)`);
    process.exit(1);
  }
  await copyFile(providedSecret, secretFile);
  await chmod(secretFile, 0o600);
  console.log(`setup: using the server secret from ${providedSecret}`);
} else if (!(await exists(secretFile))) {
  // Same format the server writes itself: 32 random bytes as 64 hex digits.
  await writeFile(secretFile, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  console.log(`setup: generated ${secretFile}`);
}
