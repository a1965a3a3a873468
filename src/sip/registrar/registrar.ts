// The registrar's decisions (RFC 3261 §10.3, CONTRACT §7), free of wire format: the stack reads a
// REGISTER into a RegisterInput and writes the RegisterOutcome back as a response.
import { type DigestCredentials, readCredentials, responseMatches } from "./digest.js";
import type { Binding, ContactUpdate, LocationService, RequestOrigin } from "./location.js";
import type { NonceService } from "./nonce.js";

export const DEFAULT_EXPIRES = 3600;
export const MAX_EXPIRES = 7200;
export const MIN_EXPIRES = 60;

/** What the registrar needs to know of an extension: a port onto the extension store. */
export interface SipCredential {
  extensionId: string;
  customerId: string;
  ha1Md5: string;
  ha1Sha256: string;
}

export interface CredentialSource {
  /** The live extension `username` of the customer whose SIP domain is `realm`, if any. */
  lookup(realm: string, username: string): Promise<SipCredential | undefined>;
}

export interface RegisterContact {
  uri: string;
  /** the contact's own `expires` parameter, when present */
  expires: number | undefined;
  instanceId: string;
}

export interface RegisterInput {
  /** the AOR's user and host, from To (lower-cased host) */
  toUser: string;
  toHost: string;
  /** parameters of the Digest Authorization header (lower-case keys), when one was sent */
  authorization: Map<string, string> | undefined;
  /** the Expires header, when present */
  expires: number | undefined;
  /** "*" for `Contact: *`; [] for a query (no Contact) */
  contacts: RegisterContact[] | "*";
  origin: RequestOrigin;
}

export type RegisterOutcome =
  | { status: 401; realm: string; stale: boolean }
  | { status: 423 }
  | { status: 400 | 403; reason: string }
  | { status: 200; bindings: Binding[] };

export interface RegistrarDeps {
  credentials: CredentialSource;
  nonces: NonceService;
  location: LocationService;
}

export function registrar({ credentials, nonces, location }: RegistrarDeps) {
  /** Is this Authorization good for this realm? "stale" when only the nonce's age fails it. */
  async function authenticate(
    input: RegisterInput,
    realm: string,
  ): Promise<{ ok: true; cred: SipCredential; digest: DigestCredentials } | { ok: false; stale: boolean }> {
    const fail = { ok: false as const, stale: false };
    if (!input.authorization) return fail;
    const digest = readCredentials(input.authorization);
    if (!digest || digest.realm.toLowerCase() !== realm) return fail;
    const nonce = nonces.check(realm, digest.nonce);
    if (nonce === "invalid") return fail;
    const cred = await credentials.lookup(realm, digest.username);
    if (!cred) return fail;
    const ha1 = digest.algorithm === "MD5" ? cred.ha1Md5 : cred.ha1Sha256;
    if (!responseMatches(ha1, "REGISTER", digest)) return fail;
    // RFC 7616 §3.3: stale=true says the credentials were right and only the nonce was old.
    if (nonce === "stale") return { ok: false, stale: true };
    // Replay protection: each nonce-count is good once (RFC 7616 §3.4).
    if (digest.nc !== undefined && !nonces.acceptCount(digest.nonce, Number.parseInt(digest.nc, 16)))
      return fail;
    return { ok: true, cred, digest };
  }

  return {
    async register(input: RegisterInput): Promise<RegisterOutcome> {
      const realm = input.toHost;
      const auth = await authenticate(input, realm);
      // One challenge for every failure: unknown or deleted extension, another customer's
      // domain, a wrong password all look the same from outside.
      if (!auth.ok) return { status: 401, realm, stale: auth.stale };
      if (auth.digest.username !== input.toUser) {
        return { status: 403, reason: "Forbidden (the digest username must be the To user)" };
      }
      const { extensionId, customerId } = auth.cred;

      if (input.contacts === "*") {
        // RFC 3261 §10.3 step 6: "*" only with Expires: 0 and no other Contact.
        if (input.expires !== 0) return { status: 400, reason: "Bad Request (Contact * needs Expires: 0)" };
        return { status: 200, bindings: location.removeAllFromRequest(extensionId, input.origin) };
      }
      if (input.contacts.length === 0) return { status: 200, bindings: location.lookup(extensionId) };

      const updates: ContactUpdate[] = [];
      for (const c of input.contacts) {
        let expires = c.expires ?? input.expires ?? DEFAULT_EXPIRES;
        if (expires !== 0 && expires < MIN_EXPIRES) return { status: 423 };
        expires = Math.min(expires, MAX_EXPIRES);
        updates.push({ contact: c.uri, expires, instanceId: c.instanceId });
      }
      return { status: 200, bindings: location.register(extensionId, customerId, updates, input.origin) };
    },
  };
}

export type Registrar = ReturnType<typeof registrar>;
