// Child of bench/sip/run.ts: seeds sipext (SIPEXT_DATA_DIR, embedded SQLite) with the user set
// of /work/shared/bench/kamailio/users.awk, then closes the database so that the server can start.
//   10 customers whose ids are users.awk's domain prefixes, each with its domain
//   `<id>.<SIPEXT_REGISTRAR_DOMAIN>`, and 10,000 extensions user%06d / pw%06dx, user n in
//   customer (n-1) % 10 + 1.
// (bench/user-set.ts: customers with given ids straight to the store, extensions through the
// extension service.)
import { loadConfig } from "../../src/config.js";
import { openCore } from "../../src/main.js";
import { customerIdOf, DOMAINS, seedUserSet, tenantOf, USERS, userOf } from "../user-set.js";
import { RESULT_PREFIX, type SeedResult } from "./protocol.js";

const users = Number(process.argv[2] ?? USERS);
const domains = Number(process.argv[3] ?? DOMAINS);

const config = loadConfig();
const core = await openCore(config);
const started = performance.now();
try {
  await seedUserSet(core, {
    users,
    domains,
    registrarDomain: config.registrarDomain,
    detail: "npm run bench:sip",
  });
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
