/**
 * XEP-0398 User Avatar to vCard-Based Avatars Conversion (0.3), the PEP → vCard direction the
 * XEP makes a MUST (§3; vCard → PEP is a MAY and not done here):
 * - when an account publishes to `urn:xmpp:avatar:metadata` (XEP-0084 §3.2), the image its
 *   metadata points at (the `<info/>` without a `url`, whose id is the SHA-1 of the image) is
 *   read from the `urn:xmpp:avatar:data` node and stored as the PHOTO of its vCard (XEP-0054),
 *   other vCard fields kept; metadata without an `<info/>` (avatar disabled, §3.5) removes it.
 *   Only an image whose data node is `open` is copied (§6: a vCard is world-readable) and only
 *   one whose SHA-1 matches its id (§3 SHOULD).
 * - every available presence an account's client sends carries the hash of its vCard photo in
 *   `<x xmlns='vcard-temp:x:update'><photo/></x>` (XEP-0153 §3.2, XEP-0398 §4), directed ones
 *   (MUC joins) too: added when absent, filled in when the client sent the element without a
 *   photo, left alone when it sent a photo (an empty one says "no avatar").
 * Advertised on the account as `urn:xmpp:pep-vcard-conversion:0`.
 */
import { createHash } from "node:crypto";
import { type Element, NS_VCARD, parseFrame, x } from "@switchboard/xml";
import { defineModule, type Host, type Logger } from "@switchboard/core";

export const NS_PEP_VCARD_CONVERSION = "urn:xmpp:pep-vcard-conversion:0";
export const NS_VCARD_UPDATE = "vcard-temp:x:update";
const NS_AVATAR_METADATA = "urn:xmpp:avatar:metadata";
const NS_AVATAR_DATA = "urn:xmpp:avatar:data";

/**
 * How long a photo hash read from the store is trusted. The node that converts forgets its own
 * copy at once; another node (a cluster, a second resource elsewhere), or a vCard set directly,
 * is seen within this time.
 */
const HASH_TTL_MS = 30_000;
const MAX_CACHED = 50_000;

/** Before the presence module (feature band, offset 0) routes or broadcasts it. */
const BEFORE_PRESENCE = { band: "feature", offset: 100 } as const;

export const avatarConversionModule = defineModule({
  name: "avatar-conversion",
  spec: "XEP-0398",
  options: {},
  setup(ctx) {
    const { host, log } = ctx;
    ctx.accountFeature(NS_PEP_VCARD_CONVERSION);
    const hashes = new PhotoHashes(host, log);

    ctx.on("pep/changed", async ({ owner, node }) => {
      if (node !== NS_AVATAR_METADATA) return;
      const hash = await convert(host, owner, log);
      if (hash !== undefined) hashes.set(owner, hash);
    }, { band: "after" });

    ctx.on("stanza/out", async (ev) => {
      if (ev.kind !== "presence" || !ev.origin || ev.stanza.attrs.type !== undefined) return false;
      const sent = ev.stanza.getChild("x", NS_VCARD_UPDATE);
      // the client told its own hash, or that it has none (an empty <photo/>)
      if (sent?.getChild("photo")) return false;
      const hash = await hashes.get(ev.from.bare);
      if (hash === undefined) return false;
      const stamped = withPhotoHash(ev.stanza, hash);
      host.traces.carry(ev.stanza, stamped);
      ev.stanza = stamped;
      return false;
    }, BEFORE_PRESENCE);
  },
});

/** A copy with our `<x><photo>hash</photo></x>` in place of any update element without a photo. */
function withPhotoHash(presence: Element, hash: string): Element {
  const copy = x(presence.name, { ...presence.attrs });
  for (const child of presence.children) {
    if (typeof child !== "string" && child.name === "x" && child.attrs.xmlns === NS_VCARD_UPDATE) continue;
    copy.children.push(child);
  }
  copy.cnode(x("x", { xmlns: NS_VCARD_UPDATE }, x("photo", {}, hash)));
  return copy;
}

