// Who a call is for: the two kinds of address sipext answers for (issue #4).
//   sip:<extension>@<customer_id>.<SIPEXT_REGISTRAR_DOMAIN>  — the extension's own address
//   sip:direct.<hash>@<SIPEXT_DIRECT_DOMAIN>                 — its public direct URI

export interface CallTarget {
  extensionId: string;
  customerId: string;
  /** the customer's SIP domain: the realm callers of an extension address authenticate in */
  domain: string;
}

/** A port onto the extension store (the proxy knows nothing of SQL). */
export interface CallTargetSource {
  /** The live extension `user` of the customer whose SIP domain is `domain`. */
  byAddress(domain: string, user: string): Promise<CallTarget | undefined>;
  /** The live extension whose current direct hash is `hash`. */
  byDirectHash(hash: string): Promise<CallTarget | undefined>;
}

export type AddressKind =
  | { kind: "extension"; domain: string; user: string }
  | { kind: "direct"; hash: string }
  | { kind: "foreign" };

const DIRECT_USER = /^direct\.([0-9a-f]{12})$/;

/** Which of our address kinds a Request-URI is (host lower-cased by the parser). */
export function classifyAddress(
  user: string | undefined,
  host: string,
  registrarDomain: string,
  directDomain: string,
): AddressKind {
  if (host === directDomain) {
    const m = user ? DIRECT_USER.exec(user) : null;
    return m?.[1] ? { kind: "direct", hash: m[1] } : { kind: "foreign" };
  }
  if (user && host.endsWith(`.${registrarDomain}`)) return { kind: "extension", domain: host, user };
  return { kind: "foreign" };
}
