/**
 * Channel binding for the SCRAM -PLUS mechanisms (RFC 5802 §6, RFC 5056): the data that ties the
 * SASL exchange to the TLS channel it runs on, so a man in the middle who terminates TLS twice
 * cannot relay the exchange. The stream layer knows the channel; the mechanism only asks it.
 */

/** The types a TLS channel may produce: RFC 9266, RFC 5929 §4 and §3. */
export type ChannelBindingType = "tls-exporter" | "tls-server-end-point" | "tls-unique";

export const CHANNEL_BINDING_TYPES: readonly ChannelBindingType[] = ["tls-exporter", "tls-server-end-point", "tls-unique"];

export interface ChannelBindings {
  /** the types to advertise (XEP-0440), in order of preference; empty: no -PLUS mechanism is offered */
  readonly types: readonly ChannelBindingType[];
  /** the binding data of one type, or undefined when this channel cannot produce it (a type may be accepted without being advertised) */
  data(type: string): Buffer | undefined;
}

/** Channel binding is offered only over TLS, and only when the channel can produce some type. */
export function offersChannelBinding(opts: { tls: boolean; channelBindings?: ChannelBindings }): boolean {
  return opts.tls && (opts.channelBindings?.types.length ?? 0) > 0;
}
