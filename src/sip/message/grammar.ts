// Character classes and small lexical helpers shared by the SIP grammar modules (RFC 3261 §25.1).
// Everything here is a table lookup or a single forward scan: no regular expressions, so no
// backtracking, whatever the input.

const table = (chars: string, ranges: ReadonlyArray<readonly [number, number]> = []): Uint8Array => {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  for (const [lo, hi] of ranges) for (let c = lo; c <= hi; c++) t[c] = 1;
  return t;
};

const ALNUM: ReadonlyArray<readonly [number, number]> = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
];

// RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
export const TOKEN = table("-.!%*_+`'~", ALNUM);
// RFC 3261 §25.1: unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
export const UNRESERVED = table("-_.!~*'()", ALNUM);
// RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ),
// user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
export const USER = table("-_.!~*'()&=+$,;?/", ALNUM);
// RFC 3261 §25.1: password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
export const PASSWORD = table("-_.!~*'()&=+$,", ALNUM);
// RFC 3261 §25.1: paramchar = param-unreserved / unreserved / escaped,
// param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
export const PARAMCHAR = table("-_.!~*'()[]/:&+$", ALNUM);
// RFC 3261 §25.1: hname/hvalue = *( hnv-unreserved / unreserved / escaped ),
// hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
export const HNV = table("-_.!~*'()[]/?:+$", ALNUM);
// RFC 3261 §25.1: hostname = *( domainlabel "." ) toplabel [ "." ] — "_" tolerated, as deployed stacks send it.
export const HOSTNAME = table("-._", ALNUM);
// RFC 3261 §25.1: gen-value = token / host / quoted-string; host adds "[", "]" and ":" (IPv6).
export const GENVALUE = table("-.!%*_+`'~[]:", ALNUM);
// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
export const SCHEME = table("+-.", ALNUM);

export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const DQUOTE = 0x22;

export const inTable = (t: Uint8Array, c: number): boolean => c < 128 && t[c] === 1;

export const isWsp = (c: number): boolean => c === SP || c === HTAB;

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** True when every character of s[start, end) is in the table and the range is not empty. */
export function allIn(t: Uint8Array, s: string, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || t[c] !== 1) return false;
  }
  return true;
}

export const isToken = (s: string): boolean => allIn(TOKEN, s);

/** True for 1*DIGIT. */
export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

/** Index of the first character at or after i that is not SP or HTAB. */
export function skipWsp(s: string, i: number): number {
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Trims SP and HTAB only. String.prototype.trim() would also eat U+FEFF and other Unicode
 * spaces, which are part of a header value (RFC 4475 §3.1.1.2 starts a value with a BOM).
 */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWsp(s.charCodeAt(a))) a++;
  while (b > a && isWsp(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export interface Scanned<T> {
  value: T;
  /** index just after what was read */
  end: number;
}

/**
 * Reads a quoted-string starting at s[i] === '"' and returns its unescaped content.
 * RFC 3261 §25.1: quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE;
 * qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII;
 * quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F).
 * Undefined when unterminated or when it holds a character the grammar forbids.
 */
export function readQuotedString(s: string, i: number): Scanned<string> | undefined {
  if (s.charCodeAt(i) !== DQUOTE) return undefined;
  let j = i + 1;
  let segStart = j;
  let parts: string[] | undefined;
  while (j < s.length) {
    const c = s.charCodeAt(j);
    if (c === DQUOTE) {
      const tail = s.slice(segStart, j);
      return { value: parts ? parts.join("") + tail : tail, end: j + 1 };
    }
    if (c === 0x5c) {
      const n = s.charCodeAt(j + 1);
      if (Number.isNaN(n) || n > 0x7f || n === LF || n === CR) return undefined;
      if (!parts) parts = [];
      parts.push(s.slice(segStart, j), s[j + 1] as string);
      j += 2;
      segStart = j;
      continue;
    }
    if ((c < 0x20 && c !== HTAB) || c === 0x7f) return undefined;
    j++;
  }
  return undefined;
}

/** Wraps s in a quoted-string, escaping '"' and '\' (RFC 3261 §25.1 quoted-pair). */
export function quote(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE || c === 0x5c) {
      needs = true;
      break;
    }
  }
  return needs ? `"${s.replace(/["\\]/g, "\\$&")}"` : `"${s}"`;
}

/** The content of a quoted-string (unescaped), or s itself when it is not quoted. */
export function unquote(s: string): string {
  if (s.length >= 2 && s.charCodeAt(0) === DQUOTE) {
    const q = readQuotedString(s, 0);
    if (q && q.end === s.length) return q.value;
  }
  return s;
}

/**
 * Splits a header value on the commas that separate list elements (RFC 3261 §7.3.1), ignoring
 * commas inside quoted strings and inside <...>. Elements are trimmed; empty ones are dropped.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let angle = false;
  let i = 0;
  const n = value.length;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (c === DQUOTE) {
      // skip the quoted string; an unterminated one runs to the end of the value
      i++;
      while (i < n) {
        const d = value.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === DQUOTE) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      const item = trimWsp(value.slice(start, i));
      if (item.length > 0) out.push(item);
      start = i + 1;
    }
    i++;
  }
  const last = trimWsp(value.slice(start));
  if (last.length > 0) out.push(last);
  return out;
}

const HEX = "0123456789ABCDEF";

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Checks s[start, end) against `allowed` plus "%" HEXDIG HEXDIG escapes (RFC 3261 §25.1
 * escaped) and returns it unescaped (bytes decoded as UTF-8). Undefined when a character is
 * not allowed or an escape is broken. `allowEmpty` admits an empty range.
 */
export function unescapeChecked(
  s: string,
  start: number,
  end: number,
  allowed: Uint8Array,
  allowEmpty = false,
): string | undefined {
  if (end <= start) return allowEmpty ? "" : undefined;
  let hasEscape = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= end) return undefined;
      if (hexVal(s.charCodeAt(i + 1)) < 0 || hexVal(s.charCodeAt(i + 2)) < 0) return undefined;
      hasEscape = true;
      i += 2;
    } else if (c >= 128 || allowed[c] !== 1) return undefined;
  }
  if (!hasEscape) return s.slice(start, end);
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Escapes every character of s outside `allowed` as %HH of its UTF-8 bytes. */
export function escape(s: string, allowed: Uint8Array): string {
  let i = 0;
  while (i < s.length && inTable(allowed, s.charCodeAt(i))) i++;
  if (i === s.length) return s;
  const out: string[] = [s.slice(0, i)];
  for (const byte of Buffer.from(s.slice(i), "utf8")) {
    if (byte < 128 && allowed[byte] === 1) out.push(String.fromCharCode(byte));
    else out.push(`%${HEX[byte >> 4]}${HEX[byte & 15]}`);
  }
  return out.join("");
}
