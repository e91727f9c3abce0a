/**
 * Server side of SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802 §5, RFC 7677) and their -PLUS variants
 * with channel binding (RFC 5802 §6; types in channel-binding.ts). The gs2-cbind-flag:
 * - "p=<type>" only with a -PLUS mechanism and a type this channel produces; c= in the final
 *   message must then be the gs2-header followed by the channel's binding data;
 * - "y" (the client could bind but believes we cannot): a downgrade when we offered -PLUS;
 * - "n" (the client cannot bind): fine with a plain mechanism.
 *
 *   client-first  → server-first (r=, s=, i=)   [challenge]
 *   client-final  → server-final (v=)            [success with additional data]
 *
 * Unknown users get a deterministic fake salt and fail only at the proof, exactly like a wrong
 * password (see unknown-user.ts).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { DEFAULT_ITERATIONS } from "./credentials.js";
import type { CredentialLookup, MechanismOptions, SaslServerMechanism, SaslStep } from "./mechanism.js";
import { SaslPrepError, saslPrep } from "./saslprep.js";
import { offersChannelBinding } from "./channel-binding.js";
import { SCRAM_HASHES, digest, hmac, xor, type ScramHash, type ScramMechanismName } from "./scram-crypto.js";
import { ScramSyntaxError, parseClientFinal, parseClientFirst, type ClientFirstMessage } from "./scram-messages.js";
import { challenge, decodeUtf8, failure } from "./steps.js";
import type { ScramCredential } from "./types.js";
import { unknownUserCredential } from "./unknown-user.js";

const SERVER_NONCE_BYTES = 18;

interface AwaitingFinal {
  phase: "awaiting-final";
  clientFirst: ClientFirstMessage;
  username: string;
  credential: ScramCredential;
  /** false for the stand-in credential of an unknown user: the exchange must fail at the proof */
  accountExists: boolean;
  combinedNonce: string;
  serverFirst: string;
  /** what c= must decode to: the gs2-header, then the binding data when the client bound (§6) */
  expectedChannelBinding: Buffer;
}

type ScramState = { phase: "initial"; emptyChallengeSent: boolean } | AwaitingFinal | { phase: "done" };

const defaultNonce = (): string => randomBytes(SERVER_NONCE_BYTES).toString("base64");

export class ScramMechanism implements SaslServerMechanism {
  private state: ScramState = { phase: "initial", emptyChallengeSent: false };
  private readonly hash: ScramHash;

  readonly name: string;

  /** `base`: the mechanism without -PLUS (it names the hash and the credential); `plus`: the -PLUS variant */
  constructor(
    private readonly base: ScramMechanismName,
    private readonly lookup: CredentialLookup,
    private readonly opts: MechanismOptions,
    private readonly plus = false,
  ) {
    this.hash = SCRAM_HASHES[base];
    this.name = plus ? `${base}-PLUS` : base;
  }

  async step(input: Buffer): Promise<SaslStep> {
    const state = this.state;
    switch (state.phase) {
      case "initial":
        // RFC 6120 §6.4.2: no initial response → empty challenge, once; SCRAM is client-first.
        if (input.length === 0 && !state.emptyChallengeSent) {
          state.emptyChallengeSent = true;
          return challenge(Buffer.alloc(0));
        }
        return this.finishWith(await this.onClientFirst(input));
      case "awaiting-final":
        this.state = { phase: "done" };
        return this.onClientFinal(state, input);
      case "done":
        return failure("malformed-request", "SASL exchange already finished");
    }
  }

  /** Any outcome but a challenge ends the exchange. */
  private finishWith(step: SaslStep): SaslStep {
    if (step.kind !== "challenge") this.state = { phase: "done" };
    return step;
  }

