/**
 * Wire form of a BusEnvelope on NATS: the subject names the destination node, the payload is the
 * stanza XML as UTF-8, and routing metadata travels in NATS headers (HPUB) so a receiver can route
 * without parsing XML and trace context (W3C `traceparent`) crosses edges untouched.
 */
import { headers as natsHeaders, type MsgHdrs } from "nats";
import { createHash } from "node:crypto";
import type { BusEnvelope, ControlMessage, EnvelopeStamp, TapEvent } from "@switchboard/core";
import { InvalidBusEnvelopeError } from "./errors.js";

/** Reserved header names; envelope.headers may not use the `sb-` prefix. */
export const HEADER_KIND = "sb-kind";
export const HEADER_TO = "sb-to";
export const HEADER_SESSION = "sb-session";
export const HEADER_ACTION = "sb-action";
export const HEADER_COMPONENT = "sb-component";
export const HEADER_SHARD = "sb-shard";
/** delivery receipts (core bus-ledger.ts): whose receipt, for which life, up to which number */
export const HEADER_ORIGIN = "sb-origin";
export const HEADER_LIFE = "sb-life";
export const HEADER_SEQ = "sb-seq";
/** a stanza's numbering in one header, "origin life seq id" (fewer header entries per stanza) */
export const HEADER_STAMP = "sb-stamp";
const RESERVED_PREFIX = "sb-";

const NODE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `${prefix}.node.${nodeId}`; the id is checked so it can never add tokens or wildcards. */
export function nodeSubject(prefix: string, nodeId: string): string {
  if (!NODE_ID.test(nodeId)) {
    throw new InvalidBusEnvelopeError(`invalid node id ${JSON.stringify(nodeId)}: letters, digits, '-', '_' only`);
  }
  return `${prefix}.node.${nodeId}`;
}

/**
 * The tap subject of one user: a digest, since a JID's dots would split a subject into tokens;
 * `*` watches every user.
 */
export function tapSubject(prefix: string, user: string): string {
  if (user === "*") return `${prefix}.tap.*`;
  return `${prefix}.tap.${createHash("sha256").update(user).digest("hex").slice(0, 32)}`;
}

export function encodeTap(event: TapEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

export function decodeTap(data: Uint8Array): TapEvent {
  const parsed = JSON.parse(decoder.decode(data)) as Partial<TapEvent>;
  if (typeof parsed.user !== "string" || typeof parsed.xml !== "string" || (parsed.direction !== "in" && parsed.direction !== "out")) {
    throw new InvalidBusEnvelopeError("tap event without user, direction and xml");
  }
  return parsed as TapEvent;
}

/** One subject every node subscribes to for cluster-wide notices. */
/** Requests every node answers (bus.ts serveRequests): `<prefix>.request.<topic>`, topic a plain token. */
export function requestSubject(prefix: string, topic: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(topic)) throw new Error(`invalid request topic "${topic}"`);
  return `${prefix}.request.${topic}`;
}

export function controlSubject(prefix: string): string {
  return `${prefix}.control`;
}

