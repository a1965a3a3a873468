// Bytes in, typed message out (RFC 3261 §7). Never throws on wire input: a message that cannot
// be used comes back as { ok: false, reason }, with the request's method and headers when
// enough of it was read to answer 400 (or 505), so that the caller can reply with the reason.
import {
  getContacts,
  getCSeq,
  getFrom,
  getTo,
  getVias,
  isValidCallId,
  isValidDate,
  parseContentLength,
  parseMaxForwards,
} from "./fields.js";
import { CR, HTAB, isDigits, isToken, isWsp, LF, SP, trimWsp } from "./grammar.js";
import { findHeaderEnd } from "./header-end.js";
import { SipHeaders } from "./headers.js";
import type { SipMessage } from "./types.js";
import { isAbsoluteUri, parseUri, type SipUri, uriScheme } from "./uri.js";

/** Largest message accepted unless told otherwise (the largest UDP payload, RFC 3261 §18.1.1). */
export const DEFAULT_MAX_MESSAGE_SIZE = 65535;

export interface ParseOptions {
  /** bytes; larger input is refused before anything is read */
  maxSize?: number;
}

export interface ParseFailure {
  ok: false;
  /** human-readable, fit for a Reason-Phrase: "Malformed Via header", "Content-Length larger than body" */
  reason: string;
  /** present only with `request`: 505 for an unsupported SIP version (RFC 3261 §21.5.7), else 400 */
  status?: 400 | 505;
  /**
   * Set when the message is a request whose method and Via, From, To, Call-ID and CSeq could be
   * read, so a response can be built; absent for garbage (and for every response), to be dropped.
   */
  request?: { method: string; headers: SipHeaders };
}

export type ParseResult = { ok: true; message: SipMessage } | ParseFailure;

const UNSUPPORTED_VERSION = "Unsupported SIP version";

// RFC 3261 §8.1.1: "A valid SIP request formulated by a UAC MUST, at a minimum, contain the
// following header fields: To, From, CSeq, Call-ID, Max-Forwards, and Via". Max-Forwards is
// tolerated when missing (RFC 2543 peers, RFC 4475 §3.3.x), as a registrar is the last hop.
const MANDATORY = ["Via", "From", "To", "Call-ID", "CSeq"] as const;
// Fields defined with a single value: a second line is an error (RFC 4475 §3.1.2.19, §3.3.9).
const SINGLE = ["From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"] as const;

const isSipVersionSyntax = (v: string): boolean => {
  // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1; "SIP" is case-insensitive, §7.1)
  if (v.length < 7 || v.slice(0, 4).toUpperCase() !== "SIP/") return false;
  const dot = v.indexOf(".", 4);
  if (dot <= 4 || dot === v.length - 1) return false;
  for (let i = 4; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (i !== dot && (c < 0x30 || c > 0x39)) return false;
  }
  return true;
};

const isSip20 = (v: string): boolean => v.length === 7 && v.toUpperCase() === "SIP/2.0";

/** Checks the fields every message needs; the first problem's reason, or undefined. */
function checkHeaders(h: SipHeaders, method: string | undefined, bodyBytes: number): string | undefined {
  for (const name of SINGLE) if (h.count(name) > 1) return `Multiple ${name} headers`;
  for (const name of MANDATORY) if (!h.has(name)) return `Missing ${name} header`;
  const cseq = getCSeq(h);
  if (!cseq) return "Malformed CSeq header";
  // RFC 3261 §8.1.1.5: "The method MUST match that of the request."
  if (method !== undefined && cseq.method !== method) return "CSeq method does not match request method";
  if (!getVias(h)) return "Malformed Via header";
  if (!getFrom(h)) return "Malformed From header";
  if (!getTo(h)) return "Malformed To header";
  if (!isValidCallId(h.get("Call-ID") ?? "")) return "Malformed Call-ID header";
  const mf = h.get("Max-Forwards");
  if (mf !== undefined && parseMaxForwards(mf) === undefined) return "Malformed Max-Forwards header";
  if (h.has("Contact") && getContacts(h) === undefined) return "Malformed Contact header";
  const date = h.get("Date");
  if (date !== undefined && !isValidDate(date)) return "Malformed Date header";
  const cl = h.get("Content-Length");
  if (cl !== undefined) {
    const n = parseContentLength(cl);
    if (n === undefined) return "Malformed Content-Length header";
    // RFC 3261 §18.3: over UDP, "If the message is shorter than the Content-Length, it is
    // rejected"; a longer one is truncated (done by the caller of this check).
    if (n > bodyBytes) return "Content-Length larger than body";
  }
  return undefined;
}

