/**
 * XEP-0484 Fast Authentication Streamlining Tokens, over SASL2 (sasl2.ts): the HT mechanisms
 * (draft-schmaus-kitten-sasl-ht) HT-SHA-256-NONE, -UNIQ, -ENDP and -EXPR (bound to tls-unique,
 * tls-server-end-point, tls-exporter), tokens per (user, user agent) with rotation, replay
 * protection by `count`, and revocation.
 *
 * A login with a token costs one HMAC, no PBKDF2: that is the point (reconnect storms). The token
 * is the HMAC key, so a hash of it cannot be stored; the store keeps it sealed with AES-256-GCM
 * under a key derived (HKDF) from the server secret, with the owner and user agent as associated
 * data, so a leaked store alone gives no token and a sealed token copied to another row fails.
 *
 * Rotation: a new token each time the client asks (<request-token/>); the one before stays valid
 * until the new one is first used, so a client that never received the new token (a cut
 * connection) can still log in. A new password or <fast invalidate='true'/> ends them.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { saslPrep, type ChannelBindings, type SaslServerMechanism, type SaslStep } from "@switchboard/sasl";
import type { Sasl2Request } from "./sasl2.js";
import { x, type Element } from "@switchboard/xml";
import type { FastToken, FastTokens, Host } from "@switchboard/core";

export const NS_FAST = "urn:xmpp:fast:0";

/** how long a token is valid after it was issued */
export const FAST_TOKEN_LIFETIME_MS = 30 * 24 * 3600 * 1000;

/** HT mechanism → the channel binding it uses (draft-schmaus-kitten-sasl-ht §4), NONE: none */
const HT_MECHANISMS: Readonly<Record<string, string | undefined>> = {
  "HT-SHA-256-EXPR": "tls-exporter",
  "HT-SHA-256-ENDP": "tls-server-end-point",
  "HT-SHA-256-UNIQ": "tls-unique",
  "HT-SHA-256-NONE": undefined,
};

/** The HT mechanisms this channel can run, strongest binding first; none in the clear (a token is a bearer secret). */
export function fastMechanisms(secure: boolean, bindings?: ChannelBindings): string[] {
  if (!secure) return [];
  return Object.entries(HT_MECHANISMS)
    .filter(([, type]) => type === undefined || bindings?.types.includes(type as never))
    .map(([name]) => name);
}

export function isFastMechanism(name: string): boolean {
  return Object.hasOwn(HT_MECHANISMS, name);
}

/** The inline <fast/> of XEP-0388's <authentication/> (XEP-0484 §3.1). */
export function fastFeature(mechanisms: string[]): Element | undefined {
  if (mechanisms.length === 0) return undefined;
  return x("fast", { xmlns: NS_FAST }, ...mechanisms.map((m) => x("mechanism", {}, m)));
}

/** What <authenticate/> asked of FAST: a token, the count of this use, the end of the token used. */
export interface FastRequest {
  requestToken?: string;
  count?: number;
  invalidate: boolean;
}

/** Reads the FAST children of <authenticate/>; a string says what is malformed. */
export function parseFastRequest(authenticate: Element): FastRequest | string {
  const request: FastRequest = { invalidate: false };
  const ask = authenticate.getChild("request-token", NS_FAST);
  if (ask) {
    if (!isFastMechanism(ask.attrs.mechanism ?? "")) return `request-token names no HT mechanism offered: ${ask.attrs.mechanism ?? "(none)"}`;
    request.requestToken = ask.attrs.mechanism;
  }
  const fast = authenticate.getChild("fast", NS_FAST);
  if (fast) {
    const count = fast.attrs.count;
    if (count !== undefined) {
      if (!/^\d{1,15}$/.test(count)) return "the fast count must be a non-negative integer";
      request.count = Number(count);
    }
    request.invalidate = fast.attrs.invalidate === "true" || fast.attrs.invalidate === "1";
  }
  return request;
}

