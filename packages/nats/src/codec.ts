/**
 * Wire form of a BusEnvelope on NATS: the subject names the destination node, the payload is the
 * stanza XML as UTF-8, and routing metadata travels in NATS headers (HPUB) so a receiver can route
 * without parsing XML and trace context (W3C `traceparent`) crosses edges untouched.
 */
import { headers as natsHeaders, type MsgHdrs } from "nats";
import type { BusEnvelope, ControlMessage } from "@switchboard/core";
import { InvalidBusEnvelopeError } from "./errors.js";

/** Reserved header names; envelope.headers may not use the `sb-` prefix. */
export const HEADER_TO = "sb-to";
export const HEADER_SESSION = "sb-session";
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

/** One subject every node subscribes to for cluster-wide notices. */
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
  put(HEADER_TO, env.to);
  put(HEADER_SESSION, env.sessionId);
  for (const [key, value] of Object.entries(env.headers ?? {})) {
    if (key.toLowerCase().startsWith(RESERVED_PREFIX)) {
      throw new InvalidBusEnvelopeError(`header ${JSON.stringify(key)} uses the reserved "sb-" prefix`);
    }
    put(key, value);
  }
  const data = encoder.encode(env.xml);
  return { data, headers: h, size: data.length + headerBytes };
}

export function decodeEnvelope(data: Uint8Array, hdrs: MsgHdrs | undefined): BusEnvelope {
  const env: BusEnvelope = {
    to: hdrs?.get(HEADER_TO) ?? "",
    sessionId: hdrs?.get(HEADER_SESSION) ?? "",
    xml: decoder.decode(data),
  };
  if (hdrs) {
    let extra: Record<string, string> | undefined;
    for (const key of hdrs.keys()) {
      if (key.toLowerCase().startsWith(RESERVED_PREFIX)) continue;
      (extra ??= {})[key] = hdrs.get(key);
    }
    if (extra) env.headers = extra;
  }
  return env;
}