/** The Request-URI's problem, or undefined; a sip:/sips:/tel: URI comes back parsed. */
function checkRequestUri(uri: string): { error?: string; parsed?: SipUri } {
  const parsed = parseUri(uri);
  if (parsed) {
    // RFC 3261 §19.1.1, Table 1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if (parsed.headers.length > 0) return { error: "Malformed Request-URI" };
    return { parsed };
  }
  const scheme = uriScheme(uri);
  if (scheme === "sip" || scheme === "sips" || scheme === "tel" || !isAbsoluteUri(uri))
    return { error: "Malformed Request-URI" };
  return {};
}

interface HeaderBlock {
  startLine: string;
  headers: SipHeaders;
  /** the first malformed field line, if any (the others are still read) */
  error: string | undefined;
}

/**
 * Splits the header text into the start line and fields. RFC 3261 §7.3.1: "Header fields can be
 * extended over multiple lines by preceding each extra line with at least one SP or horizontal
 * tab (HT)"; the fold and the whitespace around it read as one SP.
 */
function readHeaderBlock(text: string): HeaderBlock {
  const headers = new SipHeaders();
  let error: string | undefined;
  let nl = text.indexOf("\n");
  if (nl < 0) nl = text.length;
  const startLine = text.slice(0, nl > 0 && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl);
  let pos = nl + 1;
  let name: string | undefined;
  let value = "";
  const flush = () => {
    if (name === undefined) return;
    if (value.indexOf("\r") >= 0) error ??= "Malformed header line";
    else headers.append(name, value);
    name = undefined;
  };
  while (pos < text.length) {
    nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const lineEnd = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    if (lineEnd === pos) break; // the empty line
    const c = text.charCodeAt(pos);
    if (c === SP || c === HTAB) {
      if (name === undefined) error ??= "Malformed header line";
      else value = `${trimEnd(value)} ${trimWsp(text.slice(pos, lineEnd))}`;
    } else {
      flush();
      const colon = text.indexOf(":", pos);
      if (colon < 0 || colon >= lineEnd) error ??= "Malformed header line";
      else {
        // RFC 3261 §7.3.1: HCOLON = *( SP / HTAB ) ":" SWS
        let ne = colon;
        while (ne > pos && isWsp(text.charCodeAt(ne - 1))) ne--;
        const n = text.slice(pos, ne);
        if (!isToken(n)) error ??= "Malformed header line";
        else {
          name = n;
          value = text.slice(colon + 1, lineEnd);
        }
      }
    }
    pos = nl + 1;
  }
  flush();
  return { startLine, headers, error };
}

function trimEnd(s: string): string {
  let e = s.length;
  while (e > 0 && isWsp(s.charCodeAt(e - 1))) e--;
  return e === s.length ? s : s.slice(0, e);
}

function fail(reason: string): ParseFailure {
  return { ok: false, reason };
}

