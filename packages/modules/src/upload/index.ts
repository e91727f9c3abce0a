/**
 * XEP-0363 HTTP File Upload, the XMPP side: the upload service at `upload.<domain>` (a
 * component served in-process by every node, listed in the domain's disco#items as Prosody and
 * ejabberd do, §3), its disco#info with the max-file-size form (§3), and slot requests (§4).
 * The HTTP side that takes the PUT and serves the GET over HTTPS (§5) is the server's
 * (packages/server/src/upload/); both trust the same signed URL (sign.ts).
 *
 * Refusals (§4.2 and the issue's bad-input list):
 * - larger than maxFileBytes → <not-acceptable/> with <file-too-large><max-file-size/></…>;
 * - over the account's quota (bytes of its unexpired files) → <not-acceptable/> with
 *   <file-too-large/> whose max-file-size is what still fits, and the quota in the text;
 * - a type not in allowedTypes → <not-acceptable/>; a bad name, size or type → <bad-request/>;
 * - more than slotsPerMinute slots → <resource-constraint/> (wait) with <retry stamp/>;
 * - anyone but a local account → <forbidden/>.
 */
import { type Element, NS_DISCO_INFO, NS_DISCO_ITEMS, StanzaError, errorReply, x } from "@switchboard/xml";
import { REPLIED, defineModule, retryHint, type Host, type StanzaEvent } from "@switchboard/core";
import { addDiscoItem } from "../disco/items.js";
import { NS_UPLOAD, parseSlotRequest, typeAllowed, type SlotRequest } from "./slot.js";
import { UploadSigner } from "./sign.js";

export { NS_UPLOAD, DEFAULT_CONTENT_TYPE, normaliseContentType, parseSlotRequest, typeAllowed, type SlotRequest } from "./slot.js";
export { UPLOAD_PATH_PREFIX, UploadSigner, encodeFilename, parseUploadPath, type SlotClaims } from "./sign.js";

export const UPLOAD_COMPONENT = "upload";
export const SLOTS_POLICY = "upload.slots";
const NS_DATA = "jabber:x:data";

export interface UploadOptions {
  /** the service's JID; default `upload.<domain>` */
  domain?: string;
  maxFileBytes: number;
  /** 0: no quota */
  quotaBytesPerUser: number;
  /** 0: no rate limit */
  slotsPerMinute: number;
  /** exact types or `type/*`; empty: all */
  allowedTypes: string[];
  slotSeconds: number;
}

export interface UploadDeps {
  secret: Buffer;
  /** the HTTPS origin the PUT and GET URLs start with, e.g. `https://example.org:5443` */
  baseUrl: () => string;
  /** bytes the account's unexpired files take now */
  usage: (bareJid: string) => Promise<number>;
}

export function uploadModule(deps: UploadDeps) {
  const signer = new UploadSigner(deps.secret);
  return defineModule<UploadOptions>({
    name: "upload",
    spec: "XEP-0363",
    defaults: { maxFileBytes: 104_857_600, quotaBytesPerUser: 1_073_741_824, slotsPerMinute: 30, allowedTypes: [], slotSeconds: 300 },
    setup(ctx) {
      const { host, options, log } = ctx;
      const slots = host.metrics.counter("switchboard_upload_slots_total", { help: "HTTP File Upload slot requests (XEP-0363 §4) by outcome: granted or the limit that refused", labels: ["outcome"] });
      const domain = (options.domain || `upload.${host.domain}`).toLowerCase();
      ctx.onUnload(host.routes.addComponent(domain, UPLOAD_COMPONENT));
      ctx.onUnload(addDiscoItem(host, { jid: domain, name: "HTTP File Upload" }));
      if (options.slotsPerMinute > 0) {
        // cluster scope: a client asking every edge in turn gets one allowance
        host.rateLimits.define(SLOTS_POLICY, { limit: options.slotsPerMinute, intervalMs: 60_000, keyedBy: "bare", scope: "cluster", condition: "resource-constraint" });
      }
      // The service's own IQ table (iq.ts: per domain), answered on whichever node the client is on.
      ctx.iq({ type: "get", domain, xmlns: NS_DISCO_INFO, name: "query" }, (_ev, query) => serviceInfo(query, options.maxFileBytes));
      ctx.iq({ type: "get", domain, xmlns: NS_DISCO_ITEMS, name: "query" }, (_ev, query) => {
        if (query.attrs.node) throw new StanzaError("item-not-found", `unknown node '${query.attrs.node}'`);
        return x("query", { xmlns: NS_DISCO_ITEMS });
      });
      ctx.iq({ type: "get", domain, xmlns: NS_UPLOAD, name: "request" }, async (ev, request) => {
        if (ev.from.domain !== host.domain || ev.from.local === "") throw new StanzaError("forbidden", "only accounts of this server may upload");
        const slot = parseSlotRequest(request);
        const refusal = await refuse(host, ev, slot, options, deps);
        if (refusal) {
          refusal.stanza.attrs.to ??= ev.from.full;
          log.info({ jid: ev.from.bare, size: slot.size, type: slot.contentType, reason: refusal.reason }, `upload slot refused by ${refusal.reason}`);
          slots.add(1, { outcome: refusal.reason });
          await host.router.reply(ev, refusal.stanza);
          return REPLIED;
        }
        const path = signer.newPath(ev.from.bare, slot.filename);
        const expires = Math.floor(Date.now() / 1000) + options.slotSeconds;
        const token = signer.sign({ path, size: slot.size, contentType: slot.contentType, expires });
        const base = deps.baseUrl();
        const query = new URLSearchParams({ size: String(slot.size), type: slot.contentType, expires: String(expires), sig: token });
        log.debug({ jid: ev.from.bare, size: slot.size, type: slot.contentType, path }, "upload slot handed out");
        slots.add(1, { outcome: "granted" });
        return x(
          "slot",
          { xmlns: NS_UPLOAD },
          // §4: header elements the client must copy into its PUT; the token is in the URL
          // too, for clients that drop them (sign.ts).
          x("put", { url: `${base}${path}?${query.toString()}` }, x("header", { name: "Authorization" }, `Bearer ${token}`)),
          x("get", { url: `${base}${path}` }),
        );
      });
    },
  });
}

