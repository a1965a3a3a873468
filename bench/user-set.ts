// The user set of /work/shared/bench/kamailio/users.awk, shared by bench:sip and bench:calls:
// user n (1..N) is `user%06d` with password `pw%06dx` in tenant (n-1) % D + 1, whose domain is
// `%08d-0000-4000-8000-%012d.<REGISTRAR_DOMAIN>` (in sipext: that prefix is the customer id).
export const USERS = 10_000;
export const DOMAINS = 10;
export const REGISTRAR_DOMAIN = "registrar.example.test";

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** users.awk's domain prefix `%08d-0000-4000-8000-%012d`: the customer id of tenant d (1..D). */
export const customerIdOf = (d: number) => `${pad(d, 8)}-0000-4000-8000-${pad(d, 12)}`;
export const domainOf = (d: number) => `${customerIdOf(d)}.${REGISTRAR_DOMAIN}`;
export const userOf = (n: number) => `user${pad(n, 6)}`;
export const passwordOf = (n: number) => `pw${pad(n, 6)}x`;
/** users.awk: user n belongs to tenant (n-1) % D + 1. */
export const tenantOf = (n: number, domains = DOMAINS) => ((n - 1) % domains) + 1;
