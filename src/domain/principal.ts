import { ROLES, type Role } from "../contract/user.js";
import { permissionDenied } from "./errors.js";

/** Who is calling: a logged-in user or an access key, always inside one customer. */
export interface Principal {
  kind: "user" | "accesskey";
  id: string;
  customerId: string;
  role: Role;
  /**
   * Who the audit log names (CONTRACT §17): the user's id, or the access key's token prefix
   * (the key's id when absent).
   */
  actor?: string;
  /** the client's address as the HTTP layer sees it (SIPEXT_TRUST_PROXY applied) */
  source?: string;
}

export function requireRole(p: Principal, allowed: readonly Role[]): void {
  if (!allowed.includes(p.role)) {
    throw permissionDenied(`role ${p.role} may not do this; it needs ${allowed.join(" or ")}`);
  }
}

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);
