// HTTP Digest for SIP (RFC 3261 §22.4, RFC 7616 §3.4.1, RFC 8760 for SHA-256), qop=auth only.
import { hash, timingSafeEqual } from "node:crypto";

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
