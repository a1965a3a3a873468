import { permissionDenied } from "./errors.js";

export const ROLES = ["admin", "manager", "agent"] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: a logged-in user or an access key, always inside one customer. */
export interface Principal {
  kind: "user" | "accesskey";
  id: string;
  customerId: string;
  role: Role;
}

export function requireRole(p: Principal, allowed: readonly Role[]): void {
  if (!allowed.includes(p.role)) {
    throw permissionDenied(`role ${p.role} may not do this; it needs ${allowed.join(" or ")}`);
  }
}

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);