/** Control notices are small JSON objects; they carry no stanza and need no headers. */
export function encodeControl(message: ControlMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

export function decodeControl(data: Uint8Array): ControlMessage {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (
    typeof parsed !== "object" || parsed === null ||
    typeof (parsed as ControlMessage).type !== "string" || typeof (parsed as ControlMessage).origin !== "string"
  ) {
    throw new InvalidBusEnvelopeError("control notice without string type and origin");
  }
  return parsed as ControlMessage;
}

export function validatePrefix(prefix: string): string {
  // Dotted tokens without wildcards or whitespace (NATS subject syntax).
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new InvalidBusEnvelopeError(`invalid subject prefix ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

export interface EncodedEnvelope {
  data: Uint8Array;
  headers: MsgHdrs;
  /** payload + header bytes, what the reconnect buffer accounts for */
  size: number;
}

export function encodeEnvelope(env: BusEnvelope): EncodedEnvelope {
  const h = natsHeaders();
  let headerBytes = 0;
  const put = (key: string, value: string): void => {
    try {
      h.set(key, value);
    } catch (cause) {
      throw new InvalidBusEnvelopeError(`header ${JSON.stringify(key)} cannot be sent over NATS`, { cause });
    }
    headerBytes += key.length + value.length + 4;
  };
  put(HEADER_KIND, env.kind);
  let payload = "";
  switch (env.kind) {
    case "stanza":
      put(HEADER_TO, env.to);
      put(HEADER_SESSION, env.sessionId);
      if (env.stamp) put(HEADER_STAMP, stampText(env.stamp));
      payload = env.xml;
      break;
    case "receipt":
      put(HEADER_ORIGIN, env.origin);
      put(HEADER_LIFE, env.life);
      put(HEADER_SEQ, String(env.upTo));
      break;
    case "session-control":
      put(HEADER_TO, env.to);
      put(HEADER_SESSION, env.sessionId);
      put(HEADER_ACTION, env.action);
      break;
    case "multicast":
      // the targets (a few hundred at most) go in the payload, ahead of the stanza
      if (env.stamp) put(HEADER_STAMP, stampText(env.stamp));
      payload = `${JSON.stringify(env.targets.map((t) => [t.to, t.sessionId]))}\n${env.xml}`;
      break;
    case "component":
      put(HEADER_COMPONENT, env.component);
      put(HEADER_SHARD, env.shard);
      if (env.stamp) put(HEADER_STAMP, stampText(env.stamp));
      payload = env.xml;
      break;
    default:
      throw new InvalidBusEnvelopeError(`unknown envelope kind ${JSON.stringify((env as { kind?: unknown }).kind)}`);
  }
  for (const [key, value] of Object.entries(env.headers ?? {})) {
    if (key.toLowerCase().startsWith(RESERVED_PREFIX)) {
      throw new InvalidBusEnvelopeError(`header ${JSON.stringify(key)} uses the reserved "sb-" prefix`);
    }
    put(key, value);
  }
  const data = encoder.encode(payload);
  return { data, headers: h, size: data.length + headerBytes };
}

/**
 * Reads an envelope; throws InvalidBusEnvelopeError for a kind this version does not know (the
 * subscription drops it: never treated as a stanza). COMPAT: an envelope without a kind comes
 * from a node of the previous version during a rolling upgrade — a stanza, or a conflict order
 * when it carried the old `control: conflict` header.
 */
export function decodeEnvelope(data: Uint8Array, hdrs: MsgHdrs | undefined): BusEnvelope {
  let extra: Record<string, string> | undefined;
  if (hdrs) {
    for (const key of hdrs.keys()) {
      if (key.toLowerCase().startsWith(RESERVED_PREFIX)) continue;
      (extra ??= {})[key] = hdrs.get(key);
    }
  }
  const get = (key: string) => hdrs?.get(key) ?? "";
  const kind = get(HEADER_KIND) || (extra?.control === "conflict" ? "session-control" : "stanza");
  let env: BusEnvelope;
  switch (kind) {
    case "stanza": {
      env = { kind, to: get(HEADER_TO), sessionId: get(HEADER_SESSION), xml: decoder.decode(data) };
      // COMPAT: a node of the previous version numbers nothing (and gets no receipts).
      const stamp = readStamp(get(HEADER_STAMP));
      if (stamp) env.stamp = stamp;
      break;
    }
    case "receipt": {
      const upTo = Number(get(HEADER_SEQ));
      if (!get(HEADER_ORIGIN) || !get(HEADER_LIFE) || !Number.isSafeInteger(upTo) || upTo < 0) {
        throw new InvalidBusEnvelopeError("receipt without origin, life and a whole number");
      }
      env = { kind, origin: get(HEADER_ORIGIN), life: get(HEADER_LIFE), upTo };
      break;
    }
    case "session-control": {
      const action = get(HEADER_ACTION) || extra?.control;
      if (action !== "conflict" && action !== "moved") throw new InvalidBusEnvelopeError(`unknown session action ${JSON.stringify(action)}`);
      env = { kind, to: get(HEADER_TO), sessionId: get(HEADER_SESSION), action };
      break;
    }
    case "multicast": {
      const text = decoder.decode(data);
      const cut = text.indexOf("\n");
      let targets: Array<{ to: string; sessionId: string }>;
      try {
        const raw = JSON.parse(text.slice(0, cut)) as unknown;
        if (!Array.isArray(raw) || !raw.every((t) => Array.isArray(t) && typeof t[0] === "string" && typeof t[1] === "string")) throw new Error("not a target list");
        targets = (raw as Array<[string, string]>).map(([to, sessionId]) => ({ to, sessionId }));
      } catch (cause) {
        throw new InvalidBusEnvelopeError("multicast envelope without a readable target list", { cause });
      }
      env = { kind, targets, xml: text.slice(cut + 1) };
      const stamp = readStamp(get(HEADER_STAMP));
      if (stamp) env.stamp = stamp;
      break;
    }
    case "component": {
      env = { kind, component: get(HEADER_COMPONENT), shard: get(HEADER_SHARD), xml: decoder.decode(data) };
      const stamp = readStamp(get(HEADER_STAMP));
      if (stamp) env.stamp = stamp;
      break;
    }
    default:
      throw new InvalidBusEnvelopeError(`unknown envelope kind ${JSON.stringify(kind)}`);
  }
  if (extra) env.headers = extra;
  return env;
}

function stampText(stamp: EnvelopeStamp): string {
  return `${stamp.origin} ${stamp.life} ${stamp.seq} ${stamp.id}`;
}

/** A stanza's numbering from its header, or undefined when absent or malformed. */
function readStamp(text: string): EnvelopeStamp | undefined {
  const [origin, life, rawSeq, id, extraField] = text.split(" ");
  const seq = Number(rawSeq);
  return origin && life && id && extraField === undefined && Number.isSafeInteger(seq) && seq > 0 ? { origin, life, seq, id } : undefined;
}
