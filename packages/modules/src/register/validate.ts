/**
 * Checks on the username and password an XEP-0077 request carries, shared by registration
 * (§3.1) and password change (§3.3).
 */
import { type Element, Jid, StanzaError } from "@switchboard/xml";
import { SaslPrepError, deriveCredentialsAsync, type AccountCredentials } from "@switchboard/sasl";

export interface FieldLimits {
  maxUsernameLength: number;
  maxPasswordLength: number;
}

/** The text of a field, undefined when the element is absent or empty. */
export function field(query: Element, name: string): string | undefined {
  const text = query.getChildText(name);
  return text === null || text === "" ? undefined : text;
}

/**
 * Normalises a requested username to a JID localpart (RFC 7622 §3.3); a name that is not a
 * valid localpart is refused with not-acceptable, as Prosody does ("The requested username is
 * invalid"), since XEP-0077 §3.1 defines no better condition.
 */
export function accountJid(username: string, domain: string, limits: FieldLimits): Jid {
  if ([...username].length > limits.maxUsernameLength) {
    throw new StanzaError("not-acceptable", `username longer than ${limits.maxUsernameLength} characters`);
  }
  try {
    return new Jid(username, domain);
  } catch (err) {
    throw new StanzaError("not-acceptable", "the requested username is not a valid JID localpart", undefined, { cause: err });
  }
}

/** Salted SCRAM material for a password (never stored in clear). */
export async function credentialsFor(password: string, limits: FieldLimits): Promise<AccountCredentials> {
  if ([...password].length > limits.maxPasswordLength) {
    throw new StanzaError("not-acceptable", `password longer than ${limits.maxPasswordLength} characters`);
  }
  try {
    return await deriveCredentialsAsync(password);
  } catch (err) {
    // RFC 4013 SASLprep refuses control and unassigned characters; such a password could
    // never be used to log in.
    if (err instanceof SaslPrepError) throw new StanzaError("not-acceptable", "the password contains characters that are not allowed", undefined, { cause: err });
    throw err;
  }
}
