// Credential carriers of CONTRACT §3, tried in this order; the first valid one wins:
// cookie `token`, `?token=`, `Authorization: Bearer <jwt>`, cookie `accesskey`, `?accesskey=`,
// `Authorization: Bearer <access key>`. Empty values (the seed sends `?token=`) count as absent.
import type {} from "@fastify/cookie";
import type { FastifyRequest } from "fastify";
import { ACCESS_KEY_PREFIX } from "../../domain/accesskeys.js";
import type { AuthService } from "../../domain/auth.js";
import { authenticationRequired, invalidCredentials } from "../../domain/errors.js";
import type { Principal } from "../../domain/principal.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

const nonEmpty = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

export function authenticator(auth: AuthService) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    const query = (req.query ?? {}) as Record<string, unknown>;
    const b = bearer(req);
    const bearerIsKey = b?.startsWith(ACCESS_KEY_PREFIX) ?? false;
    const jwts = [nonEmpty(req.cookies?.token), nonEmpty(query.token), bearerIsKey ? undefined : b];
    const keys = [nonEmpty(req.cookies?.accesskey), nonEmpty(query.accesskey), bearerIsKey ? b : undefined];
    let presented = false;
    for (const t of jwts) {
      if (t === undefined) continue;
      presented = true;
      const p = await auth.verifyToken(t);
      if (p) {
        req.principal = { ...p, source: req.ip };
        return;
      }
    }
    for (const k of keys) {
      if (k === undefined) continue;
      presented = true;
      const p = await auth.verifyAccessKey(k);
      if (p) {
        req.principal = { ...p, source: req.ip };
        return;
      }
    }
    throw presented ? invalidCredentials() : authenticationRequired();
  };
}

/** The caller of an authenticated route. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw authenticationRequired();
  return req.principal;
}
