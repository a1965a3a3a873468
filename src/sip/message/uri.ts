// SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966 §3), parsed and formatted.
import {
  allIn,
  escape,
  HNV,
  HOSTNAME,
  inTable,
  isDigit,
  PARAMCHAR,
  PASSWORD,
  SCHEME,
  USER,
  unescapeChecked,
} from "./grammar.js";

export type UriScheme = "sip" | "sips" | "tel";

export interface SipUri {
  scheme: UriScheme;
  /** %-unescaped user part; for tel: the telephone-subscriber (the number) */
  user: string | undefined;
  /** %-unescaped password, when the userinfo had one */
  password: string | undefined;
  /** lower-cased host; an IPv6 reference keeps its brackets ("[2001:db8::1]"); "" for tel */
  host: string;
  port: number | undefined;
  /** uri-parameters in order: lower-cased, unescaped names; unescaped values; null when there is no "=" */
  params: Map<string, string | null>;
  /** headers after "?", unescaped, in order */
  headers: Array<[name: string, value: string]>;
}

const C = {
  AT: 0x40,
  COLON: 0x3a,
  SEMI: 0x3b,
  QMARK: 0x3f,
  AMP: 0x26,
  EQ: 0x3d,
  LBRACKET: 0x5b,
  RBRACKET: 0x5d,
} as const;

/** RFC 3986 §3.1 scheme, lower-cased, or undefined when text does not start with one. */
export function uriScheme(text: string): string | undefined {
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  const c0 = text.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a || !allIn(SCHEME, text, 0, colon)) return undefined;
  return text.slice(0, colon).toLowerCase();
}

/**
 * A syntactically plausible absoluteURI of any scheme (RFC 3261 §25.1 absoluteURI): a scheme,
 * a colon, and at least one more character, none of them whitespace, control, '<', '>' or '"'.
 */
export function isAbsoluteUri(text: string): boolean {
  const scheme = uriScheme(text);
  if (scheme === undefined || text.length <= scheme.length + 1) return false;
  for (let i = scheme.length + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22) return false;
  }
  return true;
}

// RFC 3261 §25.1: IPv6reference = "[" IPv6address "]" — hex digits, ":" and a dotted IPv4 tail.
function isIpv6Body(s: string, start: number, end: number): boolean {
  let colons = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === C.COLON) colons++;
    else if (!(isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) || c === 0x2e))
      return false;
  }
  return colons >= 2 && end - start <= 45;
}

export interface HostPort {
  host: string;
  port: number | undefined;
  end: number;
}

/**
 * Reads host [":" port] at s[i] (RFC 3261 §25.1 hostport). Whitespace around the colon is
 * allowed only when `lws` is set (Via's sent-by uses COLON = SWS ":" SWS).
 */
export function readHostPort(s: string, i: number, lws = false): HostPort | undefined {
  let j = i;
  let host: string;
  if (s.charCodeAt(j) === C.LBRACKET) {
    const close = s.indexOf("]", j + 1);
    if (close < 0 || !isIpv6Body(s, j + 1, close)) return undefined;
    host = s.slice(j, close + 1).toLowerCase();
    j = close + 1;
  } else {
    while (j < s.length && inTable(HOSTNAME, s.charCodeAt(j))) j++;
    if (j === i) return undefined;
    host = s.slice(i, j).toLowerCase();
  }
  let k = j;
  if (lws) while (k < s.length && (s.charCodeAt(k) === 0x20 || s.charCodeAt(k) === 0x09)) k++;
  if (s.charCodeAt(k) !== C.COLON) return { host, port: undefined, end: j };
  k++;
  if (lws) while (k < s.length && (s.charCodeAt(k) === 0x20 || s.charCodeAt(k) === 0x09)) k++;
  const ds = k;
  while (k < s.length && isDigit(s.charCodeAt(k))) k++;
  if (k === ds || k - ds > 5) return undefined;
  const port = Number(s.slice(ds, k));
  if (port > 65535) return undefined;
  return { host, port, end: k };
}

// RFC 3261 §25.1: uri-parameters = *( ";" uri-parameter ); uri-parameter = pname [ "=" pvalue ]
// with pname = 1*paramchar and pvalue = 1*paramchar. Reads from s[i] (a ";" or the end) to the
// first "?" or the end; returns the index where it stopped, or -1 when malformed.
function readUriParams(s: string, i: number, params: Map<string, string | null>): number {
  const n = s.length;
  while (i < n && s.charCodeAt(i) === C.SEMI) {
    let k = i + 1;
    let eq = -1;
    while (k < n) {
      const c = s.charCodeAt(k);
      if (c === C.SEMI || c === C.QMARK) break;
      if (c === C.EQ && eq < 0) eq = k;
      k++;
    }
    const name = unescapeChecked(s, i + 1, eq < 0 ? k : eq, PARAMCHAR);
    if (name === undefined) return -1;
    let value: string | null = null;
    if (eq >= 0) {
      const v = unescapeChecked(s, eq + 1, k, PARAMCHAR);
      if (v === undefined) return -1;
      value = v;
    }
    // RFC 3261 §19.1.4: a parameter appears at most once; keep the first.
    const key = name.toLowerCase();
    if (!params.has(key)) params.set(key, value);
    i = k;
  }
  return i;
}

