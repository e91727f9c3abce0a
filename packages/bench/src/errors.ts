/** Why a load connection failed; scenarios count failures by this kind. */
export type FailureKind =
  | "connect" // TCP connect refused, reset or unreachable
  | "tls" // STARTTLS not offered or refused, TLS handshake failed
  | "auth" // no usable SASL mechanism, <failure/>, bad server signature
  | "bind" // resource binding or legacy session refused
  | "sm" // XEP-0198: <enable/> or <resume/> answered with <failed/>
  | "timeout" // the handshake did not finish in time
  | "closed" // the server closed the connection, or sent unparsable XML
  | "aborted" // the caller's AbortSignal fired
  | `stream-error:${string}`; // RFC 6120 §4.9: the server sent <stream:error/> with this condition

export class LoadClientError extends Error {
  override name = "LoadClientError";
  /** the SASL failure's or stream error's condition element, e.g. "temporary-auth-failure" */
  readonly condition: string | undefined;
  /** its <text/>, where a server says why or when to come back */
  readonly text: string | undefined;
  constructor(
    readonly kind: FailureKind,
    message: string,
    options?: { cause?: unknown; condition?: string; text?: string },
  ) {
    super(message, options);
    this.condition = options?.condition;
    this.text = options?.text;
  }
}

export function failureKindOf(err: unknown): FailureKind {
  return err instanceof LoadClientError ? err.kind : "closed";
}
