// Authorization / Proxy-Authorization credentials and WWW-Authenticate / Proxy-Authenticate
// challenges (RFC 3261 §25.1, RFC 7235 §2.1, RFC 7616 §3.3–3.4):
//   challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
//   credentials = ("Digest" LWS digest-response) / other-response
//   auth-param  = auth-param-name EQUAL ( token / quoted-string )
// These values hold commas, so they are never split as lists: one header line, one challenge.
import { DQUOTE, inTable, isWsp, quote, readQuotedString, skipWsp, TOKEN } from "./grammar.js";

export interface AuthHeader {
  /** the auth-scheme as sent ("Digest"); compare it case-insensitively */
  scheme: string;
  /** parameters with lower-cased names and unquoted values */
  params: Map<string, string>;
}

/**
 * Parses `scheme param=value, param="quoted", ...`. Undefined when malformed or when a
 * parameter appears twice (RFC 7616 §3.4: directives "MUST NOT" be repeated; a second
 * `response` must not be able to shadow the first).
 */
export function parseAuthHeader(value: string): AuthHeader | undefined {
  const n = value.length;
  let i = skipWsp(value, 0);
  const s0 = i;
  while (i < n && inTable(TOKEN, value.charCodeAt(i))) i++;
  if (i === s0) return undefined;
  const scheme = value.slice(s0, i);
  const params = new Map<string, string>();
  if (i < n && !isWsp(value.charCodeAt(i))) return undefined;
  i = skipWsp(value, i);
  while (i < n) {
    const k0 = i;
    while (i < n && inTable(TOKEN, value.charCodeAt(i))) i++;
    if (i === k0) return undefined;
    const key = value.slice(k0, i).toLowerCase();
    i = skipWsp(value, i);
    if (value.charCodeAt(i) !== 0x3d) return undefined;
    i = skipWsp(value, i + 1);
    let v: string;
    if (value.charCodeAt(i) === DQUOTE) {
      const q = readQuotedString(value, i);
      if (!q) return undefined;
      v = q.value;
      i = q.end;
    } else {
      // token per the grammar; tolerate any run without whitespace or comma (some UAs send
      // an unquoted uri=sip:...).
      const v0 = i;
      while (i < n) {
        const c = value.charCodeAt(i);
        if (c === 0x2c || isWsp(c) || c === DQUOTE) break;
        i++;
      }
      if (i === v0) return undefined;
      v = value.slice(v0, i);
    }
    if (params.has(key)) return undefined;
    params.set(key, v);
    i = skipWsp(value, i);
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) return undefined;
    // RFC 7235 §2.1 list rule: empty elements between commas are allowed.
    while (i < n && (value.charCodeAt(i) === 0x2c || isWsp(value.charCodeAt(i)))) i++;
  }
  return { scheme, params };
}

/**
 * Parameters written as tokens in a challenge (RFC 7616 §3.3: algorithm, stale, charset,
 * userhash); every other value is quoted.
 */
export const TOKEN_AUTH_PARAMS: ReadonlySet<string> = new Set(["algorithm", "stale", "charset", "userhash"]);

/**
 * Writes a challenge, e.g. formatChallenge("Digest", [["realm", d], ["nonce", n], ["qop", "auth"],
 * ["algorithm", "MD5"]]) gives `Digest realm="d", nonce="n", qop="auth", algorithm=MD5`.
 */
export function formatChallenge(
  scheme: string,
  params: Iterable<readonly [name: string, value: string]>,
  unquoted: ReadonlySet<string> = TOKEN_AUTH_PARAMS,
): string {
  const parts: string[] = [];
  for (const [name, value] of params)
    parts.push(unquoted.has(name.toLowerCase()) ? `${name}=${value}` : `${name}=${quote(value)}`);
  return parts.length > 0 ? `${scheme} ${parts.join(", ")}` : scheme;
}
