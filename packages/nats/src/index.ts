export { NatsStanzaBus } from "./bus.js";
export {
  DEFAULT_RECONNECT_BUFFER_BYTES,
  type BusLog,
  type BusStatus,
  type BusStatusListener,
  type NatsBusConnectOptions,
  type NatsStanzaBusOptions,
} from "./options.js";
export { BusUnavailableError, InvalidBusEnvelopeError, NodeUnreachableError, type BusUnavailableReason } from "./errors.js";
export { nodeSubject, controlSubject, HEADER_TO, HEADER_SESSION } from "./codec.js";
