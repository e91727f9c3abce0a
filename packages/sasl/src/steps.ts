/** Small constructors for SaslStep values, shared by the mechanisms. */
import type { SaslFailureCondition, SaslStep } from "./mechanism.js";

export function failure(condition: SaslFailureCondition, text?: string): SaslStep {
  return text === undefined ? { kind: "failure", condition } : { kind: "failure", condition, text };
}

export function challenge(data: string | Buffer): SaslStep {
  return { kind: "challenge", data: typeof data === "string" ? Buffer.from(data, "utf8") : data };
}

/** SASL payloads are UTF-8 (RFC 4616 §2, RFC 5802 §5.1); invalid sequences are malformed, never replaced. */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(input: Buffer): string | undefined {
  try {
    return strictUtf8.decode(input);
  } catch {
    return undefined;
  }
}
