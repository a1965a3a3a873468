// The user set of /work/shared/bench/kamailio/users.awk, shared by bench:sip and bench:calls:
// user n (1..N) is `user%06d` with password `pw%06dx` in tenant (n-1) % D + 1, whose domain is
// `%08d-0000-4000-8000-%012d.<REGISTRAR_DOMAIN>` (in sipext: that prefix is the customer id).
import type { Extension } from "../src/domain/extensions.js";
import type { Principal } from "../src/domain/principal.js";
import { tenantRows } from "../src/domain/tenants.js";
import type { Core } from "../src/main.js";
import { formatMicros } from "../src/util/time.js";

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

/**
 * Seeds an empty database with the user set. Customers with given ids go straight to the store
 * (the public API has no id parameter), with the rows src/domain/tenants.ts builds;
 * extensions go through the extension service, so their HA1s and direct hashes are made exactly
 * as in production. Returns the extensions, user 1 first.
 */
export async function seedUserSet(
  core: Core,
  opts: { users: number; domains: number; registrarDomain: string; detail: string },
): Promise<Extension[]> {
  if ((await core.stores.customers.count()) !== 0) throw new Error("the database is not empty");
  for (let d = 1; d <= opts.domains; d++) {
    const { customer, domain } = tenantRows(
      { id: customerIdOf(d), name: `bench tenant ${d}`, detail: opts.detail, email: "" },
      opts.registrarDomain,
      formatMicros(core.clock()),
    );
    await core.stores.tenants.createTenant(customer, domain, undefined);
  }
  const created: Extension[] = [];
  for (let n = 1; n <= opts.users; n++) {
    const principal: Principal = {
      kind: "user",
      id: "bench",
      customerId: customerIdOf(tenantOf(n, opts.domains)),
      role: "admin",
    };
    created.push(
      await core.services.extensions.create(principal, { extension: userOf(n), password: passwordOf(n) }),
    );
  }
  return created;
}
