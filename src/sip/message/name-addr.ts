// name-addr / addr-spec values with header parameters: From, To, Contact, Route, Record-Route...
// RFC 3261 §25.1:
//   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//   display-name = *(token LWS) / quoted-string
//   LAQUOT = SWS "<"   RAQUOT = ">" SWS   (no whitespace inside the brackets)
//   from-spec = ( name-addr / addr-spec ) *( SEMI from-param )
// RFC 3261 §20.10: "when the header field value contains a display name, the URI including all
// URI parameters is enclosed in "<" and ">". If no "<" and ">" are present, all parameters
// after the URI are header parameters, not URI parameters." and "if the URI contains a comma,
// question mark or semicolon, the URI MUST be enclosed in angle brackets".
import {
  DQUOTE,
  GENVALUE,
  inTable,
  isWsp,
  quote,
  readQuotedString,
  skipWsp,
  TOKEN,
  trimWsp,
} from "./grammar.js";
import { isAbsoluteUri, parseUri, type SipUri, uriScheme } from "./uri.js";

export interface NameAddr {
  /** the display name: a quoted-string's unescaped content, or the tokens as written */
  displayName: string | undefined;
  /** the URI text as received (echo this to keep the peer's exact spelling) */
  uri: string;
  /** the parsed URI for sip:, sips: and tel:; undefined for another scheme (e.g. "isbn:", "http:") */
  sipUri: SipUri | undefined;
  /**
   * header parameters in order: lower-cased names; raw values (a quoted-string keeps its quotes,
   * see unquote()); null for a parameter without "="
   */
  params: Map<string, string | null>;
}

export type Params = Map<string, string | null>;

/**
 * Parses `*( SEMI generic-param )` from s[i] to the end of s (RFC 3261 §25.1):
 * SEMI = SWS ";" SWS; generic-param = token [ EQUAL gen-value ]; EQUAL = SWS "=" SWS;
 * gen-value = token / host / quoted-string. Undefined when anything else is found.
 * A repeated name keeps its first value.
 */
export function parseParams(s: string, i = 0): Params | undefined {
  const params: Params = new Map();
  const n = s.length;
  for (;;) {
    i = skipWsp(s, i);
    if (i >= n) return params;
    if (s.charCodeAt(i) !== 0x3b) return undefined;
    i = skipWsp(s, i + 1);
    const ns = i;
    while (i < n && inTable(TOKEN, s.charCodeAt(i))) i++;
    if (i === ns) return undefined;
    const key = s.slice(ns, i).toLowerCase();
    let value: string | null = null;
    const j = skipWsp(s, i);
    if (s.charCodeAt(j) === 0x3d) {
      const vs = skipWsp(s, j + 1);
      if (s.charCodeAt(vs) === DQUOTE) {
        const q = readQuotedString(s, vs);
        if (!q) return undefined;
        i = q.end;
      } else {
        i = vs;
        while (i < n && inTable(GENVALUE, s.charCodeAt(i))) i++;
        if (i === vs) return undefined;
      }
      value = s.slice(vs, i);
    }
    if (!params.has(key)) params.set(key, value);
  }
}

function checkUri(uri: string): { ok: boolean; sipUri: SipUri | undefined } {
  const scheme = uriScheme(uri);
  if (scheme === "sip" || scheme === "sips" || scheme === "tel") {
    const sipUri = parseUri(uri);
    return { ok: sipUri !== undefined, sipUri };
  }
  return { ok: isAbsoluteUri(uri), sipUri: undefined };
}

/** Parses one name-addr or addr-spec with its header parameters; undefined when malformed. */
export function parseNameAddr(value: string): NameAddr | undefined {
  const n = value.length;
  let i = skipWsp(value, 0);
  let displayName: string | undefined;
  let angle = false;
  if (value.charCodeAt(i) === DQUOTE) {
    const q = readQuotedString(value, i);
    if (!q) return undefined;
    displayName = q.value;
    i = skipWsp(value, q.end);
    if (value.charCodeAt(i) !== 0x3c) return undefined;
    angle = true;
  } else {
    // *(token LWS) followed by "<" makes a name-addr; anything else is an addr-spec. Non-ASCII
    // characters are tolerated in an unquoted name (UTF-8 belongs in a quoted-string, but UAs
    // send "José <sip:...>"); ASCII separators such as "," are not (RFC 4475 §3.1.2.15).
    let j = i;
    while (j < n) {
      const c = value.charCodeAt(j);
      if (!inTable(TOKEN, c) && !isWsp(c) && c < 0x80) break;
      j++;
    }
    if (value.charCodeAt(j) === 0x3c) {
      const name = trimWsp(value.slice(i, j));
      if (name.length > 0) displayName = name;
      i = j;
      angle = true;
    }
  }

  let uri: string;
  if (angle) {
    const close = value.indexOf(">", i + 1);
    if (close < 0) return undefined;
    uri = value.slice(i + 1, close);
    // LAQUOT and RAQUOT allow no whitespace inside the brackets (RFC 4475 §3.1.2.14).
    if (uri.length === 0 || isWsp(uri.charCodeAt(0)) || isWsp(uri.charCodeAt(uri.length - 1)))
      return undefined;
    i = close + 1;
  } else {
    let end = value.indexOf(";", i);
    if (end < 0) end = n;
    uri = trimWsp(value.slice(i, end));
    if (uri.length === 0 || uri.indexOf("?") >= 0 || uri.indexOf(",") >= 0) return undefined;
    i = end;
  }
  const { ok, sipUri } = checkUri(uri);
  if (!ok) return undefined;
  const params = parseParams(value, i);
  if (!params) return undefined;
  return { displayName, uri, sipUri, params };
}

/** One Contact element: "*" (RFC 3261 §10.2.2, remove all bindings) or a name-addr/addr-spec. */
export function parseContact(value: string): NameAddr | "*" | undefined {
  return trimWsp(value) === "*" ? "*" : parseNameAddr(value);
}

/** Writes header parameters back: `;name` or `;name=value` (values as stored: quote() them when needed). */
export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let s = "";
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** Writes a name-addr: an optional quoted display name, the URI in <>, then the header parameters. */
export function formatNameAddr(na: Pick<NameAddr, "displayName" | "uri" | "params">): string {
  const dn = na.displayName ? `${quote(na.displayName)} ` : "";
  return `${dn}<${na.uri}>${formatParams(na.params)}`;
}