// RFC 3261 §25.1: headers = "?" header *( "&" header ); header = hname "=" hvalue
function readUriHeaders(s: string, i: number, out: Array<[string, string]>): boolean {
  const n = s.length;
  if (i >= n) return false;
  while (i < n) {
    let k = i;
    let eq = -1;
    while (k < n && s.charCodeAt(k) !== C.AMP) {
      if (s.charCodeAt(k) === C.EQ && eq < 0) eq = k;
      k++;
    }
    if (eq < 0) return false;
    const name = unescapeChecked(s, i, eq, HNV);
    const value = unescapeChecked(s, eq + 1, k, HNV, true);
    if (name === undefined || value === undefined) return false;
    out.push([name, value]);
    i = k + 1;
    if (k < n && i === n) return false; // trailing "&"
  }
  return true;
}

function parseSip(s: string, scheme: "sip" | "sips", i: number): SipUri | undefined {
  // RFC 3261 §25.1: SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ].
  // The user part may hold ";", "?" and "," (user-unreserved) but never a raw "@", and no
  // later part may hold one either: the first "@" ends the userinfo.
  let user: string | undefined;
  let password: string | undefined;
  const at = s.indexOf("@", i);
  if (at >= 0) {
    const colon = s.indexOf(":", i);
    const userEnd = colon >= 0 && colon < at ? colon : at;
    user = unescapeChecked(s, i, userEnd, USER);
    if (user === undefined) return undefined;
    if (userEnd !== at) {
      password = unescapeChecked(s, userEnd + 1, at, PASSWORD, true);
      if (password === undefined) return undefined;
    }
    i = at + 1;
  }
  const hp = readHostPort(s, i);
  if (!hp) return undefined;
  const params = new Map<string, string | null>();
  let j = readUriParams(s, hp.end, params);
  if (j < 0) return undefined;
  const headers: Array<[string, string]> = [];
  if (j < s.length) {
    if (s.charCodeAt(j) !== C.QMARK || !readUriHeaders(s, j + 1, headers)) return undefined;
    j = s.length;
  }
  return { scheme, user, password, host: hp.host, port: hp.port, params, headers };
}

// RFC 3966 §3: telephone-subscriber = global-number / local-number; digits, hex digits,
// "*", "#", "+" and the visual separators "-" "." "(" ")".
const TEL_CHARS = (() => {
  const t = new Uint8Array(128);
  for (const ch of "0123456789abcdefABCDEF*#+-.()") t[ch.charCodeAt(0)] = 1;
  return t;
})();

function parseTel(s: string, i: number): SipUri | undefined {
  let k = i;
  while (k < s.length && s.charCodeAt(k) !== C.SEMI) k++;
  if (!allIn(TEL_CHARS, s, i, k)) return undefined;
  const params = new Map<string, string | null>();
  const j = readUriParams(s, k, params);
  if (j !== s.length) return undefined;
  return {
    scheme: "tel",
    user: s.slice(i, k),
    password: undefined,
    host: "",
    port: undefined,
    params,
    headers: [],
  };
}

/** Parses a sip:, sips: or tel: URI; undefined for any other scheme or a malformed URI. */
export function parseUri(text: string): SipUri | undefined {
  const scheme = uriScheme(text);
  if (scheme === "sip" || scheme === "sips") return parseSip(text, scheme, scheme.length + 1);
  if (scheme === "tel") return parseTel(text, 4);
  return undefined;
}

/** Writes a URI back, %-escaping what its part of the grammar does not allow raw. */
export function formatUri(uri: SipUri): string {
  let s = `${uri.scheme}:`;
  if (uri.scheme === "tel") s += uri.user ?? "";
  else {
    if (uri.user !== undefined) {
      s += escape(uri.user, USER);
      if (uri.password !== undefined) s += `:${escape(uri.password, PASSWORD)}`;
      s += "@";
    }
    s += uri.host;
    if (uri.port !== undefined) s += `:${uri.port}`;
  }
  for (const [name, value] of uri.params)
    s +=
      value === null
        ? `;${escape(name, PARAMCHAR)}`
        : `;${escape(name, PARAMCHAR)}=${escape(value, PARAMCHAR)}`;
  if (uri.headers.length > 0)
    s += `?${uri.headers.map(([n, v]) => `${escape(n, HNV)}=${escape(v, HNV)}`).join("&")}`;
  return s;
}
