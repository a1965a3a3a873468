// Child of bench/calls/run.ts: seeds sipext (SIPEXT_DATA_DIR, embedded SQLite) with the user set
// of /work/shared/bench/kamailio/users.awk (as bench/sip/seed.ts does), then writes the SIPp
// injection file of the callees' public direct addresses and closes the database so that the
// server can start.
//   10 customers whose ids are users.awk's domain prefixes, each with its domain
//   `<id>.<SIPEXT_REGISTRAR_DOMAIN>`, and N extensions user%06d / pw%06dx, user n in
//   customer (n-1) % 10 + 1.
//   CSV: `SEQUENTIAL`, then `direct.<hash>;<SIPEXT_DIRECT_DOMAIN>` for user 1..N (field0 user,
//   field1 host of the Request-URI, as bench/calls/sipp_uac.xml reads them).
//
//   node --import tsx bench/calls/seed.ts USERS DOMAINS CSV_FILE
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { loadConfig } from "../../src/config.js";
import type { Principal } from "../../src/domain/principal.js";
import { openCore } from "../../src/main.js";
import type { CustomerRow, DomainRow } from "../../src/store/ports.js";
import { formatMicros } from "../../src/util/time.js";
import { customerIdOf, passwordOf, RESULT_PREFIX, type SeedResult, tenantOf, userOf } from "./protocol.js";

const users = Number(process.argv[2]);
const domains = Number(process.argv[3]);
const csvFile = process.argv[4];
if (!(users > 0) || !(domains > 0) || !csvFile) {
  process.stderr.write("usage: seed.ts USERS DOMAINS CSV_FILE\n");
  process.exit(2);
}

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
      detail: "npm run bench:calls",
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
  const lines = ["SEQUENTIAL"];
  for (let n = 1; n <= users; n++) {
    const principal: Principal = {
      kind: "user",
      id: "bench",
      customerId: customerIdOf(tenantOf(n, domains)),
      role: "admin",
    };
    const ext = await core.services.extensions.create(principal, {
      extension: userOf(n),
      password: passwordOf(n),
    });
    lines.push(`direct.${ext.direct_hash};${config.directDomain}`);
  }
  // The proxy's lookup of a direct address, for the first and the last user.
  for (const n of [1, users]) {
    const hash = lines[n]?.slice("direct.".length, lines[n]?.indexOf(";"));
    const ext = hash ? await core.stores.extensions.getLiveByDirectHash(hash) : undefined;
    if (ext?.extension !== userOf(n)) throw new Error(`the direct address of ${userOf(n)} is not found`);
  }
  writeFileSync(csvFile, `${lines.join("\n")}\n`);
  const result: SeedResult = {
    customers: domains,
    extensions: users,
    directCsv: csvFile,
    ms: performance.now() - started,
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
} finally {
  await core.close();
}
process.exit(0);
