// Logins and login tokens (HS256 JWT, 7 days), and who a token stands for.
import type { UserStore } from "../store/ports.js";
import type { Clock } from "../util/time.js";
import type { AccessKeyService } from "./accesskeys.js";
import { invalidCredentials, notFound } from "./errors.js";
import { signJwt, verifyJwt } from "./jwt.js";
import { isRole, type Principal } from "./principal.js";
import { verifyPassword } from "./secrets.js";
import { type User, userView } from "./tenants.js";

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
  const verified = new Map<string, { principal: Principal; exp: number }>();
  return {
    /** Same error, and about the same time, for an unknown user as for a wrong password. */
    async login(username: string, password: string): Promise<{ username: string; token: string }> {
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
      });
      return { username: user.username, token };
    },

    /**
     * A login token's identity; undefined when forged, malformed or expired. A token is
     * immutable, so a verified one is remembered (with its expiry) and not verified again on
     * every request.
     */
    verifyToken(token: string): Principal | undefined {
      const now = nowSeconds();
      const hit = verified.get(token);
      if (hit) {
        if (hit.exp > now) return hit.principal;
        verified.delete(token);
      }
      const c = verifyJwt(jwtKey, token, now);
      if (!c || !isRole(c.role)) return undefined;
      const principal: Principal = { kind: "user", id: c.sub, customerId: c.customer_id, role: c.role };
      if (verified.size >= MAX_VERIFIED_TOKENS) verified.clear();
      verified.set(token, { principal, exp: c.exp });
      return principal;
    },

    verifyAccessKey: (token: string) => accessKeys.authenticate(token),

    /** GET /v1.0/me: the user, or the access key, behind the credential. */
    async me(
      p: Principal,
    ): Promise<({ type: "user" } & User) | ({ type: "accesskey"; role: string } & object)> {
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
