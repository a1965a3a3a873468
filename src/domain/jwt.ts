// HS256 JSON Web Tokens (RFC 7519) with the standard claims; small enough to own.
import { createHmac } from "node:crypto";
import { safeEqual } from "./secrets.js";

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

export interface JwtClaims {
  sub: string;
  customer_id: string;
  role: string;
  iat: number;
  exp: number;
  /** the user's token_version when issued (absent in tokens issued before it existed: 0) */
  ver?: number;
}

const mac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest("base64url");

export function signJwt(key: Buffer, claims: JwtClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${HEADER}.${body}.${mac(key, `${HEADER}.${body}`)}`;
}

/** The claims of a token signed with `key` and not expired at `nowSeconds`; else undefined. */
export function verifyJwt(key: Buffer, token: string, nowSeconds: number): JwtClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [header, body, sig] = parts as [string, string, string];
  // Only our own header is accepted: no "alg":"none", no algorithm confusion.
  if (header !== HEADER || !safeEqual(sig, mac(key, `${header}.${body}`))) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  const c = claims as Partial<JwtClaims>;
  if (
    typeof c.sub !== "string" ||
    typeof c.customer_id !== "string" ||
    typeof c.role !== "string" ||
    typeof c.exp !== "number" ||
    c.exp <= nowSeconds ||
    (c.ver !== undefined && !Number.isSafeInteger(c.ver))
  ) {
    return undefined;
  }
  return c as JwtClaims;
}