function parse(buf: Buffer, maxSize: number): ParseResult {
  if (buf.length > maxSize) return fail("Message too large");
  // RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented transports
  // MUST ignore any CRLF appearing before the start-line".
  let start = 0;
  while (start < buf.length && (buf[start] === CR || buf[start] === LF)) start++;
  if (start === buf.length) return fail("Empty message");
  const he = findHeaderEnd(buf, start);
  let bodyStart: number;
  if (he.found) bodyStart = he.bodyStart;
  // A datagram that stops right after its last header line lacks only the empty line: read it
  // as having no body rather than dropping what could be answered.
  else if (buf[buf.length - 1] === LF) bodyStart = buf.length;
  else return fail("Missing empty line after the header fields");
  // UTF-8 is SIP's charset (RFC 3261 §7.3.1 TEXT-UTF8); invalid bytes decode to U+FFFD.
  const block = readHeaderBlock(buf.toString("utf8", start, bodyStart));
  const { startLine, headers } = block;
  const bodyBytes = buf.length - bodyStart;
  const bodyOf = (): Buffer => {
    const cl = headers.get("Content-Length");
    const n = cl === undefined ? bodyBytes : (parseContentLength(cl) ?? bodyBytes);
    return buf.subarray(bodyStart, bodyStart + n);
  };

  if (startLine.length >= 4 && startLine.slice(0, 4).toUpperCase() === "SIP/") {
    // RFC 3261 §7.2: Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    const sp = startLine.indexOf(" ");
    const version = sp < 0 ? startLine : startLine.slice(0, sp);
    if (sp < 0 || !isSipVersionSyntax(version)) return fail("Malformed Status-Line");
    if (!isSip20(version)) return fail(UNSUPPORTED_VERSION);
    const code = startLine.slice(sp + 1, sp + 4);
    const after = startLine.charCodeAt(sp + 4);
    if (code.length !== 3 || !(Number.isNaN(after) || after === SP)) return fail("Malformed Status-Line");
    // Status-Code = 3DIGIT, 100 to 699 (RFC 3261 §7.2, §21; RFC 4475 §3.1.2.17 sends 4294967301)
    const status = isDigits(code) ? Number(code) : 0;
    if (status < 100 || status > 699) return fail("Malformed Status-Line");
    const reason = Number.isNaN(after) ? "" : startLine.slice(sp + 5);
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
    for (let i = 0; i < reason.length; i++) {
      const c = reason.charCodeAt(i);
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return fail("Malformed Status-Line");
    }
    const error = block.error ?? checkHeaders(headers, undefined, bodyBytes);
    if (error) return fail(error);
    const body = bodyOf();
    const raw = buf.subarray(start, bodyStart + body.length);
    return {
      ok: true,
      message: { kind: "response", status, reason, version: "SIP/2.0", headers, body, raw },
    };
  }

  // RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF — single spaces,
  // nothing after the version (RFC 4475 §3.1.2.8–3.1.2.10).
  const parts = startLine.split(" ");
  const method = parts[0] ?? "";
  let error: string | undefined;
  let status: 400 | 505 = 400;
  let requestUri: SipUri | undefined;
  const uri = parts[1] ?? "";
  const version = parts[2] ?? "";
  if (parts.length !== 3 || !isToken(method) || uri.length === 0 || !isSipVersionSyntax(version))
    error = "Malformed Request-Line";
  else if (!isSip20(version)) {
    // RFC 3261 §21.5.7: 505 Version Not Supported.
    error = UNSUPPORTED_VERSION;
    status = 505;
  } else {
    const r = checkRequestUri(uri);
    error = r.error;
    requestUri = r.parsed;
  }
  error ??= block.error ?? checkHeaders(headers, method, bodyBytes);
  if (error) {
    const answerable = isToken(method) && MANDATORY.every((n) => headers.has(n));
    return answerable ? { ok: false, reason: error, status, request: { method, headers } } : fail(error);
  }
  return {
    ok: true,
    message: { kind: "request", method, uri, requestUri, version: "SIP/2.0", headers, body: bodyOf() },
  };
}

/**
 * Parses one message from a datagram or from a frame cut by the stream Framer. Over UDP, bytes
 * beyond Content-Length are dropped and fewer bytes than it are an error (RFC 3261 §18.3);
 * without Content-Length the body runs to the end of the buffer.
 */
export function parseMessage(buf: Buffer, opts?: ParseOptions): ParseResult {
  try {
    return parse(buf, opts?.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE);
  } catch {
    // A safety net only: every path above returns a result for any input.
    return fail("Malformed message");
  }
}
