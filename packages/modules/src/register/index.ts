/**
 * XEP-0077 In-Band Registration: account creation before authentication (§3.1), and for an
 * authenticated account its registration state (§3.2 "already registered"), cancellation
 * (§3.2, <remove/>) and password change (§3.3). Loaded only when the operator enables
 * registration.
 *
 * Abuse control (§11.1 "Account Registration Abuse"): registrations are limited per IP
 * address with the cluster-wide limiter policy 'register.per-ip' (`perIpPerHour`, token
 * bucket over one hour). Every well-formed attempt costs a token, conflicts included, so the
 * form cannot be used to probe for taken usernames at full speed.
 */
import { AccountExistsError, REPLIED, defineModule, iqResult, type StanzaEvent } from "@switchboard/core";
import { type Element, NS_REGISTER, NS_REGISTER_FEATURE, StanzaError, StreamError, x } from "@switchboard/xml";
import { accountJid, credentialsFor, field, type FieldLimits } from "./validate.js";

export const REGISTER_POLICY = "register.per-ip";

export interface RegisterOptions extends FieldLimits {
  /** accounts one IP address may create per hour */
  perIpPerHour: number;
  /** §3.3: authenticated users may change their password */
  allowPasswordChange: boolean;
  /** §13: refuse registration over an unencrypted stream (the password travels in clear) */
  requireEncryption: boolean;
  instructions: string;
}

export const registerModule = defineModule<RegisterOptions>({
  name: "register",
  spec: "XEP-0077",
  defaults: {
    perIpPerHour: 5,
    allowPasswordChange: true,
    requireEncryption: true,
    maxUsernameLength: 64,
    maxPasswordLength: 1024,
    instructions: "Choose a username and password to register with this server.",
  },
  validate(o) {
    for (const key of ["perIpPerHour", "maxUsernameLength", "maxPasswordLength"] as const) {
      if (!(Number.isInteger(o[key]) && o[key] > 0)) throw new Error(`register.${key} must be a positive integer`);
    }
  },
  setup(ctx) {
    const { host, options, log } = ctx;
    host.limiter.define(REGISTER_POLICY, { limit: options.perIpPerHour, intervalMs: 3_600_000, scope: "cluster" });
    ctx.hostFeature(NS_REGISTER);
    ctx.streamFeature("preAuth", () => x("register", { xmlns: NS_REGISTER_FEATURE }));

    ctx.preAuthIq(NS_REGISTER, async (stanza, query, conn) => {
      if (stanza.attrs.type === "get") {
        return x("query", { xmlns: NS_REGISTER }, x("instructions", null, options.instructions), x("username"), x("password"));
      }
      if (stanza.attrs.type !== "set") throw new StanzaError("bad-request");
      if (query.getChild("remove")) throw new StanzaError("not-authorized", "log in to cancel a registration");
      if (options.requireEncryption && !conn.secure) throw new StanzaError("not-authorized", "registration requires an encrypted connection");
      const username = field(query, "username");
      const password = field(query, "password");
      // §3.1: required information missing → not-acceptable.
      if (username === undefined || password === undefined) throw new StanzaError("not-acceptable", "username and password are required");
      const account = accountJid(username, host.domain, options);
      if (!host.limiter.hit(REGISTER_POLICY, conn.ip)) {
        log.info({ ip: conn.ip, policy: REGISTER_POLICY }, "registration refused: per-IP limit reached");
        throw new StanzaError("resource-constraint", "too many registrations from your address", "wait");
      }
      if (await host.store.accounts.exists(account.bare)) throw new StanzaError("conflict", "that username is taken");
      const credentials = await credentialsFor(password, options);
      try {
        await host.store.accounts.create(account.bare, credentials);
      } catch (err) {
        if (err instanceof AccountExistsError) throw new StanzaError("conflict", "that username is taken", undefined, { cause: err });
        throw err;
      }
      log.info({ jid: account.bare, ip: conn.ip }, "account registered in-band");
    });

    ctx.iq({ type: "get", xmlns: NS_REGISTER, name: "query", targets: ["host", "bare"] }, (ev) => {
      assertOwnAccount(ev);
      // §3.2: an authenticated entity is told it is registered, and under which name.
      return x("query", { xmlns: NS_REGISTER }, x("registered"), x("username", null, ev.from.local));
    });

    ctx.iq({ type: "set", xmlns: NS_REGISTER, name: "query", targets: ["host", "bare"] }, async (ev, query): Promise<Element | typeof REPLIED | void> => {
      assertOwnAccount(ev);
      const owner = ev.from.bare;
      if (query.getChild("remove")) {
        await host.store.accounts.delete(owner);
        log.info({ jid: owner }, "account removed in-band");
        // §3.2: answer first, then end the stream, whose credentials no longer exist.
        await host.router.reply(ev, iqResult(ev.stanza));
        ev.origin?.close(new StreamError("not-authorized", "account removed"));
        return REPLIED;
      }
      if (!options.allowPasswordChange) throw new StanzaError("not-allowed", "password changes are disabled on this server");
      const username = field(query, "username");
      const password = field(query, "password");
      // §3.3: the password is required; the username, if given, must be the account's own.
      if (password === undefined) throw new StanzaError("bad-request", "a new password is required");
      if (username !== undefined && accountJid(username, host.domain, options).bare !== owner) {
        throw new StanzaError("not-authorized", "you can only change the password of your own account");
      }
      await host.store.accounts.setCredentials(owner, await credentialsFor(password, options));
      log.info({ jid: owner }, "password changed in-band");
    });
  },
});

/** The post-auth handlers act on the sender's own account only (to = host or own bare JID). */
function assertOwnAccount(ev: StanzaEvent): void {
  if (ev.to.local !== "" && ev.to.bare !== ev.from.bare) throw new StanzaError("service-unavailable");
  if (ev.from.local === "" || !ev.origin) throw new StanzaError("not-authorized");
}
