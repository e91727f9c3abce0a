/**
 * Account JIDs typed on the command line: a bare JID localpart@domain (RFC 7622 §3), normalised
 * by @switchboard/xml, on the configured domain.
 */
import { JidError, parseJid } from "@switchboard/xml";
import { UsageError } from "./errors.js";

export function parseAccountJid(text: string, domain: string): string {
  let jid;
  try {
    jid = parseJid(text);
  } catch (err) {
    if (err instanceof JidError) throw new UsageError(`invalid JID "${text}": ${err.message}`, { cause: err });
    throw err;
  }
  if (jid.local === "") throw new UsageError(`invalid JID "${text}": expected user@${domain}`);
  if (!jid.isBare()) throw new UsageError(`invalid JID "${text}": an account JID has no /resource`);
  if (jid.domain !== domain) {
    throw new UsageError(`invalid JID "${text}": domain "${jid.domain}" is not the configured domain "${domain}"`);
  }
  return jid.bare;
}
