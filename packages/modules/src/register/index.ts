/**
 * XEP-0077 In-Band Registration. Always loaded, so that a logged-in user can see its
 * registration (§3.2 "already registered"), cancel it (§3.2, <remove/>) and change its password
 * (§3.3) — clients' "change password" and "delete account" menus — as Prosody offers them with
 * registration closed. Account creation before authentication (§3.1), the `register` stream
 * feature and the pre-auth IQ exist only with `allowRegistration`; without it a stranger's
 * pre-auth IQ ends the stream like any stanza before authentication. The disco feature stays
 * either way (Prosody too): clients look for it before offering the password change.
 */
import { REPLIED, defineModule, iqResult, option, type OptionsOf, type StanzaEvent } from "@switchboard/core";
import { type Element, NS_REGISTER, StanzaError, StreamError, x } from "@switchboard/xml";
import { offerRegistration } from "./signup.js";
import { accountJid, credentialsFor, field } from "./validate.js";

export { REGISTER_POLICY } from "./signup.js";

/**
 * Operator options: `modules.register.<option>`; whether registration is open and its per-IP
 * rate come from `registration.enabled` and `registration.perIpPerHour`.
 */
export const REGISTER_OPTIONS = {
  allowRegistration: option.boolean(false, "§3.1: anyone may create an account before logging in."),
  perIpPerHour: option.integer(1, 1_000_000, 5, "Accounts one IP address may create per hour."),
  allowPasswordChange: option.boolean(true, "§3.3: logged-in users may change their password in-band."),
  requireEncryption: option.boolean(true, "§13: refuse registration over an unencrypted stream (the password would travel in clear)."),
  maxUsernameLength: option.integer(1, 1023, 64, "Longest username accepted at registration, in characters."),
  maxPasswordLength: option.integer(1, 65_536, 1024, "Longest password accepted at registration or password change, in characters."),
  instructions: option.string("Choose a username and password to register with this server.", "The <instructions/> text of the registration form."),
};

export type RegisterOptions = OptionsOf<typeof REGISTER_OPTIONS>;

export const registerModule = defineModule({
  name: "register",
  spec: "XEP-0077",
  options: REGISTER_OPTIONS,
  setup(ctx) {
    const { host, options, log } = ctx;
    ctx.hostFeature(NS_REGISTER);
    if (options.allowRegistration) offerRegistration(ctx);

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
