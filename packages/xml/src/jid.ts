// RFC 7622 JIDs (localpart@domainpart/resourcepart).
//
// Normalisation is a pragmatic stand-in for the PRECIS profiles of RFC 7622 §3.3–3.4:
// localpart and domainpart are case-folded with Unicode toLowerCase and composed to NFC, a
// trailing dot on the domain is dropped (§3.2); the resourcepart keeps its case (OpaqueString)
// and is only composed to NFC. Each part must be 1..1023 bytes of UTF-8 (§3.1).

const MAX_PART_BYTES = 1023;
// RFC 7622 §3.3.1: characters the UsernameCaseMapped profile forbids in a localpart.
const LOCAL_FORBIDDEN = /["&'/:<>@\s\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
// A label of a hostname, ASCII or internationalised (U-label); '_' is tolerated because real
// deployments use it in component and service host names. COMPAT: not strictly LDH.
const HOST_LABEL = /^[\p{L}\p{N}\p{M}_](?:[\p{L}\p{N}\p{M}_-]*[\p{L}\p{N}\p{M}_])?$/u;

/** A JID that cannot be parsed or fails RFC 7622 validation. */
export class JidError extends Error {
  override readonly name = "JidError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class Jid {
  readonly local: string;
  readonly domain: string;
  /** '' when the JID has no resource. */
  readonly resource: string;
  readonly #bare: string;
  readonly #full: string;

  /** Validates and normalises each part; throws JidError. Pass '' for an absent local/resource. */
  constructor(local: string, domain: string, resource = "") {
    this.local = local === "" ? "" : normaliseLocal(local);
    this.domain = normaliseDomain(domain);
    this.resource = resource === "" ? "" : normaliseResource(resource);
    this.#bare = this.local === "" ? this.domain : `${this.local}@${this.domain}`;
    this.#full = this.resource === "" ? this.#bare : `${this.#bare}/${this.resource}`;
  }

  get bare(): string {
    return this.#bare;
  }

  get full(): string {
    return this.#full;
  }

  toString(): string {
    return this.#full;
  }

  toBare(): Jid {
    return this.resource === "" ? this : new Jid(this.local, this.domain);
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, resource);
  }

  isBare(): boolean {
    return this.resource === "";
  }

  equals(other: Jid): boolean {
    return this.#full === other.#full;
  }
}

/** Parse a JID in the order of RFC 7622 §3.2; throws JidError. */
export function parseJid(s: string): Jid {
  // §3.2 step 1: the first '/' starts the resourcepart (which may itself contain '/' and '@').
  const slash = s.indexOf("/");
  const beforeResource = slash === -1 ? s : s.slice(0, slash);
  const resource = slash === -1 ? "" : s.slice(slash + 1);
  if (slash !== -1 && resource === "") throw new JidError(`empty resourcepart in "${s}"`);
  // §3.2 step 2: the first '@' before the resourcepart ends the localpart.
  const at = beforeResource.indexOf("@");
  const local = at === -1 ? "" : beforeResource.slice(0, at);
  const domain = at === -1 ? beforeResource : beforeResource.slice(at + 1);
  if (at !== -1 && local === "") throw new JidError(`empty localpart in "${s}"`);
  return new Jid(local, domain, resource);
}

/** parseJid that returns undefined instead of throwing, for untrusted `to`/`from` attributes. */
export function tryParseJid(s: string): Jid | undefined {
  try {
    return parseJid(s);
  } catch {
    return undefined;
  }
}

export function jid(local: string, domain: string, resource?: string): Jid {
  return new Jid(local, domain, resource ?? "");
}

function checkLength(part: string, what: string): void {
  // UTF-8 length is at most 3 bytes per UTF-16 unit, so short strings skip the byte count.
  if (part.length * 3 > MAX_PART_BYTES && Buffer.byteLength(part, "utf8") > MAX_PART_BYTES) {
    throw new JidError(`${what} exceeds ${MAX_PART_BYTES} bytes`);
  }
}

function fold(s: string): string {
  return PRINTABLE_ASCII.test(s) ? s.toLowerCase() : s.toLowerCase().normalize("NFC");
}

function normaliseLocal(raw: string): string {
  const local = fold(raw);
  checkLength(local, "localpart");
  if (LOCAL_FORBIDDEN.test(local)) throw new JidError(`localpart "${raw}" contains a forbidden character`);
  return local;
}

function normaliseResource(raw: string): string {
  const resource = PRINTABLE_ASCII.test(raw) ? raw : raw.normalize("NFC");
  checkLength(resource, "resourcepart");
  if (CONTROL.test(resource)) throw new JidError("resourcepart contains a control character");
  return resource;
}

function normaliseDomain(raw: string): string {
  // §3.2: a trailing dot is stripped before any other check.
  let domain = fold(raw.endsWith(".") ? raw.slice(0, -1) : raw);
  if (domain === "") throw new JidError("empty domainpart");
  checkLength(domain, "domainpart");
  if (domain.startsWith("[")) {
    if (!domain.endsWith("]") || !isIPv6(domain.slice(1, -1))) {
      throw new JidError(`domainpart "${raw}" is not a valid IPv6 literal`);
    }
    return domain;
  }
  for (const label of domain.split(".")) {
    if (label.length > 63 && PRINTABLE_ASCII.test(label)) throw new JidError(`domain label "${label}" exceeds 63 characters`);
    if (!HOST_LABEL.test(label)) throw new JidError(`domainpart "${raw}" is not a valid hostname`);
  }
  return domain;
}

const HEX_GROUP = /^[0-9a-f]{1,4}$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** RFC 4291 §2.2 text forms, including '::' compression and a trailing dotted IPv4. */
function isIPv6(s: string): boolean {
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...tail];
  let units = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    if (i === all.length - 1 && IPV4.test(g)) units += 2;
    else if (HEX_GROUP.test(g)) units += 1;
    else return false;
  }
  return halves.length === 2 ? units < 8 : units === 8;
}

/**
 * The bare part of an already-normalised JID string ("user@domain/res" → "user@domain"),
 * without parsing: for registry keys and lookups on the hot path, where the string came from
 * a parsed Jid in the first place.
 */
export function bareOf(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? jid : jid.slice(0, slash);
}