/** Seals and opens tokens under a key derived from the server secret (never stored in the clear). */
export class TokenSeal {
  private readonly key: Buffer;

  constructor(serverSecret: Buffer) {
    this.key = Buffer.from(hkdfSync("sha256", serverSecret, Buffer.alloc(0), "switchboard XEP-0484 FAST token seal v1", 32));
  }

  seal(token: string, owner: string, agent: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv).setAAD(Buffer.from(`${owner}\0${agent}`));
    const body = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  /** undefined when the sealed value was not made for this owner and agent, or with this secret */
  open(sealed: string, owner: string, agent: string): string | undefined {
    try {
      const raw = Buffer.from(sealed, "base64");
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12)).setAAD(Buffer.from(`${owner}\0${agent}`));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

const hmac = (token: string, label: string, cbData: Buffer) => createHmac("sha256", Buffer.from(token, "utf8")).update(label).update(cbData).digest();

/**
 * One HT exchange (draft-schmaus-kitten-sasl-ht §3): the client's only message is
 * authcid NUL HMAC(token, "Initiator" || cb-data); success carries HMAC(token, "Responder" || cb-data).
 */
export class HtMechanism implements SaslServerMechanism {
  private done = false;

  constructor(
    readonly name: string,
    private readonly host: Host,
    private readonly seal: TokenSeal,
    private readonly agent: string,
    /** XEP-0484 §3.4 `count`, when the client sends one (it must for TLS 0-RTT; xmpp.js sends none) */
    private readonly count: number | undefined,
    private readonly bindings: ChannelBindings | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async step(input: Buffer): Promise<SaslStep> {
    if (this.done) return { kind: "failure", condition: "malformed-request", text: "SASL exchange already finished" };
    this.done = true;
    const nul = input.indexOf(0);
    if (nul <= 0 || input.length - nul - 1 !== 32) return { kind: "failure", condition: "malformed-request", text: "expected authcid NUL a 32-byte HMAC" };
    let username: string;
    try {
      username = saslPrep(input.subarray(0, nul).toString("utf8")).normalize("NFC").toLowerCase();
    } catch {
      return { kind: "failure", condition: "malformed-request", text: "the username is not valid" };
    }
    const type = HT_MECHANISMS[this.name];
    const cbData = type === undefined ? Buffer.alloc(0) : this.bindings?.data(type);
    if (!cbData) return { kind: "failure", condition: "not-authorized", text: `${this.name} needs ${type}, which this connection does not offer` };
    const owner = `${username}@${this.host.domain}`;
    const proof = input.subarray(nul + 1);
    let held: FastTokens | undefined;
    try {
      held = await this.host.store.fastTokens.get(owner, this.agent);
    } catch {
      return { kind: "failure", condition: "temporary-auth-failure" };
    }
    const which = held && this.match(held, owner, proof, cbData);
    if (!held || !which) return { kind: "failure", condition: "not-authorized", text: "no such token for this user agent, or it expired" };
    const { slot, token } = which;
    // XEP-0484 §3.4: each use of a token that carries a count counts higher than the last; a
    // count not above it is a replay. Without one (no 0-RTT) TLS itself keeps a replay out.
    if (this.count !== undefined && this.count <= held[slot]!.count) return { kind: "failure", condition: "not-authorized", text: "this count was used already (replay)" };
    const used: FastToken = { ...held[slot]!, count: Math.max(this.count ?? 0, held[slot]!.count) };
    // The new token's first use ends the one before it.
    const next: FastTokens = slot === "current" ? { current: used } : { current: held.current, previous: used };
    let swapped: boolean;
    try {
      swapped = await this.host.store.fastTokens.swap(owner, this.agent, held, next);
    } catch {
      return { kind: "failure", condition: "temporary-auth-failure" };
    }
    if (!swapped) return { kind: "failure", condition: "not-authorized", text: "the token was used concurrently" };
    return { kind: "success", username, data: hmac(token, "Responder", cbData) };
  }

  private match(held: FastTokens, owner: string, proof: Buffer, cbData: Buffer): { slot: "current" | "previous"; token: string } | undefined {
    for (const slot of ["current", "previous"] as const) {
      const entry = held[slot];
      if (!entry || entry.mechanism !== this.name || entry.expiry <= this.now()) continue;
      const token = this.seal.open(entry.sealed, owner, this.agent);
      if (token !== undefined && timingSafeEqual(hmac(token, "Initiator", cbData), proof)) return { slot, token };
    }
    return undefined;
  }
}

/**
 * After a successful login that asked for one: a new token for this user agent, the one before
 * kept as `previous` (rotation). Returns the <token/> for <success/>, undefined when the store
 * could not take it (logged; the login itself stands).
 */
export async function issueToken(host: Host, seal: TokenSeal, owner: string, agent: string, mechanism: string, now = Date.now()): Promise<Element | undefined> {
  const token = randomBytes(32).toString("base64");
  const fresh: FastToken = { sealed: seal.seal(token, owner, agent), mechanism, expiry: now + FAST_TOKEN_LIFETIME_MS, count: 0 };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const held = await host.store.fastTokens.get(owner, agent);
      const next: FastTokens = held ? { current: fresh, previous: held.current } : { current: fresh };
      if (await host.store.fastTokens.swap(owner, agent, held, next)) {
        return x("token", { xmlns: NS_FAST, expiry: new Date(fresh.expiry).toISOString(), token });
      }
    } catch (err) {
      host.log.warn({ err, user: owner }, "FAST: could not store a new token");
      return undefined;
    }
  }
  host.log.warn({ user: owner }, "FAST: the tokens kept changing; no new token issued");
  return undefined;
}

