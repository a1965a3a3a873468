// Logins and login tokens (HS256 JWT, 7 days), and who a token stands for.
import type { LoginReply, Me } from "../contract/user.js";
import type { UserStore } from "../store/ports.js";
import type { Clock } from "../util/time.js";
import type { AccessKeyService } from "./accesskeys.js";
import { invalidCredentials, notFound } from "./errors.js";
import { signJwt, verifyJwt } from "./jwt.js";
import { isRole, type Principal } from "./principal.js";
import { verifyPassword } from "./secrets.js";
import { userView } from "./tenants.js";

export const TOKEN_TTL_S = 7 * 24 * 3600;
const MAX_VERIFIED_TOKENS = 10_000;

export interface AuthServiceDeps {
  users: UserStore;
  accessKeys: AccessKeyService;
  jwtKey: Buffer;
  clock: Clock;
}

export function authService({ users, accessKeys, jwtKey, clock }: AuthServiceDeps) {
  const nowSeconds = () => Math.floor(clock() / 1_000_000);
  const verified = new Map<string, { principal: Principal; exp: number; version: number }>();
  return {
    /** Same error, and about the same time, for an unknown user as for a wrong password. */
    async login(username: string, password: string): Promise<LoginReply> {
      // No username holds NUL, and PostgreSQL cannot even compare one: such a name is unknown.
      const lookup = username.length <= 64 && !username.includes("\u0000");
      const user = lookup ? await users.getByUsername(username) : undefined;
      const ok = await verifyPassword(user?.password_hash, password);
      if (!user || !ok || !isRole(user.role)) throw invalidCredentials();
      const iat = nowSeconds();
      const token = signJwt(jwtKey, {
        sub: user.id,
        customer_id: user.customer_id,
        role: user.role,
        iat,
        exp: iat + TOKEN_TTL_S,
        ver: user.token_version,
      });
      return { username: user.username, token };
    },

    /**
     * A login token's identity; undefined when forged, malformed or expired, or when its user
     * has since been deleted or had its password or role changed (CONTRACT §14: the user's
     * token_version moved on). A signature is immutable, so a verified one is remembered (with
     * its expiry) and not checked again on every request; the user is.
     */
    async verifyToken(token: string): Promise<Principal | undefined> {
      const now = nowSeconds();
      let hit = verified.get(token);
      if (hit && hit.exp <= now) {
        verified.delete(token);
        hit = undefined;
      }
      if (!hit) {
        const c = verifyJwt(jwtKey, token, now);
        if (!c || !isRole(c.role)) return undefined;
        const principal: Principal = { kind: "user", id: c.sub, customerId: c.customer_id, role: c.role };
        hit = { principal, exp: c.exp, version: c.ver ?? 0 };
        if (verified.size >= MAX_VERIFIED_TOKENS) verified.clear();
        verified.set(token, hit);
      }
      const user = await users.get(hit.principal.id);
      if (
        !user ||
        user.tm_delete !== null ||
        user.token_version !== hit.version ||
        user.role !== hit.principal.role
      )
        return undefined;
      return hit.principal;
    },

    verifyAccessKey: (token: string) => accessKeys.authenticate(token),

    /** GET /v1.0/me: the user, or the access key, behind the credential. */
    async me(p: Principal): Promise<Me> {
      if (p.kind === "user") {
        const row = await users.get(p.id);
        if (!row || row.tm_delete !== null) throw notFound("user");
        return { type: "user", ...userView(row) };
      }
      return { type: "accesskey", role: p.role, ...(await accessKeys.get(p, p.id)) };
    },
  };
}

export type AuthService = ReturnType<typeof authService>;
