/**
 * Server Dialback (XEP-0220) and its key (XEP-0185 §3): what both sides of a server-to-server
 * stream need to speak it. The key is HMAC-SHA256 keyed with SHA-256 of the server secret over
 * "receiving originating stream-id", hex: a pure function of the deployment's secret, so any
 * node of a cluster answers a verification request for a stream another node opened.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Element, x } from "@switchboard/xml";

export const NS_DIALBACK = "jabber:server:dialback";
/** XEP-0220 §2.1: the stream feature a receiving server advertises */
export const NS_DIALBACK_FEATURE = "urn:xmpp:features:dialback";

export class DialbackKeys {
  private readonly hmacKey: Buffer;

  constructor(secret: Buffer) {
    // XEP-0185 §3: the HMAC key is the hash of the secret, never the secret itself.
    this.hmacKey = createHash("sha256").update(secret).digest();
  }

  /** the key the originating server sends in <db:result/> for a stream to `receiving` with this id */
  key(receiving: string, originating: string, streamId: string): string {
    return createHmac("sha256", this.hmacKey).update(`${receiving} ${originating} ${streamId}`).digest("hex");
  }

  /** constant-time comparison with the expected key */
  verify(receiving: string, originating: string, streamId: string, key: string): boolean {
    const expected = Buffer.from(this.key(receiving, originating, streamId));
    const given = Buffer.from(key.trim());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * The dialback element `name` (result or verify), whether written with the `db:` prefix declared
 * on the stream (as most servers do) or with its own default namespace.
 */
export function dialbackElement(el: Element): "result" | "verify" | undefined {
  const [prefix, local] = el.name.includes(":") ? el.name.split(":", 2) : [undefined, el.name];
  if (local !== "result" && local !== "verify") return undefined;
  const ns = prefix === undefined ? el.attrs.xmlns : el.attrs[`xmlns:${prefix}`];
  return ns === NS_DIALBACK ? local : undefined;
}

/** <db:name/> with our prefix; the stream header declares it (XEP-0220 §2.1.1). */
export function dbElement(name: "result" | "verify", attrs: Record<string, string>, content?: string | Element): Element {
  return x(`db:${name}`, { "xmlns:db": NS_DIALBACK, ...attrs }, content);
}
