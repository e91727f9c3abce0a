/**
 * SASL PLAIN (RFC 4616): message = [authzid] NUL authcid NUL passwd. Offered only under TLS
 * (RFC 6120 §13.8); the password is checked against the stored SCRAM-SHA-256 material, so no
 * plaintext is ever stored. An unknown user costs the same pbkdf2 run as a wrong password.
 */
import { DEFAULT_ITERATIONS, verifyPasswordAsync } from "./credentials.js";
import type { CredentialLookup, MechanismOptions, SaslServerMechanism, SaslStep } from "./mechanism.js";
import { SaslPrepError, saslPrep } from "./saslprep.js";
import { challenge, decodeUtf8, failure } from "./steps.js";
import type { AccountCredentials } from "./types.js";
import { unknownUserCredential } from "./unknown-user.js";

/** RFC 4616 §2: each field is at most 255 octets. */
const MAX_FIELD_BYTES = 255;

export class PlainMechanism implements SaslServerMechanism {
  readonly name = "PLAIN";
  private phase: "initial" | "empty-challenge-sent" | "done" = "initial";

  constructor(
    private readonly lookup: CredentialLookup,
    private readonly opts: MechanismOptions,
  ) {}

  async step(input: Buffer): Promise<SaslStep> {
    if (this.phase === "done") return failure("malformed-request", "SASL exchange already finished");
    // RFC 6120 §6.4.2: no initial response → empty challenge, once.
    if (input.length === 0 && this.phase === "initial") {
      this.phase = "empty-challenge-sent";
      return challenge(Buffer.alloc(0));
    }
    this.phase = "done";
    // Belt and braces: createMechanism already refuses PLAIN without TLS.
    if (!this.opts.tls) return failure("encryption-required");
    return this.authenticate(input);
  }

  private async authenticate(input: Buffer): Promise<SaslStep> {
    const fields = splitOnNul(input);
    if (fields === undefined) return failure("malformed-request", "expected [authzid] NUL authcid NUL passwd");
    const [authzidRaw, authcidRaw, passwordRaw] = fields;
    if (authcidRaw.length === 0 || passwordRaw.length === 0) return failure("malformed-request", "empty authcid or password");
    if (fields.some((f) => f.length > MAX_FIELD_BYTES)) return failure("malformed-request", "field longer than 255 octets");
    const authzid = decodeUtf8(authzidRaw);
    const authcid = decodeUtf8(authcidRaw);
    const password = decodeUtf8(passwordRaw);
    if (authzid === undefined || authcid === undefined || password === undefined) {
      return failure("malformed-request", "PLAIN message is not UTF-8");
    }

    let username: string;
    try {
      username = saslPrep(authcid);
    } catch (err) {
      if (err instanceof SaslPrepError) return failure("malformed-request", `username: ${err.message}`);
      throw err;
    }
    if (username === "") return failure("malformed-request", "empty username");
    // RFC 6120 §6.3.8: only acting as oneself is allowed. The authzid may be a bare JID in XMPP,
    // but this package knows no domains, so only the empty form or the same name is accepted.
    if (authzid !== "" && authzid !== authcid && authzid !== username) return failure("invalid-authzid");

    let creds: AccountCredentials | undefined;
    try {
      creds = await this.lookup(username);
    } catch {
      return failure("temporary-auth-failure");
    }
    // Same pbkdf2 cost for unknown users as for real ones, so timing does not reveal accounts.
    const checked = creds ?? this.unknownUserCredentials(username);
    const passwordOk = await verifyPasswordAsync(checked, password);
    if (!passwordOk || creds === undefined) return failure("not-authorized");
    return { kind: "success", username };
  }

  private unknownUserCredentials(username: string): AccountCredentials {
    const iterations = this.opts.unknownUserIterations ?? DEFAULT_ITERATIONS;
    return {
      "SCRAM-SHA-1": unknownUserCredential("SCRAM-SHA-1", username, iterations, this.opts.unknownUserSecret),
      "SCRAM-SHA-256": unknownUserCredential("SCRAM-SHA-256", username, iterations, this.opts.unknownUserSecret),
    };
  }
}

/** Exactly two NULs → three fields (RFC 4616 §2); anything else is malformed. */
function splitOnNul(input: Buffer): [Buffer, Buffer, Buffer] | undefined {
  const first = input.indexOf(0);
  if (first < 0) return undefined;
  const second = input.indexOf(0, first + 1);
  if (second < 0 || input.indexOf(0, second + 1) >= 0) return undefined;
  return [input.subarray(0, first), input.subarray(first + 1, second), input.subarray(second + 1)];
}
