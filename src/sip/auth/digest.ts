// HTTP Digest for SIP (RFC 3261 §22.4, RFC 7616 §3.4.1, RFC 8760 for SHA-256), qop=auth only:
// reading the credentials a request carries, checking them against an extension's stored HA1,
// and the one authenticator the registrar (401, WWW-Authenticate) and the proxy (407,
// Proxy-Authenticate) share, which also writes the challenge when the check fails.
import { hash, timingSafeEqual } from "node:crypto";
import { type Challenger, digestChallenger } from "./challenge.js";
import type { NonceService } from "./nonce.js";

export type DigestAlgorithm = "MD5" | "SHA-256";

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop: string | undefined;
  nc: string | undefined;
  cnonce: string | undefined;
}

// One-shot crypto.hash (Node ≥ 20.12): half the cost of createHash().update().digest().
const hashHex = (alg: DigestAlgorithm, text: string) => hash(alg === "MD5" ? "md5" : "sha256", text, "hex");

/** The expected `response` for a request, from the stored HA1 (RFC 7616 §3.4.1). */
export function expectedResponse(ha1: string, method: string, c: DigestCredentials): string {
  const ha2 = hashHex(c.algorithm, `${method}:${c.uri}`);
  if (c.qop === "auth") return hashHex(c.algorithm, `${ha1}:${c.nonce}:${c.nc}:${c.cnonce}:auth:${ha2}`);
  // RFC 2617 compatibility (no qop): still accepted, as RFC 3261 §22.4 requires.
  return hashHex(c.algorithm, `${ha1}:${c.nonce}:${ha2}`);
}

/** Constant-time check of the client's response. */
export function responseMatches(ha1: string, method: string, c: DigestCredentials): boolean {
  const want = Buffer.from(expectedResponse(ha1, method, c));
  const got = Buffer.from(c.response.toLowerCase());
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Reads Authorization parameters (already split into a map with lower-case keys) into
 * credentials; undefined when a required one is missing or malformed.
 */
export function readCredentials(params: Map<string, string>): DigestCredentials | undefined {
  const username = params.get("username");
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  const uri = params.get("uri");
  const response = params.get("response");
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined)
    return undefined;
  if (response === undefined || !/^[0-9a-fA-F]{32}([0-9a-fA-F]{32})?$/.test(response)) return undefined;
  const alg = (params.get("algorithm") ?? "MD5").toUpperCase();
  if (alg !== "MD5" && alg !== "SHA-256") return undefined;
  const algorithm = alg as DigestAlgorithm;
  if (response.length !== (algorithm === "MD5" ? 32 : 64)) return undefined;
  const qop = params.get("qop")?.toLowerCase();
  const nc = params.get("nc");
  const cnonce = params.get("cnonce");
  if (qop !== undefined) {
    if (qop !== "auth" || nc === undefined || !/^[0-9a-fA-F]{8}$/.test(nc) || !cnonce) return undefined;
  }
  return { username, realm, nonce, uri, response, algorithm, qop, nc, cnonce };
}

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

export interface AuthenticatorOptions {
  credentials: CredentialSource;
  nonces: NonceService;
  /** offer SHA-256 in every challenge, after MD5 (CONTRACT §7: MD5 clients answer the first) */
  offerSha256?: boolean;
  /**
   * Told of every failed answer (credentials that do not verify: an unknown user, a wrong
   * password, a replayed nonce-count), with where it came from: what bans guessers (§14).
   */
  onFailure?(source: string, target: { realm: string; username: string }, method: string): void;
}

export function digestAuthenticator({
  credentials,
  nonces,
  offerSha256 = false,
  onFailure,
}: AuthenticatorOptions) {
  const challenge: Challenger = digestChallenger({ nonces, offerSha256 });
  return {
    challenge,
    /**
     * Checks Authorization parameters (lower-case keys) sent with `method` for `realm` by the
     * request from `source`.
     */
    async authenticate(
      params: Map<string, string> | undefined,
      realm: string,
      method: string,
      source = "",
    ): Promise<AuthResult> {
      if (!params) return { ok: false, stale: false };
      const digest = readCredentials(params);
      const fail = (): AuthResult => {
        onFailure?.(source, { realm, username: digest?.username ?? "" }, method);
        return { ok: false, stale: false };
      };
      if (!digest || digest.realm.toLowerCase() !== realm) return fail();
      const nonce = nonces.check(realm, digest.nonce);
      if (nonce === "invalid") return fail();
      const cred = await credentials.lookup(realm, digest.username);
      if (!cred) return fail();
      const ha1 = digest.algorithm === "MD5" ? cred.ha1Md5 : cred.ha1Sha256;
      if (!responseMatches(ha1, method, digest)) return fail();
      if (nonce === "stale") return { ok: false, stale: true };
      // Replay protection: each nonce-count is good once (RFC 7616 §3.4).
      if (digest.nc !== undefined && !nonces.acceptCount(digest.nonce, Number.parseInt(digest.nc, 16)))
        return fail();
      return { ok: true, cred, digest };
    },
  };
}

export type DigestAuthenticator = ReturnType<typeof digestAuthenticator>;
