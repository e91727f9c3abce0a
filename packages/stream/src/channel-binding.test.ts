import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { endPointHashOf } from "./channel-binding.js";

const dir = mkdtempSync(join(tmpdir(), "sb-cb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate made by openssl (not by us), as DER. */
function certificate(name: string, keyArgs: string[], digest?: string): Buffer {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync("openssl", ["req", "-x509", "-nodes", "-days", "1", "-subj", "/CN=localhost", ...keyArgs, ...(digest ? [`-${digest}`] : []), "-keyout", key, "-out", cert], { stdio: "ignore" });
  return new X509Certificate(readFileSync(cert)).raw;
}

describe("tls-server-end-point hash (RFC 5929 §4.1)", () => {
  it("uses the signature's hash: ECDSA with SHA-256, RSA with SHA-384 and SHA-512", () => {
    expect(endPointHashOf(certificate("ec256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha256"))).toBe("sha256");
    expect(endPointHashOf(certificate("rsa384", ["-newkey", "rsa:2048"], "sha384"))).toBe("sha384");
    expect(endPointHashOf(certificate("ec512", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha512"))).toBe("sha512");
  });

  it("replaces SHA-1 by SHA-256", () => {
    expect(endPointHashOf(certificate("rsa1", ["-newkey", "rsa:2048"], "sha1"))).toBe("sha256");
  });

  it("has no hash for Ed25519 (no hash in its signature algorithm) or for bytes that are no certificate", () => {
    expect(endPointHashOf(certificate("ed", ["-newkey", "ed25519"]))).toBeUndefined();
    expect(endPointHashOf(Buffer.from("not a certificate"))).toBeUndefined();
    expect(endPointHashOf(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
  });
});