/** <fast invalidate='true'/>: this user agent's tokens end (XEP-0484 §3.5). */
export async function invalidateTokens(host: Host, owner: string, agent: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const held = await host.store.fastTokens.get(owner, agent);
    if (!held || (await host.store.fastTokens.swap(owner, agent, held, undefined))) return;
  }
}

/** What FAST needs of the stream: the seal (none without a server secret) and the channel. */
export interface FastContext {
  seal?: TokenSeal;
  secure: boolean;
  bindings?: ChannelBindings;
}

const seals = new WeakMap<Buffer, TokenSeal>();
/** One TokenSeal per server secret (the HKDF runs once). */
export function tokenSeal(secret: Buffer | undefined): TokenSeal | undefined {
  if (!secret) return undefined;
  let seal = seals.get(secret);
  if (!seal) seals.set(secret, (seal = new TokenSeal(secret)));
  return seal;
}

/** The HT mechanism for an <authenticate/> naming one this channel offers; undefined otherwise (the usual lookup then answers). */
export function fastMechanismFor(host: Host, request: Sasl2Request, fast: FastContext): SaslServerMechanism | undefined {
  if (!fast.seal || !fastMechanisms(fast.secure, fast.bindings).includes(request.mechanism)) return undefined;
  return new HtMechanism(request.mechanism, host, fast.seal, request.userAgent!.id!, request.fast.count, fast.bindings);
}

/** After success: <fast invalidate/> ends this agent's tokens; <request-token/> gets a new one (rotation). */
export async function fastAfterSuccess(host: Host, request: Sasl2Request, fast: FastContext, username: string): Promise<Element[]> {
  const agent = request.userAgent?.id;
  if (!fast.seal || !agent) return [];
  const owner = `${username}@${host.domain}`;
  if (request.fast.invalidate && isFastMechanism(request.mechanism)) {
    await invalidateTokens(host, owner, agent).catch((err: unknown) => host.log.warn({ err, user: owner }, "FAST: could not invalidate the tokens"));
    return [];
  }
  const asked = request.fast.requestToken;
  if (!asked || !fastMechanisms(fast.secure, fast.bindings).includes(asked)) return [];
  const token = await issueToken(host, fast.seal, owner, agent, asked);
  return token ? [token] : [];
}
