// What the SIP core tells of its traffic, for the operator's metrics (CONTRACT §12), without
// knowing who counts it: the stack reports each request it reads, the transports each response
// they send. Labels stay bounded whatever arrives: a method outside SIP_METHODS is "other"
// (a guesser cannot mint new series), a status is reported as its class.
import type { TransportName } from "./transport/flow.js";

/**
 * RFC 3261's methods and those of the extensions phones use: PRACK (RFC 3262), SUBSCRIBE and
 * NOTIFY (RFC 6665), UPDATE (RFC 3311), MESSAGE (RFC 3428), REFER (RFC 3515), PUBLISH
 * (RFC 3903), INFO (RFC 6086).
 */
export const SIP_METHODS = [
  "REGISTER",
  "INVITE",
  "ACK",
  "BYE",
  "CANCEL",
  "OPTIONS",
  "PRACK",
  "UPDATE",
  "INFO",
  "MESSAGE",
  "REFER",
  "SUBSCRIBE",
  "NOTIFY",
  "PUBLISH",
] as const;

export type SipMethodLabel = (typeof SIP_METHODS)[number] | "other";

const KNOWN = new Map<string, SipMethodLabel>(SIP_METHODS.map((m) => [m, m]));

/** A method as a label: itself when known (methods are case-sensitive, RFC 3261 §7.1), else "other". */
export const methodLabel = (method: string): SipMethodLabel => KNOWN.get(method) ?? "other";

export interface SipObserver {
  /** A request read off a transport (retransmissions included; a banned source's are not read). */
  requestReceived(method: SipMethodLabel, transport: TransportName): void;
  /** A response handed to a transport: its request's method (from CSeq) and its class, 1 to 6. */
  responseSent(method: SipMethodLabel, statusClass: number): void;
}

/** An observer that counts nothing (tests, tools). */
export const UNOBSERVED: SipObserver = {
  requestReceived() {},
  responseSent() {},
};
