// Child of bench:sip and bench:calls: seeds an empty sipext (SIPEXT_DATA_DIR, embedded SQLite) with
// the user set of bench/user-set.ts, checks that the first and the last user are found as the
// registrar and the proxy look them up, optionally writes the SIPp injection file of the callees'
// public direct addresses, and closes the database so that the server can start.
//   node --import tsx bench/seed-user-set.ts USERS DOMAINS [CSV_FILE]
// CSV: `SEQUENTIAL`, then `direct.<hash>;<SIPEXT_DIRECT_DOMAIN>` for user 1..N (field0 user, field1
// host of the Request-URI, as bench/calls/sipp_uac.xml reads them).
import { writeFileSync } from "node:fs";
import { loadConfig } from "../src/config.js";
import { tenantRows } from "../src/domain/tenants.js";
import { openCore } from "../src/main.js";
import { formatMicros } from "../src/util/time.js";
import { printResult } from "./proc.js";
import { customerIdOf, passwordOf, tenantOf, userOf } from "./user-set.js";

export type SeedResult = { customers: number; extensions: number; ms: number };

const [users, domains] = [Number(process.argv[2]), Number(process.argv[3])];
const csvFile = process.argv[4];
if (!(users > 0) || !(domains > 0)) {
  process.stderr.write("usage: seed-user-set.ts USERS DOMAINS [CSV_FILE]\n");
  process.exit(2);
}

const config = loadConfig();
const core = await openCore(config);
const started = performance.now();
try {
  if ((await core.stores.customers.count()) !== 0) throw new Error("the database is not empty");
  // Customers with given ids go straight to the store (the public API has no id parameter), with
  // the rows src/domain/tenants.ts builds; extensions go through the extension service, so their
  // HA1s and direct hashes are made exactly as in production.
  const detail = csvFile ? "npm run bench:calls" : "npm run bench:sip";
  for (let d = 1; d <= domains; d++) {
    const customer = { id: customerIdOf(d), name: `bench tenant ${d}`, detail, email: "" };
    const rows = tenantRows(customer, config.registrarDomain, formatMicros(core.clock()));
    await core.stores.tenants.createTenant(rows.customer, rows.domain, undefined);
  }
  const created = [];
  for (let n = 1; n <= users; n++) {
    const customerId = customerIdOf(tenantOf(n, domains));
    const principal = { kind: "user", id: "bench", customerId, role: "admin" } as const;
    created.push(
      await core.services.extensions.create(principal, { extension: userOf(n), password: passwordOf(n) }),
    );
  }
  for (const n of [1, users]) {
    const d = tenantOf(n, domains);
    const ext = await core.stores.extensions.getLiveByName(customerIdOf(d), userOf(n));
    if (!ext || ext.domain_name !== `${customerIdOf(d)}.${config.registrarDomain}`)
      throw new Error(`seeded ${userOf(n)} is not found as the registrar would look it up`);
    const hash = created[n - 1]?.direct_hash;
    const direct = hash ? await core.stores.extensions.getLiveByDirectHash(hash) : undefined;
    if (direct?.extension !== userOf(n)) throw new Error(`the direct address of ${userOf(n)} is not found`);
  }
  if (csvFile) {
    const lines = ["SEQUENTIAL", ...created.map((ext) => `direct.${ext.direct_hash};${config.directDomain}`)];
    writeFileSync(csvFile, `${lines.join("\n")}\n`);
  }
  const result: SeedResult = { customers: domains, extensions: users, ms: performance.now() - started };
  printResult(result);
} finally {
  await core.close();
}
process.exit(0);
