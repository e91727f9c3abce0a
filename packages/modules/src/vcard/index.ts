/**
 * XEP-0054 vcard-temp: an account's vCard is stored by the server, set only by the account
 * (§3.2) and readable by anyone (§3.3 — vcard-temp has no access model; XEP-0054 §7 leaves it
 * to the user what to publish). A query for an account that does not exist gets
 * <service-unavailable/> (RFC 6121 §8.5.2.2.1: no account, no answer on its behalf), an
 * existing account without a vCard gets an empty one (§3.1 "the server MUST return an empty
 * vCard"), as ejabberd does.
 */
import { type Element, NS_VCARD, StanzaError, parseFrame, x } from "@switchboard/xml";
import { defineModule, option, type OptionsOf, type Logger } from "@switchboard/core";

/** Operator options: `modules.vcard.<option>`. */
export const VCARD_OPTIONS = {
  maxBytes: option.integer(1, 16 * 1024 * 1024, 64 * 1024, "Largest serialized vCard accepted (XEP-0054 sets none; photos are the usual culprits)."),
};
export type VCardOptions = OptionsOf<typeof VCARD_OPTIONS>;

export const vcardModule = defineModule({
  name: "vcard",
  spec: "XEP-0054",
  options: VCARD_OPTIONS,
  setup(ctx) {
    const { host, options } = ctx;
    ctx.hostFeature(NS_VCARD);
    ctx.accountFeature(NS_VCARD);

    ctx.iq({ type: "get", xmlns: NS_VCARD, name: "vCard", targets: ["bare"] }, async (ev) => {
      const owner = ev.to.bare;
      if (owner !== ev.from.bare && !(await host.store.accounts.exists(owner))) throw new StanzaError("service-unavailable");
      const stored = await host.store.vcard.get(owner);
      return stored === undefined ? emptyVCard() : parseStored(stored, ctx.log);
    });

    ctx.iq({ type: "set", xmlns: NS_VCARD, name: "vCard", targets: ["bare"] }, async (ev, vcard) => {
      // §3.2: only the account may change its own vCard.
      if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "you may only set your own vCard");
      const xml = vcard.toString();
      if (Buffer.byteLength(xml, "utf8") > options.maxBytes) {
        throw new StanzaError("not-acceptable", `vCard larger than ${options.maxBytes} bytes`);
      }
      await host.store.vcard.set(ev.to.bare, xml);
    });
  },
});

function emptyVCard(): Element {
  return x("vCard", { xmlns: NS_VCARD });
}

function parseStored(xml: string, log: Logger): Element {
  try {
    return parseFrame(xml);
  } catch (err) {
    // A corrupt row must not break every lookup of this account; serve an empty vCard.
    log.warn({ err }, "stored vCard does not parse, returning an empty one");
    return emptyVCard();
  }
}
