/**
 * JIDs typed on the command line (RFC 7622 §3), normalised by @switchboard/xml, on the
 * configured domain: accounts (bare) for the user commands, an account or one of its resources
 * for the admin commands.
 */
import { JidError, parseJid, type Jid } from "@switchboard/xml";
import { UsageError } from "./errors.js";

function parseUserJid(text: string, domain: string, expected: string): Jid {
  let jid;
  try {
    jid = parseJid(text);
  } catch (err) {
    if (err instanceof JidError) throw new UsageError(`invalid JID "${text}": ${err.message}`, { cause: err });
    throw err;
  }
  if (jid.local === "") throw new UsageError(`invalid JID "${text}": expected ${expected}`);
  if (jid.domain !== domain) {
    throw new UsageError(`invalid JID "${text}": domain "${jid.domain}" is not the configured domain "${domain}"`);
  }
  return jid;
}

export function parseAccountJid(text: string, domain: string): string {
  const jid = parseUserJid(text, domain, `user@${domain}`);
  if (!jid.isBare()) throw new UsageError(`invalid JID "${text}": an account JID has no /resource`);
  return jid.bare;
}

/** An account (bare) or one of its resources (full), for the admin commands. */
export function adminJid(text: string, domain: string): string {
  return parseUserJid(text, domain, `user@${domain} or user@${domain}/resource`).full;
}
