// Digest authentication of a request against an extension's stored HA1 (RFC 3261 §22, RFC 7616),
// shared by the registrar (401, WWW-Authenticate) and the proxy (407, Proxy-Authenticate).
import { type DigestCredentials, readCredentials, responseMatches } from "./digest.js";
import type { NonceService } from "./nonce.js";

/** What the registrar and proxy need to know of an extension: a port onto the extension store. */
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

export type AuthResult =
  | { ok: true; cred: SipCredential; digest: DigestCredentials }
  /** stale: the credentials were right and only the nonce was too old (RFC 7616 §3.3) */
  | { ok: false; stale: boolean };

export function digestAuthenticator(credentials: CredentialSource, nonces: NonceService) {
  return {
    /** Checks Authorization parameters (lower-case keys) sent with `method` for `realm`. */
    async authenticate(
      params: Map<string, string> | undefined,
      realm: string,
      method: string,
    ): Promise<AuthResult> {
      const fail = { ok: false as const, stale: false };
      if (!params) return fail;
      const digest = readCredentials(params);
      if (!digest || digest.realm.toLowerCase() !== realm) return fail;
      const nonce = nonces.check(realm, digest.nonce);
      if (nonce === "invalid") return fail;
      const cred = await credentials.lookup(realm, digest.username);
      if (!cred) return fail;
      const ha1 = digest.algorithm === "MD5" ? cred.ha1Md5 : cred.ha1Sha256;
      if (!responseMatches(ha1, method, digest)) return fail;
      if (nonce === "stale") return { ok: false, stale: true };
      // Replay protection: each nonce-count is good once (RFC 7616 §3.4).
      if (digest.nc !== undefined && !nonces.acceptCount(digest.nonce, Number.parseInt(digest.nc, 16)))
        return fail;
      return { ok: true, cred, digest };
    },
  };
}

export type DigestAuthenticator = ReturnType<typeof digestAuthenticator>;
