// The SIP message layer: bytes in, typed message out, and back (RFC 3261 §7, §19, §20, §25).
export { type AuthHeader, formatChallenge, parseAuthHeader, TOKEN_AUTH_PARAMS } from "./auth-header.js";
export {
  type CSeq,
  getContacts,
  getCSeq,
  getFrom,
  getTo,
  getVias,
  isValidCallId,
  isValidDate,
  parseContentLength,
  parseCSeq,
  parseDeltaSeconds,
  parseMaxForwards,
} from "./fields.js";
export { type FrameEvent, Framer, type FramerOptions } from "./framer.js";
export { quote, splitList, unquote } from "./grammar.js";
export { headerKey, headerName, isListHeader } from "./header-names.js";
export { type SipHeader, SipHeaders } from "./headers.js";
export {
  formatNameAddr,
  formatParams,
  type NameAddr,
  type Params,
  parseContact,
  parseNameAddr,
  parseParams,
} from "./name-addr.js";
export {
  DEFAULT_MAX_MESSAGE_SIZE,
  type ParseFailure,
  type ParseOptions,
  type ParseResult,
  parseMessage,
} from "./parser.js";
export { serialize } from "./serializer.js";
export type { SipMessage, SipRequest, SipResponse } from "./types.js";
export { formatUri, isAbsoluteUri, parseUri, type SipUri, type UriScheme, uriScheme } from "./uri.js";
export { formatVia, parseVia, type Via } from "./via.js";