  private async onClientFirst(input: Buffer): Promise<SaslStep> {
    const text = decodeUtf8(input);
    if (text === undefined) return failure("malformed-request", "client-first-message is not UTF-8");
    let clientFirst: ClientFirstMessage;
    let username: string;
    try {
      clientFirst = parseClientFirst(text);
      username = saslPrep(clientFirst.username);
    } catch (err) {
      if (err instanceof ScramSyntaxError) return failure("malformed-request", err.message);
      if (err instanceof SaslPrepError) return failure("malformed-request", `username: ${err.message}`);
      throw err;
    }
    if (username === "") return failure("malformed-request", "empty username");
    const binding = this.checkBindingFlag(clientFirst);
    if (!Buffer.isBuffer(binding)) return binding;
    // RFC 6120 §6.3.8: we only let a user act as themselves; an authzid naming anyone else is refused.
    if (clientFirst.authzid !== undefined && clientFirst.authzid !== clientFirst.username && clientFirst.authzid !== username) {
      return failure("invalid-authzid");
    }

    let stored: ScramCredential | undefined;
    try {
      stored = (await this.lookup(username))?.[this.base];
    } catch {
      return failure("temporary-auth-failure");
    }
    const credential =
      stored ??
      unknownUserCredential(this.base, username, this.opts.unknownUserIterations ?? DEFAULT_ITERATIONS, this.opts.unknownUserSecret);
    const combinedNonce = clientFirst.clientNonce + (this.opts.nonce ?? defaultNonce)();
    const serverFirst = `r=${combinedNonce},s=${credential.salt},i=${credential.iterations}`;
    const expectedChannelBinding = Buffer.concat([Buffer.from(clientFirst.gs2Header, "utf8"), binding]);
    this.state = { phase: "awaiting-final", clientFirst, username, credential, accountExists: stored !== undefined, combinedNonce, serverFirst, expectedChannelBinding };
    return challenge(serverFirst);
  }

  /** RFC 5802 §6: the binding data the gs2-cbind-flag commits to (empty without binding), or the failure. */
  private checkBindingFlag(clientFirst: ClientFirstMessage): Buffer | SaslStep {
    const flag = clientFirst.channelBindingFlag;
    const none = Buffer.alloc(0);
    if (!this.plus) {
      if (flag === "p") return failure("malformed-request", `channel binding needs ${this.name}-PLUS`);
      // "y": the client supports binding and thinks we do not; we advertised -PLUS, so someone
      // stripped it from the features on the way (a downgrade).
      if (flag === "y" && offersChannelBinding(this.opts)) {
        return failure("not-authorized", "channel binding downgrade detected: -PLUS was offered");
      }
      return none;
    }
    if (flag !== "p") return failure("malformed-request", `${this.name} requires the client to bind ("p=")`);
    const type = clientFirst.channelBindingName!;
    const data = this.opts.channelBindings?.data(type);
    if (!data) return failure("not-authorized", `channel binding type ${type} is not offered on this connection`);
    return data;
  }

  private onClientFinal(state: AwaitingFinal, input: Buffer): SaslStep {
    const text = decodeUtf8(input);
    if (text === undefined) return failure("malformed-request", "client-final-message is not UTF-8");
    let final;
    try {
      final = parseClientFinal(text);
    } catch (err) {
      if (err instanceof ScramSyntaxError) return failure("malformed-request", err.message);
      throw err;
    }
    if (final.proof.length !== this.hash.length) return failure("malformed-request", "proof has the wrong length");
    // §5.1 "c=": the gs2-header of client-first, followed by the channel's data when bound (§6).
    const expected = state.expectedChannelBinding;
    if (final.channelBinding.length !== expected.length || !timingSafeEqual(final.channelBinding, expected)) {
      return failure("not-authorized", "channel binding data does not match this channel");
    }
    if (final.nonce !== state.combinedNonce) return failure("not-authorized", "nonce mismatch");

    // §3: AuthMessage, ClientSignature; ClientKey = ClientProof XOR ClientSignature; H(ClientKey) must be StoredKey.
    const authMessage = `${state.clientFirst.bare},${state.serverFirst},${final.withoutProof}`;
    const storedKey = Buffer.from(state.credential.storedKey, "base64");
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const recoveredStoredKey = digest(this.hash, xor(final.proof, clientSignature));
    const proofValid = recoveredStoredKey.length === storedKey.length && timingSafeEqual(recoveredStoredKey, storedKey);
    if (!proofValid || !state.accountExists) return failure("not-authorized");

    const serverSignature = hmac(this.hash, Buffer.from(state.credential.serverKey, "base64"), authMessage);
    return { kind: "success", username: state.username, data: Buffer.from(`v=${serverSignature.toString("base64")}`, "utf8") };
  }
}
