/**
 * XEP-0077 §3.1: account creation before authentication, offered only when the operator
 * allows registration (register/index.ts).
 *
 * Abuse control (§11.1 "Account Registration Abuse"): registrations are limited per IP
 * address with the cluster-wide limiter policy 'register.per-ip' (`perIpPerHour`, token
 * bucket over one hour). Every well-formed attempt costs a token, conflicts included, so the
 * form cannot be used to probe for taken usernames at full speed. The token is taken with
 * acquire(), exact across the edges: a registration is rare enough to wait for Redis. A refusal
 * is <resource-constraint/> of type wait (the client may come back later) with the retry hint.
 */
import { AccountExistsError, type ModuleContext } from "@switchboard/core";
import { NS_REGISTER, NS_REGISTER_FEATURE, StanzaError, x } from "@switchboard/xml";
import type { RegisterOptions } from "./index.js";
import { accountJid, credentialsFor, field } from "./validate.js";

export const REGISTER_POLICY = "register.per-ip";

/** §3.1: account creation before authentication, throttled per IP address. */
export function offerRegistration(ctx: ModuleContext<RegisterOptions>): void {
  const { host, options, log } = ctx;
  host.limiter.define(REGISTER_POLICY, { limit: options.perIpPerHour, intervalMs: 3_600_000, keyedBy: "ip", scope: "cluster", condition: "resource-constraint" });
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
    // refused before the account lookup, so a flood costs no store reads; rateLimits logs it
    const decision = await host.rateLimits.checkAcquire(REGISTER_POLICY, conn.ip);
    if (!decision.allowed) throw host.rateLimits.error(decision).toStanzaError("too many registrations from your address");
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
}
