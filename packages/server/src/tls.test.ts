import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { describe, expect, it } from "vitest";
import { loadOrCreateTlsMaterial, TlsMaterialError } from "./tls.js";

function dataDir(): string {
  return mkdtempSync(join(tmpdir(), "sb-tls-"));
}

describe("loadOrCreateTlsMaterial", () => {
  it("generates a usable self-signed pair for localhost on first start and reuses it", async () => {
    const dir = dataDir();
    const lines: unknown[] = [];
    const first = await loadOrCreateTlsMaterial({ domain: "localhost", dataDir: dir, tls: {} }, { info: (o) => lines.push(o) });
    expect(first.generated).toBe(true);
    expect(first.certFile).toBe(join(dir, "tls", "localhost.crt"));
    expect(first.keyFile).toBe(join(dir, "tls", "localhost.key"));
    expect(lines).toHaveLength(1);
    expect(() => createSecureContext({ cert: first.cert, key: first.key })).not.toThrow();

    const x509 = new X509Certificate(first.cert);
    expect(x509.subject).toContain("CN=localhost");
    expect(x509.subjectAltName).toContain("DNS:localhost");
    expect(x509.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(x509.checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    const years = (Date.parse(x509.validTo) - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    expect(statSync(first.keyFile).mode & 0o777).toBe(0o600);

    const second = await loadOrCreateTlsMaterial({ domain: "localhost", dataDir: dir, tls: {} });
    expect(second.generated).toBe(false);
    expect(second.cert).toBe(first.cert);
    expect(second.key).toBe(first.key);
  });

  it("names only the domain for another domain", async () => {
    const material = await loadOrCreateTlsMaterial({ domain: "chat.example.org", dataDir: dataDir(), tls: {} });
    const x509 = new X509Certificate(material.cert);
    expect(x509.subjectAltName).toBe("DNS:chat.example.org");
    expect(x509.checkHost("chat.example.org")).toBe("chat.example.org");
    expect(material.certFile.endsWith("chat.example.org.crt")).toBe(true);
  });

  it("reads configured files without generating anything", async () => {
    const generated = await loadOrCreateTlsMaterial({ domain: "localhost", dataDir: dataDir(), tls: {} });
    const material = await loadOrCreateTlsMaterial({
      domain: "example.org",
      dataDir: "/nonexistent",
      tls: { cert: generated.certFile, key: generated.keyFile },
    });
    expect(material).toMatchObject({ generated: false, cert: generated.cert, key: generated.key, certFile: generated.certFile });
  });

  it("names the key and path of an unreadable file", async () => {
    const dir = dataDir();
    const keyFile = join(dir, "k.pem");
    writeFileSync(keyFile, "-----BEGIN PRIVATE KEY-----\n");
    const missing = join(dir, "missing.crt");
    const err = await loadOrCreateTlsMaterial({ domain: "x.org", dataDir: dir, tls: { cert: missing, key: keyFile } }).catch((e) => e);
    expect(err).toBeInstanceOf(TlsMaterialError);
    expect(err.key).toBe("tls.cert");
    expect(err.message).toContain(missing);
  });

  it("rejects a file without PEM data", async () => {
    const dir = dataDir();
    const bogus = join(dir, "bogus.crt");
    writeFileSync(bogus, "hello");
    const err = await loadOrCreateTlsMaterial({ domain: "x.org", dataDir: dir, tls: { cert: bogus, key: bogus } }).catch((e) => e);
    expect(err).toBeInstanceOf(TlsMaterialError);
    expect(err.message).toContain("no PEM data");
  });

  it("requires both files or neither", async () => {
    const err = await loadOrCreateTlsMaterial({ domain: "x.org", dataDir: dataDir(), tls: { cert: "/a.crt" } }).catch((e) => e);
    expect(err).toBeInstanceOf(TlsMaterialError);
    expect(err.key).toBe("tls.key");
  });
});
