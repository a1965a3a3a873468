// Child of bench/calls/run.ts: seeds sipext (SIPEXT_DATA_DIR, embedded SQLite) with the user set
// of /work/shared/bench/kamailio/users.awk (bench/user-set.ts, as bench/sip/seed.ts), then writes the SIPp
// injection file of the callees' public direct addresses and closes the database so that the
// server can start.
//   10 customers whose ids are users.awk's domain prefixes, each with its domain
//   `<id>.<SIPEXT_REGISTRAR_DOMAIN>`, and N extensions user%06d / pw%06dx, user n in
//   customer (n-1) % 10 + 1.
//   CSV: `SEQUENTIAL`, then `direct.<hash>;<SIPEXT_DIRECT_DOMAIN>` for user 1..N (field0 user,
//   field1 host of the Request-URI, as bench/calls/sipp_uac.xml reads them).
//
//   node --import tsx bench/calls/seed.ts USERS DOMAINS CSV_FILE
import { writeFileSync } from "node:fs";
import { loadConfig } from "../../src/config.js";
import { openCore } from "../../src/main.js";
import { seedUserSet, userOf } from "../user-set.js";
import { RESULT_PREFIX, type SeedResult } from "./protocol.js";

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
  const created = await seedUserSet(core, {
    users,
    domains,
    registrarDomain: config.registrarDomain,
    detail: "npm run bench:calls",
  });
  const lines = ["SEQUENTIAL", ...created.map((ext) => `direct.${ext.direct_hash};${config.directDomain}`)];
  // The proxy's lookup of a direct address, for the first and the last user.
  for (const n of [1, users]) {
    const hash = created[n - 1]?.direct_hash;
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
