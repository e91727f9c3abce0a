/**
 * Node configuration as XEP-0004 data forms: the owner's configure form (XEP-0060 §8.2, the
 * `pubsub#node_config` FORM_TYPE, §16.4.4 fields) and publish-options (§7.1.5, the
 * `pubsub#publish-options` FORM_TYPE, which XEP-0223 uses to ask for persistent private
 * storage). One field table serves both, so a field means the same in either.
 */
import { StanzaError, x, type Element } from "@switchboard/xml";
import type { PepAccessModel, PepNodeConfig } from "@switchboard/core";
import { NS_DATA, NS_NODE_CONFIG, pubsubError } from "./ns.js";

const ACCESS_MODELS: readonly PepAccessModel[] = ["presence", "open", "whitelist"];
const SEND_LAST = ["never", "on_sub", "on_sub_and_presence"] as const;

/** XEP-0163 §4.5 / §8: what a node auto-created by a publish without options starts with. */
export function defaultConfig(): PepNodeConfig {
  return { accessModel: "presence", maxItems: 1, persistItems: true, notifyRetract: true };
}

/** Submitted fields by var (FORM_TYPE left out); undefined for a cancelled form (XEP-0004 §3.4). */
export function readForm(form: Element, formType: string): Map<string, string[]> | undefined {
  if (form.attrs.type === "cancel") return undefined;
  if (form.attrs.type !== "submit") throw new StanzaError("bad-request", "the form must be of type 'submit' (XEP-0004 §3.1)");
  const fields = new Map<string, string[]>();
  for (const field of form.getChildren("field")) {
    const name = field.attrs.var;
    if (!name) throw new StanzaError("bad-request", "a submitted field needs a 'var'");
    if (fields.has(name)) throw new StanzaError("bad-request", `field '${name}' given twice`);
    fields.set(name, field.getChildren("value").map((v) => v.getText()));
  }
  const type = fields.get("FORM_TYPE");
  if (type?.length !== 1 || type[0] !== formType) throw new StanzaError("bad-request", `the form's FORM_TYPE must be ${formType}`);
  fields.delete("FORM_TYPE");
  return fields;
}

/**
 * Fields whose behaviour is fixed here: accepted at their one value (a publish-option that asks
 * for another cannot be met, XEP-0060 §7.1.5).
 */
const FIXED: Record<string, string> = {
  "pubsub#deliver_notifications": "true",
  "pubsub#deliver_payloads": "true",
  "pubsub#notify_delete": "true",
  "pubsub#presence_based_delivery": "false",
  "pubsub#purge_offline": "false",
  "pubsub#publish_model": "publishers",
  "pubsub#notification_type": "headline",
};

/** Why a wanted value cannot be had: unsupported (the mode picks the error) or malformed (bad-request). */
class Unsupported extends Error {}

/**
 * The configuration `fields` ask for over `base`. Malformed values are <bad-request/>; values
 * this service does not offer are <not-acceptable/> for a configure (§8.2.5.3) and
 * <conflict/> + <precondition-not-met/> for publish-options (§7.1.5); unknown fields are
 * ignored in a configure (clients send the whole form back) and cannot be met as options.
 */
