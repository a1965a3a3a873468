// The digest challenge (RFC 3261 §22.1, §22.3; RFC 7616 §3.3; RFC 8760), written once for the
// registrar's 401 (WWW-Authenticate) and the proxy's 407 (Proxy-Authenticate).
import { formatChallenge } from "../message/auth-header.js";
import { ExpiringMap } from "../transaction/matching.js";
import type { NonceService } from "./nonce.js";

export type ChallengeHeader = "WWW-Authenticate" | "Proxy-Authenticate";

export interface ChallengeOptions {
  nonces: NonceService;
  /**
   * Also offer SHA-256 (RFC 8760), in a second header after the MD5 one: RFC 7616 §3.7 lets a
   * server offer several algorithms, "in the order of preference", each in its own challenge.
   */
  offerSha256: boolean;
}

/**
 * A function writing the challenge header lines for a realm (stale=true for an old nonce). With
 * the request's transaction key, a retransmission of the request gets the nonce its first copy
 * got, so the stateless answer is the same again (CONTRACT §9).
 */
export type Challenger = (
  header: ChallengeHeader,
  realm: string,
  stale: boolean,
  transactionKey?: string,
) => string[];

/** How long a retransmission is answered with the same nonce: past the client's last retransmission (Timer F). */
const SAME_NONCE_MS = 32_000;
/** Bounded: under a flood of new requests the memo stops growing and fresh nonces are issued. */
const MAX_REMEMBERED = 50_000;

export function digestChallenger({ nonces, offerSha256 }: ChallengeOptions): Challenger {
  const issued = new ExpiringMap<string>(SAME_NONCE_MS / 2);
  const nonceFor = (realm: string, key: string | undefined): string => {
    if (key === undefined) return nonces.issue(realm);
    const known = issued.get(key);
    if (known !== undefined) return known;
    const nonce = nonces.issue(realm);
    if (issued.size < MAX_REMEMBERED) issued.add(key, nonce);
    return nonce;
  };
  return (header, realm, stale, transactionKey) => {
    const nonce = nonceFor(realm, transactionKey);
    // Spelled exactly as CONTRACT §7 shows it; stale goes last so the prefix stays the same.
    const staleParam = stale ? ", stale=true" : "";
    const line = (algorithm: string) =>
      `${header}: ${formatChallenge("Digest", [
        ["realm", realm],
        ["nonce", nonce],
        ["qop", "auth"],
        ["algorithm", algorithm],
      ])}${staleParam}`;
    return offerSha256 ? [line("MD5"), line("SHA-256")] : [line("MD5")];
  };
}
