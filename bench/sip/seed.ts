// Child of bench/sip/run.ts: seeds sipext (SIPEXT_DATA_DIR, embedded SQLite) with the user set
// of /work/shared/bench/kamailio/users.awk, then closes the database so that the server can start.
//   10 customers whose ids are users.awk's domain prefixes, each with its domain
//   `<id>.<SIPEXT_REGISTRAR_DOMAIN>`, and 10,000 extensions user%06d / pw%06dx, user n in
//   customer (n-1) % 10 + 1.
// Customers with given ids go straight to the store (the public API has no id parameter), with
// rows built as src/domain/tenants.ts builds them; extensions go through the extension service,
// so their HA1s are computed exactly as in production.
import { randomUUID } from "node:crypto";
import { loadConfig } from "../../src/config.js";
import type { Principal } from "../../src/domain/principal.js";
import { openCore } from "../../src/main.js";
import type { CustomerRow, DomainRow } from "../../src/store/ports.js";
import { formatMicros } from "../../src/util/time.js";
import {
  customerIdOf,
  DOMAINS,
  passwordOf,
  RESULT_PREFIX,
  type SeedResult,
  tenantOf,
  USERS,
  userOf,
} from "./protocol.js";

const users = Number(process.argv[2] ?? USERS);
const domains = Number(process.argv[3] ?? DOMAINS);

const config = loadConfig();
const core = await openCore(config);
const started = performance.now();
try {
  if ((await core.stores.customers.count()) !== 0) throw new Error(`${config.dataDir} is not empty`);
  for (let d = 1; d <= domains; d++) {
    const id = customerIdOf(d);
    const now = formatMicros(core.clock());
    const name = `bench tenant ${d}`;
    const customer: CustomerRow = {
      id,
      name,
      detail: "npm run bench:sip",
      email: "",
      billing_account_id: "",
      status: "active",
      tm_create: now,
      tm_update: null,
      tm_delete: null,
    };
    const domain: DomainRow = {
      id: randomUUID(),
      customer_id: id,
      name: `${name} SIP domain`,
      detail: "",
      domain_name: `${id}.${config.registrarDomain}`,
      tm_create: now,
      tm_update: null,
      tm_delete: null,
    };
    await core.stores.tenants.createTenant(customer, domain, undefined);
  }
  for (let n = 1; n <= users; n++) {
    const principal: Principal = {
      kind: "user",
      id: "bench",
      customerId: customerIdOf(tenantOf(n, domains)),
      role: "admin",
    };
    await core.services.extensions.create(principal, { extension: userOf(n), password: passwordOf(n) });
  }
  // The credential lookup the registrar makes, for the first and the last user.
  for (const n of [1, users]) {
    const d = tenantOf(n, domains);
    const ext = await core.stores.extensions.getLiveByName(customerIdOf(d), userOf(n));
    if (!ext || ext.domain_name !== `${customerIdOf(d)}.${config.registrarDomain}`)
      throw new Error(`seeded ${userOf(n)} is not found as the registrar would look it up`);
  }
  const result: SeedResult = { customers: domains, extensions: users, ms: performance.now() - started };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
} finally {
  await core.close();
}
process.exit(0);