function serviceInfo(query: Element, maxFileBytes: number): Element {
  if (query.attrs.node) throw new StanzaError("item-not-found", `unknown node '${query.attrs.node}'`);
  return x(
    "query",
    { xmlns: NS_DISCO_INFO },
    x("identity", { category: "store", type: "file", name: "HTTP File Upload" }),
    [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_UPLOAD].map((v) => x("feature", { var: v })),
    // §3: the largest file, in a XEP-0128 form of type urn:xmpp:http:upload:0
    x(
      "x",
      { xmlns: NS_DATA, type: "result" },
      x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, NS_UPLOAD)),
      x("field", { var: "max-file-size" }, x("value", {}, String(maxFileBytes))),
    ),
  );
}

async function refuse(host: Host, ev: StanzaEvent, slot: SlotRequest, options: UploadOptions, deps: UploadDeps): Promise<{ stanza: Element; reason: string } | undefined> {
  if (slot.size > options.maxFileBytes) {
    return {
      reason: "upload.maxFileBytes",
      stanza: withApplicationError(errorReply(ev.stanza, "not-acceptable", `the file is larger than the ${options.maxFileBytes} bytes allowed`, "modify"), tooLarge(options.maxFileBytes)),
    };
  }
  if (!typeAllowed(slot.contentType, options.allowedTypes)) {
    return { reason: "upload.allowedTypes", stanza: errorReply(ev.stanza, "not-acceptable", `files of type ${slot.contentType} may not be uploaded here`, "modify") };
  }
  // the rate first: it costs nothing, the quota a listing of the account's files
  if (options.slotsPerMinute > 0) {
    const decision = await host.rateLimits.checkAcquire(SLOTS_POLICY, ev.from.bare);
    if (!decision.allowed) {
      const stamp = new Date(Date.now() + Math.max(1000, decision.retryAfterMs)).toISOString().replace(/\.\d{3}Z$/, "Z");
      const text = `more than ${options.slotsPerMinute} upload slots a minute; ${retryHint(decision.retryAfterMs)}`;
      // §4.2: quota-like refusals that pass with time carry <retry stamp/>
      return { reason: SLOTS_POLICY, stanza: withApplicationError(errorReply(ev.stanza, "resource-constraint", text, "wait"), x("retry", { xmlns: NS_UPLOAD, stamp })) };
    }
  }
  if (options.quotaBytesPerUser > 0) {
    const used = await deps.usage(ev.from.bare).catch((err: unknown) => {
      host.log.warn({ err, jid: ev.from.bare }, "upload quota unknown: the file store does not answer");
      throw new StanzaError("internal-server-error", "the file store is not available; try again later", "wait");
    });
    if (used + slot.size > options.quotaBytesPerUser) {
      const fits = Math.max(0, Math.min(options.maxFileBytes, options.quotaBytesPerUser - used));
      const text = `upload quota reached: ${used} of ${options.quotaBytesPerUser} bytes used by unexpired files`;
      return { reason: "upload.quotaBytesPerUser", stanza: withApplicationError(errorReply(ev.stanza, "not-acceptable", text, "modify"), tooLarge(fits)) };
    }
  }
  return undefined;
}

function tooLarge(maxFileBytes: number): Element {
  return x("file-too-large", { xmlns: NS_UPLOAD }, x("max-file-size", {}, String(maxFileBytes)));
}

/** XEP-0363 §4.2: the application-specific condition goes inside <error/>, after the defined one. */
function withApplicationError(reply: Element, condition: Element): Element {
  reply.getChild("error")!.cnode(condition);
  return reply;
}
