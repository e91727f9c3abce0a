/**
 * SASL negotiation over the stream (RFC 6120 §6): <auth/>, <challenge/>/<response/>, <abort/>,
 * <success/>/<failure/>. Failed attempts are counted per IP and throttled: the policy is
 * cluster-scoped, so a client whose attempts a balancer spreads over several edges gets one
 * allowance, and both checks below are exact across the cluster (Limiter.acquire) — a login is
 * rare enough to wait one Redis round trip, and a lease-based local guess could let a guesser
 * through on the edge that did not see the last failure.
 *
 * Admission of the work (SaslAdmission): an exchange is charged to the cluster's login budget at
 * its `<auth/>` (login-budget.ts), and each step the server computes holds a handshake slot
 * (handshake-slots.ts); over either, the client waits or is told to come back with
 * `<temporary-auth-failure/>`.
 */
import { createMechanism, offeredMechanisms, offersChannelBinding, saslPrep, type ChannelBindings, type MechanismOptions, type SaslServerMechanism, type SaslStep } from "@switchboard/sasl";
import { Element, NS_SASL, x } from "@switchboard/xml";
import { retryHint, type Ban, type Counter, type Host } from "@switchboard/core";
import { AUTH_FAILURE_POLICY } from "./options.js";
import type { HandshakeSlots } from "./handshake-slots.js";
import type { LoginBudget } from "./login-budget.js";

/** limits.loginsPerSecond and limits.maxConcurrentHandshakes, as one stream meets them. */
export interface SaslAdmission {
  budget?: LoginBudget;
  slots?: HandshakeSlots;
  /** the stream closed (a wait ends without spending anything) */
  closed(): boolean;
}

/** XEP-0440: SASL Channel-Binding Type Capability */
export const NS_SASL_CB = "urn:xmpp:sasl-cb:0";

/** XEP-0388 */
export const NS_SASL2 = "urn:xmpp:sasl:2";

/** `data`: the mechanism's additional data with success (SCRAM's server-final), for XEP-0388's <additional-data/> */
export type SaslOutcome = { done: false } | { done: true; username: string; data?: Buffer } | { done: true; failed: true; closeStream: boolean };

export class SaslNegotiation {
  private mechanism?: SaslServerMechanism;
  /** the ban the login read found with the credentials (Store.readLogin), for banOf */
  private loginRead?: { bare: string; ban?: Ban };

  constructor(
    private readonly host: Host,
    private readonly ip: string,
    readonly tls: boolean,
    send: (el: Element) => void,
    private readonly unknownUserSecret?: Buffer,
    private readonly admission?: SaslAdmission,
    /** what the TLS channel can bind to (SCRAM -PLUS); undefined in the clear or behind a TLS proxy */
    private readonly channelBindings?: ChannelBindings,
  ) {
    // Every outcome the client is told is counted on its way out: ok, or failed by condition.
    const logins = loginCounter(host);
    this.send = (el) => {
      if (el.name === "success") logins.add(1, { result: "ok", reason: "none" });
      else if (el.name === "failure") logins.add(1, { result: "failed", reason: el.getChildElements()[0]?.name ?? "unknown" });
      send(el);
    };
  }

  private readonly send: (el: Element) => void;

  /** what this TLS channel binds to, for the HT mechanisms (XEP-0484) */
  get bindings(): ChannelBindings | undefined {
    return this.channelBindings;
  }

  private get mechanismOptions(): MechanismOptions {
    return { tls: this.tls, unknownUserSecret: this.unknownUserSecret, channelBindings: this.channelBindings };
  }

  mechanismsFeature(): Element {
    return x("mechanisms", { xmlns: NS_SASL }, ...offeredMechanisms(this.mechanismOptions).map((m) => x("mechanism", {}, m)));
  }

  /** XEP-0440 §3: the channel-binding types a -PLUS mechanism may use here; none in the clear. */
  channelBindingFeature(): Element | undefined {
    const opts = this.mechanismOptions;
    if (!offersChannelBinding(opts)) return undefined;
    return x("sasl-channel-binding", { xmlns: NS_SASL_CB }, ...opts.channelBindings!.types.map((type) => x("channel-binding", { type })));
  }

