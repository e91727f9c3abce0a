// @switchboard/xml: the XML and stanza core (elements, JIDs, errors, streaming parser).
// It knows no server: no sockets, logging, storage or bus imports.
export { Element, x, serialize, escapeXml, escapeXmlText, type Attrs, type Child, type Node } from "./element.js";
export * from "./ns.js";
export { Jid, JidError, bareOf, jid, parseJid, tryParseJid } from "./jid.js";
export {
  DEFAULT_ERROR_TYPE,
  StanzaError,
  StreamError,
  errorReply,
  isStanza,
  type ErrorOptions,
  type StanzaErrorCondition,
  type StanzaErrorType,
  type StreamErrorCondition,
} from "./errors.js";
export { DEFAULT_LIMITS, StreamParser, parseFrame, type ParserLimits, type StreamParserEvents } from "./parser.js";
