/**
 * Parsers for the two client messages of SCRAM (RFC 5802 §7 grammar). They check syntax only;
 * the mechanism decides what the values mean. Every syntax problem throws ScramSyntaxError,
 * which the mechanism turns into malformed-request.
 */

export class ScramSyntaxError extends Error {
  override name = "ScramSyntaxError";
}

export interface ClientFirstMessage {
  /** gs2-cbind-flag: "n" client cannot bind, "y" client could but thinks we cannot, "p" binding requested */
  channelBindingFlag: "n" | "y" | "p";
  /** cb-name of "p=<cb-name>" (e.g. "tls-exporter"), undefined for "n" and "y" */
  channelBindingName?: string;
  /** the gs2-header exactly as sent, e.g. "n,,"; echoed (base64) in the client-final c= attribute */
  gs2Header: string;
  /** decoded authzid, undefined when omitted */
  authzid?: string;
  /** decoded (=2C / =3D), not yet SASLprepped */
  username: string;
  clientNonce: string;
  /** client-first-message-bare, part of AuthMessage (§3) */
  bare: string;
}

export interface ClientFinalMessage {
  /** decoded c= value: gs2-header [cbind-data] */
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  /** client-final-message-without-proof, part of AuthMessage (§3) */
  withoutProof: string;
}

/** printable ASCII except "," (§7 "printable"), used for nonces */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** attr-val for optional extensions: one letter, "=", value (§7 "extensions") */
const EXTENSION = /^[A-Za-z]=/;

/** saslname (§5.1): "," and "=" travel as =2C and =3D; any other "=" is an error. */
export function decodeSaslName(value: string): string {
  if (value === "" || /=(?!2C|3D)/.test(value)) throw new ScramSyntaxError("invalid saslname encoding");
  return value.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

export function encodeSaslName(value: string): string {
  return value.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

function attribute(field: string | undefined, name: string): string {
  if (field === undefined || !field.startsWith(`${name}=`)) throw new ScramSyntaxError(`expected attribute ${name}=`);
  return field.slice(name.length + 1);
}

function strictBase64(value: string, what: string): Buffer {
  if (!STRICT_BASE64.test(value)) throw new ScramSyntaxError(`${what} is not valid base64`);
  return Buffer.from(value, "base64");
}

function checkExtensions(fields: string[]): void {
  for (const field of fields) {
    if (!EXTENSION.test(field)) throw new ScramSyntaxError("malformed attribute");
  }
}

export function parseClientFirst(message: string): ClientFirstMessage {
  const firstComma = message.indexOf(",");
  const secondComma = message.indexOf(",", firstComma + 1);
  if (firstComma < 0 || secondComma < 0) throw new ScramSyntaxError("missing gs2-header");
  const flag = message.slice(0, firstComma);
  let channelBindingFlag: ClientFirstMessage["channelBindingFlag"];
  let channelBindingName: string | undefined;
  if (flag === "n" || flag === "y") channelBindingFlag = flag;
  else if (/^p=[A-Za-z0-9.-]+$/.test(flag)) {
    channelBindingFlag = "p";
    channelBindingName = flag.slice(2);
  } else throw new ScramSyntaxError("invalid gs2-cbind-flag");

  const authzidField = message.slice(firstComma + 1, secondComma);
  const authzid = authzidField === "" ? undefined : decodeSaslName(attribute(authzidField, "a"));
  const bare = message.slice(secondComma + 1);
  const fields = bare.split(",");
  // §5.1: "m" is reserved for mandatory extensions; a server that does not know it MUST fail.
  if (fields[0]?.startsWith("m=")) throw new ScramSyntaxError("unsupported mandatory extension");
  const username = decodeSaslName(attribute(fields[0], "n"));
  const clientNonce = attribute(fields[1], "r");
  if (!PRINTABLE.test(clientNonce)) throw new ScramSyntaxError("invalid client nonce");
  checkExtensions(fields.slice(2));
  return {
    channelBindingFlag,
    ...(channelBindingName === undefined ? {} : { channelBindingName }),
    gs2Header: message.slice(0, secondComma + 1),
    ...(authzid === undefined ? {} : { authzid }),
    username,
    clientNonce,
    bare,
  };
}

export function parseClientFinal(message: string): ClientFinalMessage {
  const fields = message.split(",");
  const channelBinding = strictBase64(attribute(fields[0], "c"), "channel binding");
  const nonce = attribute(fields[1], "r");
  if (fields.length < 3) throw new ScramSyntaxError("missing proof");
  // The proof is always the last attribute (§7 client-final-message); extensions sit before it.
  const proof = strictBase64(attribute(fields[fields.length - 1], "p"), "proof");
  checkExtensions(fields.slice(2, -1));
  const withoutProof = fields.slice(0, -1).join(",");
  return { channelBinding, nonce, proof, withoutProof };
}