  /** Handles one RFC 6120 SASL element; resolves with the outcome. */
  async handle(el: Element): Promise<SaslOutcome> {
    this.profile = "sasl";
    if (el.name === "abort") return this.abort();
    if (el.name === "auth") return this.begin(el.attrs.mechanism ?? "", el.getText());
    if (el.name === "response") return this.respond(el.getText());
    this.send(this.failureElement("malformed-request", `unexpected <${el.name}/>`));
    return { done: false };
  }

  /**
   * Which profile the exchange speaks: RFC 6120 ("sasl": elements in NS_SASL, <success/> sent
   * here) or XEP-0388 ("sasl2": elements in urn:xmpp:sasl:2; <success/> is the caller's, who
   * adds what inline features produced, through `reply`).
   */
  private profile: "sasl" | "sasl2" = "sasl";

  /** XEP-0388 §2.5: <abort/> ends the exchange with <aborted/>. */
  abort(profile: "sasl" | "sasl2" = this.profile): SaslOutcome {
    this.profile = profile;
    this.mechanism = undefined;
    this.send(this.failureElement("aborted"));
    return { done: false };
  }

  /** <auth mechanism/> (RFC 6120 §6.4.2) or <authenticate mechanism/> (XEP-0388 §2.3) with its initial response. */
  /** `mechanism`: one the caller made (XEP-0484's HT), instead of looking the name up */
  async begin(name: string, payload: string, profile: "sasl" | "sasl2" = "sasl", mechanism?: SaslServerMechanism): Promise<SaslOutcome> {
    this.profile = profile;
    // RFC 6120 §6.5.12: a temporary condition; the client tries again later. The stream stays
    // open so a client may retry on it once the backends are back.
    const blocked = this.host.loginBlocker();
    if (blocked) {
      this.host.log.info({ ip: this.ip, reason: blocked }, "login refused: not accepting logins right now");
      this.send(this.failureElement("temporary-auth-failure", `the server cannot accept logins right now (${blocked}); try again shortly`));
      return { done: false };
    }
    // Cost 0: asks whether one more failure would still be allowed, taking nothing. Refused
    // before any work (no account lookup, no SCRAM iterations for a guesser).
    const standing = await this.host.rateLimits.checkAcquire(AUTH_FAILURE_POLICY, this.ip, 0);
    if (!standing.allowed) {
      this.send(this.failureElement("temporary-auth-failure", `too many failed logins from your address; ${retryHint(standing.retryAfterMs)}`));
      return { done: true, failed: true, closeStream: true };
    }
    const budget = this.admission?.budget?.admit(this.admission.closed);
    const admitted = budget && (await budget);
    if (admitted && !admitted.allowed) {
      this.send(this.failureElement("temporary-auth-failure", admitted.text));
      return { done: false };
    }
    if (this.admission?.closed()) return { done: false };
    const lookup = async (username: string) => {
      const bare = `${normaliseLocal(username)}@${this.host.domain}`;
      // One read for the whole login where the store offers it (credentials, ban, roster,
      // blocklist: Store.readLogin); the ban is looked at only once the password is proved.
      if (!this.host.store.readLogin) return this.host.store.accounts.get(bare);
      const record = await this.host.store.readLogin(bare);
      this.loginRead = { bare, ban: record.ban };
      return record.credentials;
    };
    this.mechanism = mechanism ?? createMechanism(name, lookup, this.mechanismOptions);
    if (!this.mechanism) {
      this.send(this.failureElement("invalid-mechanism", `mechanism ${name || "(none)"} is not offered`));
      return { done: false };
    }
    return this.step(payload);
  }

  /** <response/>: the next payload of the exchange in progress. */
  async respond(payload: string, profile: "sasl" | "sasl2" = this.profile): Promise<SaslOutcome> {
    this.profile = profile;
    if (!this.mechanism) {
      this.send(this.failureElement("malformed-request", "no authentication in progress"));
      return { done: false };
    }
    return this.step(payload);
  }

  /** Writes an element of the exchange (counted like every outcome): XEP-0388's <success/> comes here. */
  reply(el: Element): void {
    this.send(el);
  }

  /** A failure in the exchange's profile (RFC 6120 §6.5; XEP-0388 §2.6.2 puts the condition in NS_SASL). */
  failureElement(condition: string, text?: string): Element {
    if (this.profile === "sasl") return failure(condition, text);
    return x("failure", { xmlns: NS_SASL2 }, x(condition, { xmlns: NS_SASL }), text ? x("text", {}, text) : undefined);
  }

