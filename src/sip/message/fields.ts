// Typed views of the header fields the stack reads on every message, parsed on first use and
// memoised in the SipHeaders (so what the parser validated is not parsed again by the
// registrar), plus the scalar field grammars (CSeq, Content-Length, Max-Forwards, Expires,
// Call-ID, Date). Returned objects are shared: treat them as read-only.
import { allIn, isDigit, isWsp, skipWsp, TOKEN } from "./grammar.js";
import type { SipHeaders } from "./headers.js";
import { type NameAddr, parseContact, parseNameAddr } from "./name-addr.js";
import { parseVia, type Via } from "./via.js";

export interface CSeq {
  seq: number;
  method: string;
}

/**
 * 1*DIGIT in s[start, end) as a number no greater than max; leading zeros are allowed
 * ("0068", RFC 4475 §3.1.1.1). -1 when not digits or too large.
 */
function readUint(s: string, start: number, end: number, max: number): number {
  if (end <= start) return -1;
  let i = start;
  while (i < end - 1 && s.charCodeAt(i) === 0x30) i++;
  if (end - i > 10) return -1;
  let n = 0;
  for (let j = i; j < end; j++) {
    const c = s.charCodeAt(j);
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n <= max ? n : -1;
}

/**
 * CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16). RFC 3261 §8.1.1.5: "The sequence number value
 * MUST be expressible as a 32-bit unsigned integer and MUST be less than 2**31."
 */
export function parseCSeq(value: string): CSeq | undefined {
  let i = skipWsp(value, 0);
  const d0 = i;
  while (i < value.length && isDigit(value.charCodeAt(i))) i++;
  const seq = readUint(value, d0, i, 2 ** 31 - 1);
  if (seq < 0 || !isWsp(value.charCodeAt(i))) return undefined;
  i = skipWsp(value, i);
  let end = value.length;
  while (end > i && isWsp(value.charCodeAt(end - 1))) end--;
  if (!allIn(TOKEN, value, i, end)) return undefined;
  return { seq, method: value.slice(i, end) };
}

/** Content-Length = 1*DIGIT (RFC 3261 §20.14), in octets. */
export function parseContentLength(value: string): number | undefined {
  const n = readUint(value, 0, value.length, Number.MAX_SAFE_INTEGER);
  return n < 0 ? undefined : n;
}

/** Max-Forwards = 1*DIGIT, 0 to 255 (RFC 3261 §20.22). */
export function parseMaxForwards(value: string): number | undefined {
  const n = readUint(value, 0, value.length, 255);
  return n < 0 ? undefined : n;
}

/**
 * delta-seconds = 1*DIGIT (RFC 3261 §20.19 Expires, §20.10 expires param). A value beyond
 * 2**32-1 (RFC 4475 §3.1.2.4) is clamped to it; the registrar applies its own maximum.
 */
export function parseDeltaSeconds(value: string): number | undefined {
  if (value.length === 0) return undefined;
  for (let i = 0; i < value.length; i++) if (!isDigit(value.charCodeAt(i))) return undefined;
  const n = readUint(value, 0, value.length, 2 ** 32 - 1);
  return n < 0 ? 2 ** 32 - 1 : n;
}

/**
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 §25.1), as a number from
 * 0 to 1; undefined when malformed.
 */
export function parseQValue(value: string): number | undefined {
  return /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : undefined;
}

/**
 * The option tags of Require, Proxy-Require or Supported (RFC 3261 §20.32, §20.29, §20.37),
 * lower-cased: option tags compare case-insensitively (§19.2 "option-tag = token").
 */
export function optionTags(
  headers: SipHeaders,
  name: "Require" | "Proxy-Require" | "Supported",
): Set<string> {
  const tags = new Set<string>();
  for (const v of headers.getAll(name)) {
    const t = v.trim().toLowerCase();
    if (t !== "") tags.add(t);
  }
  return tags;
}

/**
 * Call-ID = word [ "@" word ] (RFC 3261 §25.1), read leniently: the stack only compares it, so
 * any non-empty run of visible characters is taken (deployed UAs put "=" and other characters
 * outside `word` in it); whitespace and control characters are refused.
 */
export function isValidCallId(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

const WKDAY = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function two(s: string, i: number, max: number): boolean {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  return isDigit(a) && isDigit(b) && (a - 0x30) * 10 + (b - 0x30) <= max;
}

/**
 * SIP-date = rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 3261 §20.17, §25.1):
 * "Sat, 15 Oct 2005 04:44:56 GMT". RFC 3261 §20.17: "SIP only supports recent dates" and
 * "the time zone MUST be GMT" (RFC 4475 §3.1.2.12 sends EST).
 */
export function isValidDate(value: string): boolean {
  const s = value;
  if (s.length !== 29) return false;
  if (!WKDAY.includes(s.slice(0, 3)) || s.slice(3, 5) !== ", ") return false;
  if (!two(s, 5, 31) || s[7] !== " " || !MONTH.includes(s.slice(8, 11)) || s[11] !== " ") return false;
  for (let i = 12; i < 16; i++) if (!isDigit(s.charCodeAt(i))) return false;
  if (s[16] !== " " || !two(s, 17, 23) || s[19] !== ":" || !two(s, 20, 59) || s[22] !== ":") return false;
  return two(s, 23, 60) && s.slice(25) === " GMT";
}

/** Every Via value, top first ([] when there is none); undefined when one is malformed. */
export function getVias(headers: SipHeaders): readonly Via[] | undefined {
  return headers.cached("via", (h) => {
    const out: Via[] = [];
    for (const v of h.getAll("Via")) {
      const via = parseVia(v);
      if (!via) return undefined;
      out.push(via);
    }
    return out;
  });
}

/** The From value; undefined when absent or malformed. */
export function getFrom(headers: SipHeaders): NameAddr | undefined {
  return headers.cached("from", (h) => {
    const v = h.get("From");
    return v === undefined ? undefined : parseNameAddr(v);
  });
}

/** The To value; undefined when absent or malformed. */
export function getTo(headers: SipHeaders): NameAddr | undefined {
  return headers.cached("to", (h) => {
    const v = h.get("To");
    return v === undefined ? undefined : parseNameAddr(v);
  });
}

/** The CSeq; undefined when absent or malformed. */
export function getCSeq(headers: SipHeaders): CSeq | undefined {
  return headers.cached("cseq", (h) => {
    const v = h.get("CSeq");
    return v === undefined ? undefined : parseCSeq(v);
  });
}

/**
 * The Contact values: "*" for the wildcard (RFC 3261 §10.2.2; alone, or it is malformed),
 * [] when there is none, undefined when one is malformed.
 */
export function getContacts(headers: SipHeaders): readonly NameAddr[] | "*" | undefined {
  return headers.cached("contact", (h) => {
    const values = h.getAll("Contact");
    const out: NameAddr[] = [];
    for (const v of values) {
      const c = parseContact(v);
      if (c === undefined) return undefined;
      if (c === "*") {
        if (values.length !== 1) return undefined;
        return "*";
      }
      out.push(c);
    }
    return out;
  });
}