export function applyFields(base: PepNodeConfig, fields: Map<string, string[]>, maxItemsCap: number, mode: "configure" | "options"): PepNodeConfig {
  const next = { ...base };
  try {
    for (const [name, values] of fields) {
      const value = values.length === 1 ? values[0]! : undefined;
      switch (name) {
        case "pubsub#access_model":
          if (!ACCESS_MODELS.includes(value as PepAccessModel)) throw new Unsupported(`access model '${values.join(" ")}' (offered: ${ACCESS_MODELS.join(", ")})`);
          next.accessModel = value as PepAccessModel;
          break;
        case "pubsub#max_items":
          next.maxItems = maxItems(value, maxItemsCap);
          break;
        case "pubsub#persist_items":
          next.persistItems = bool(name, value);
          break;
        case "pubsub#notify_retract":
          next.notifyRetract = bool(name, value);
          break;
        case "pubsub#title":
          if (values.length > 1) throw new StanzaError("bad-request", "pubsub#title takes one value");
          next.title = value || undefined;
          break;
        case "pubsub#send_last_published_item":
          if (!SEND_LAST.includes(value as never)) throw new Unsupported(`send_last_published_item '${values.join(" ")}'`);
          next.sendLastPublishedItem = value as PepNodeConfig["sendLastPublishedItem"];
          break;
        default:
          if (FIXED[name] !== undefined) {
            if (normalBool(value) !== FIXED[name]) throw new Unsupported(`${name} is always ${FIXED[name]} here`);
          } else if (mode === "options") throw new Unsupported(`unknown option ${name}`);
      }
    }
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    if (mode === "configure") throw new StanzaError("not-acceptable", `not offered: ${err.message}`);
    throw pubsubError("conflict", "precondition-not-met", `publish-options cannot be met: ${err.message}`);
  }
  return next;
}

/** XEP-0060 §7.1.5: an existing node's configuration must already be what the options ask for. */
export function meetsOptions(config: PepNodeConfig, fields: Map<string, string[]>, maxItemsCap: number): boolean {
  const wanted = applyFields(config, fields, maxItemsCap, "options");
  return sameConfig(config, wanted);
}

export function sameConfig(a: PepNodeConfig, b: PepNodeConfig): boolean {
  return (
    a.accessModel === b.accessModel &&
    a.maxItems === b.maxItems &&
    a.persistItems === b.persistItems &&
    a.notifyRetract === b.notifyRetract &&
    (a.title ?? "") === (b.title ?? "") &&
    (a.sendLastPublishedItem ?? "on_sub_and_presence") === (b.sendLastPublishedItem ?? "on_sub_and_presence")
  );
}

function maxItems(value: string | undefined, cap: number): number {
  // XEP-0060 §16.4.4 (1.15.8): "max" is the largest number of items the service allows
  if (value === "max") return cap;
  if (value === undefined || !/^\d+$/.test(value.trim())) throw new StanzaError("bad-request", `pubsub#max_items must be a whole number or 'max', not '${value ?? ""}'`);
  const n = Number(value.trim());
  if (n < 1 || n > cap) throw new Unsupported(`max_items ${n} (from 1 to ${cap})`);
  return n;
}

/** XEP-0004 §3.3 boolean: 0, 1, false, true. */
function normalBool(value: string | undefined): string | undefined {
  if (value === "1" || value === "true") return "true";
  if (value === "0" || value === "false") return "false";
  return value;
}

function bool(name: string, value: string | undefined): boolean {
  const v = normalBool(value);
  if (v !== "true" && v !== "false") throw new StanzaError("bad-request", `${name} must be a boolean (0, 1, false, true)`);
  return v === "true";
}

/** The configure form of a node (XEP-0060 §8.2.1, Example 125's fields that apply to PEP). */
export function configForm(config: PepNodeConfig, maxItemsCap: number): Element {
  const field = (v: string, type: string, label: string, value: string, options?: readonly string[]) =>
    x("field", { var: v, type, label }, options?.map((o) => x("option", {}, x("value", {}, o))), x("value", {}, value));
  return x(
    "x",
    { xmlns: NS_DATA, type: "form" },
    x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, NS_NODE_CONFIG)),
    field("pubsub#title", "text-single", "A friendly name for the node", config.title ?? ""),
    field("pubsub#access_model", "list-single", "Who may subscribe and retrieve items", config.accessModel, ACCESS_MODELS),
    field("pubsub#max_items", "text-single", `Most items to keep (1 to ${maxItemsCap}, or max)`, String(config.maxItems)),
    field("pubsub#persist_items", "boolean", "Persist items to storage", config.persistItems ? "1" : "0"),
    field("pubsub#notify_retract", "boolean", "Notify subscribers when items are removed", config.notifyRetract ? "1" : "0"),
    field("pubsub#send_last_published_item", "list-single", "When to send the last published item", config.sendLastPublishedItem ?? "on_sub_and_presence", SEND_LAST),
  );
}