  private async step(payload: string): Promise<SaslOutcome> {
    const text = payload.trim();
    let input: Buffer;
    if (text === "=" || text === "") input = Buffer.alloc(0);
    else if (/^[A-Za-z0-9+/]*={0,2}$/.test(text)) input = Buffer.from(text, "base64");
    else {
      this.mechanism = undefined;
      this.send(this.failureElement("incorrect-encoding", "payload is not base64"));
      return { done: false };
    }
    // One handshake slot while the server computes this step (not while the client thinks).
    const release = this.admission?.slots ? await this.admission.slots.acquire("sasl") : noop;
    if (!release) {
      this.mechanism = undefined;
      this.send(this.failureElement("temporary-auth-failure", "the server is busy with a wave of logins; try again in 5 s"));
      return { done: false };
    }
    if (this.admission?.closed()) {
      release();
      return { done: false };
    }
    let result: SaslStep;
    try {
      result = await this.mechanism!.step(input);
    } catch (err) {
      this.host.log.error({ err, ip: this.ip }, "SASL mechanism failed");
      result = { kind: "failure", condition: "temporary-auth-failure" };
    } finally {
      release();
    }
    switch (result.kind) {
      case "challenge": {
        const data = result.data.length ? result.data.toString("base64") : this.profile === "sasl" ? "=" : undefined;
        this.send(x("challenge", { xmlns: this.profile === "sasl" ? NS_SASL : NS_SASL2 }, data));
        return { done: false };
      }
      case "success": {
        this.mechanism = undefined;
        const username = normaliseLocal(result.username);
        // A banned account (switchboard ban) is told so only once it proved its password: a
        // stranger learns nothing about who is banned (RFC 6120 §6.5.1 <account-disabled/>).
        const banned = await this.banOf(`${username}@${this.host.domain}`);
        if (banned) {
          this.host.log.info({ ip: this.ip, user: username }, "login refused: the account is banned");
          this.send(this.failureElement("account-disabled", banned));
          return { done: false };
        }
        if (this.profile === "sasl") this.send(x("success", { xmlns: NS_SASL }, result.data?.length ? result.data.toString("base64") : undefined));
        return { done: true, username, ...(result.data?.length ? { data: result.data } : {}) };
      }
      case "failure": {
        this.mechanism = undefined;
        const counted = await this.host.rateLimits.checkAcquire(AUTH_FAILURE_POLICY, this.ip);
        if (counted.allowed) {
          this.send(this.failureElement(result.condition, result.text));
          return { done: false };
        }
        const text = `${result.text ? `${result.text}; ` : ""}too many failed logins from your address; ${retryHint(counted.retryAfterMs)}`;
        this.send(this.failureElement(result.condition, text));
        return { done: true, failed: true, closeStream: true };
      }
    }
  }

  /** The text to refuse a banned account with, or undefined (no ban, or the store did not answer: fail open, logged). */
  private async banOf(bare: string): Promise<string | undefined> {
    let ban: Ban | undefined;
    const read = this.loginRead;
    this.loginRead = undefined;
    try {
      ban = read?.bare === bare ? read.ban : await this.host.store.bans.get(bare);
    } catch (err) {
      this.host.log.warn({ err, user: bare }, "could not read the ban list; login allowed");
      return undefined;
    }
    if (!ban) return undefined;
    return `this account is banned${ban.until ? ` until ${new Date(ban.until).toISOString()}` : ""}${ban.reason ? `: ${ban.reason}` : ""}`;
  }
}

const loginCounters = new WeakMap<Host, Counter>();
function loginCounter(host: Host): Counter {
  let c = loginCounters.get(host);
  if (!c) loginCounters.set(host, (c = host.metrics.counter("switchboard_logins_total", { help: "SASL outcomes: ok, or failed by condition", labels: ["result", "reason"] })));
  return c;
}

function noop(): void {}

function failure(condition: string, text?: string): Element {
  return x("failure", { xmlns: NS_SASL }, x(condition), text ? x("text", { "xml:lang": "en" }, text) : undefined);
}

/** The JID local part of a SASL username (RFC 6120 §6.3.6: simple user name → localpart). */
export function normaliseLocal(username: string): string {
  try {
    return saslPrep(username).normalize("NFC").toLowerCase();
  } catch {
    return username.toLowerCase();
  }
}
