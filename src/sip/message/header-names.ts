// Header field names: canonical long forms, compact forms, and which fields are comma lists.
// RFC 3261 §7.3.1: "Field names are always case-insensitive."
// RFC 3261 §7.3.3: "SIP provides a mechanism to represent common header field names in an
// abbreviated form ... Implementations MUST accept both the long and short forms of each
// header name."

// Every other field name known, in its canonical long form (the list fields are below).
const OTHER_NAMES = [
  "Authentication-Info",
  "Authorization",
  "Call-ID",
  "Content-Disposition",
  "Content-Length",
  "Content-Type",
  "CSeq",
  "Date",
  "Event",
  "Expires",
  "Flow-Timer",
  "From",
  "Identity",
  "Identity-Info",
  "Max-Forwards",
  "MIME-Version",
  "Min-Expires",
  "Min-SE",
  "Organization",
  "Priority",
  "Proxy-Authenticate",
  "Proxy-Authorization",
  "RAck",
  "Refer-To",
  "Referred-By",
  "Replaces",
  "Reply-To",
  "Retry-After",
  "RSeq",
  "Server",
  "Session-Expires",
  "SIP-ETag",
  "SIP-If-Match",
  "Subject",
  "Subscription-State",
  "Timestamp",
  "To",
  "User-Agent",
  "WWW-Authenticate",
] as const;

// RFC 3261 §7.3.3 and the RFCs that added a compact form since (3515, 3841, 3892, 4028, 4474, 6665).
const COMPACT: Readonly<Record<string, string>> = {
  a: "Accept-Contact",
  b: "Referred-By",
  c: "Content-Type",
  d: "Request-Disposition",
  e: "Content-Encoding",
  f: "From",
  i: "Call-ID",
  j: "Reject-Contact",
  k: "Supported",
  l: "Content-Length",
  m: "Contact",
  n: "Identity-Info",
  o: "Event",
  r: "Refer-To",
  s: "Subject",
  t: "To",
  u: "Allow-Events",
  v: "Via",
  x: "Session-Expires",
  y: "Identity",
};

// Fields whose grammar is `name: element *(COMMA element)` (RFC 3261 §7.3.1): the only ones a
// comma may split. WWW-Authenticate, Authorization, Date, Retry-After... carry commas inside one value.
const LIST_NAMES = [
  "Accept",
  "Accept-Contact",
  "Accept-Encoding",
  "Accept-Language",
  "Accept-Resource-Priority",
  "Alert-Info",
  "Allow",
  "Allow-Events",
  "Call-Info",
  "Contact",
  "Content-Encoding",
  "Content-Language",
  "Error-Info",
  "In-Reply-To",
  "P-Asserted-Identity",
  "P-Preferred-Identity",
  "Path",
  "Proxy-Require",
  "Reason",
  "Record-Route",
  "Reject-Contact",
  "Request-Disposition",
  "Require",
  "Resource-Priority",
  "Route",
  "Security-Client",
  "Security-Server",
  "Security-Verify",
  "Service-Route",
  "Supported",
  "Unsupported",
  "Via",
  "Warning",
];

export interface HeaderName {
  /** canonical long form for a known field, the name as received otherwise */
  name: string;
  /** lower-cased canonical name: what lookups compare */
  key: string;
}

const KNOWN = new Map<string, HeaderName>();
for (const n of [...OTHER_NAMES, ...LIST_NAMES])
  KNOWN.set(n.toLowerCase(), { name: n, key: n.toLowerCase() });
for (const [c, n] of Object.entries(COMPACT)) KNOWN.set(c, { name: n, key: n.toLowerCase() });

const LIST_KEYS: ReadonlySet<string> = new Set(LIST_NAMES.map((n) => n.toLowerCase()));

// Names seen on the wire and in code repeat ("Via", "v", "CSeq"...): remember their lookups so
// that the hot path skips toLowerCase(). Bounded, so odd names cannot grow it without limit.
const SEEN = new Map<string, HeaderName>();
const SEEN_MAX = 1024;

/** Canonical name and lookup key for a field name in any case, long or compact form. */
export function headerName(name: string): HeaderName {
  const seen = SEEN.get(name);
  if (seen !== undefined) return seen;
  const lower = name.toLowerCase();
  const h = KNOWN.get(lower) ?? { name, key: lower };
  if (SEEN.size < SEEN_MAX) SEEN.set(name, h);
  return h;
}

/** The lookup key (lower-cased canonical long form) of a field name. */
export function headerKey(name: string): string {
  return headerName(name).key;
}

/** True when the field, given by its key, is a comma-separated list. */
export const isListHeader = (key: string): boolean => LIST_KEYS.has(key);