/** Per-account photo hashes ("" for no photo), read from the stored vCard and kept a while. */
class PhotoHashes {
  private readonly cache = new Map<string, { hash: string; at: number }>();

  constructor(
    private readonly host: Host,
    private readonly log: Logger,
  ) {}

  set(owner: string, hash: string): void {
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(owner, { hash, at: Date.now() });
  }

  async get(owner: string): Promise<string | undefined> {
    const hit = this.cache.get(owner);
    if (hit && Date.now() - hit.at < HASH_TTL_MS) return hit.hash;
    let hash: string;
    try {
      const stored = await this.host.store.vcard.get(owner);
      hash = stored === undefined ? "" : photoHash(parseFrame(stored));
    } catch (err) {
      this.log.warn({ err, jid: owner }, "vCard not readable for its photo hash");
      return undefined;
    }
    this.set(owner, hash);
    return hash;
  }
}

/** SHA-1 hex of the vCard's PHOTO/BINVAL image (XEP-0153 §4.1), "" without one. */
export function photoHash(vcard: Element): string {
  const binval = vcard.getChild("PHOTO")?.getChildText("BINVAL");
  if (!binval) return "";
  return createHash("sha1").update(Buffer.from(binval.replace(/\s+/g, ""), "base64")).digest("hex");
}

/**
 * Copies the avatar the metadata points at into the vCard; the new photo hash, or undefined
 * when nothing was changed (no usable image).
 */
async function convert(host: Host, owner: string, log: Logger): Promise<string | undefined> {
  const [latest] = await host.store.pep.items(owner, NS_AVATAR_METADATA, 1);
  if (!latest) return undefined;
  let metadata: Element;
  try {
    metadata = parseFrame(latest.xml);
  } catch {
    return undefined;
  }
  // §3: of several <info/>, the one stored here (no url)
  const info = metadata.getChildren("info").find((i) => i.attrs.url === undefined && i.attrs.id);
  const vcard = await storedVCard(host, owner, log);
  const rest = vcard.children.filter((c) => typeof c === "string" || c.name !== "PHOTO");
  if (!info) {
    // XEP-0084 §3.5: metadata without <info/> disables the avatar
    if (rest.length === vcard.children.length) return "";
    await host.store.vcard.set(owner, x("vCard", { xmlns: NS_VCARD }, ...rest).toString());
    return "";
  }
  const config = await host.store.pep.node(owner, NS_AVATAR_DATA);
  if (config?.accessModel !== "open") {
    log.debug({ jid: owner }, "avatar not copied to the vCard: its data node is not open (XEP-0398 §6)");
    return undefined;
  }
  const [item] = await host.store.pep.itemsById(owner, NS_AVATAR_DATA, [info.attrs.id!]);
  if (!item) return undefined;
  let data: Element;
  try {
    data = parseFrame(item.xml);
  } catch {
    return undefined;
  }
  const base64 = data.text().replace(/\s+/g, "");
  const hash = createHash("sha1").update(Buffer.from(base64, "base64")).digest("hex");
  if (hash !== info.attrs.id!.toLowerCase()) {
    log.info({ jid: owner }, "avatar not copied to the vCard: its SHA-1 does not match its id (XEP-0398 §3)");
    return undefined;
  }
  const photo = x("PHOTO", {}, x("TYPE", {}, info.attrs.type ?? "image/png"), x("BINVAL", {}, base64));
  await host.store.vcard.set(owner, x("vCard", { xmlns: NS_VCARD }, ...rest, photo).toString());
  return hash;
}

async function storedVCard(host: Host, owner: string, log: Logger): Promise<Element> {
  const stored = await host.store.vcard.get(owner);
  if (stored !== undefined) {
    try {
      return parseFrame(stored);
    } catch (err) {
      log.warn({ err, jid: owner }, "stored vCard does not parse; the avatar conversion starts a new one");
    }
  }
  return x("vCard", { xmlns: NS_VCARD });
}
