// The two kinds of SIP message (RFC 3261 §7): a request or a response, each a start line,
// header fields and a body of bytes.
import type { SipHeaders } from "./headers.js";
import type { SipUri } from "./uri.js";

export type { SipHeader } from "./headers.js";
export { SipHeaders } from "./headers.js";
export type { SipUri } from "./uri.js";

export interface SipRequest {
  kind: "request";
  /** the method as sent (RFC 3261 §7.1: case-sensitive), e.g. "REGISTER" */
  method: string;
  /** the Request-URI text as received; serialize() writes this */
  uri: string;
  /**
   * the parsed Request-URI for sip:, sips: and tel:; undefined for another (syntactically valid)
   * scheme, which a UAS answers with 416 Unsupported URI Scheme (RFC 3261 §8.2.2.1)
   */
  requestUri: SipUri | undefined;
  /** always "SIP/2.0" */
  version: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: "response";
  status: number;
  /** the Reason-Phrase, possibly empty (RFC 4475 §3.1.1.13), possibly UTF-8 (§3.1.1.12) */
  reason: string;
  version: string;
  headers: SipHeaders;
  body: Buffer;
  /** the bytes it was parsed from (start line to the end of the body), for relaying it as it came */
  raw?: Buffer;
}

export type SipMessage = SipRequest | SipResponse;
