/** A JID for the admin commands: an account (bare) or one of its resources (full), on the configured domain. */
import { JidError, parseJid } from "@switchboard/xml";
import { UsageError } from "../errors.js";

export function adminJid(text: string, domain: string): string {
  let jid;
  try {
    jid = parseJid(text);
  } catch (err) {
    if (err instanceof JidError) throw new UsageError(`invalid JID "${text}": ${err.message}`, { cause: err });
    throw err;
  }
  if (jid.local === "") throw new UsageError(`invalid JID "${text}": expected user@${domain} or user@${domain}/resource`);
  if (jid.domain !== domain) throw new UsageError(`invalid JID "${text}": domain "${jid.domain}" is not the configured domain "${domain}"`);
  return jid.full;
}
