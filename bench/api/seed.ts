// Seeds one customer with N extensions through sipext's own services (not HTTP), in a process of
// its own, before the server starts on the same data dir. Usage:
//   SIPEXT_DATA_DIR=… node --import tsx bench/api/seed.ts N
// Bootstraps the empty data dir (first customer + admin) and prints RESULT_PREFIX + SeedResult.
import { loadConfig } from "../../src/config.js";
import type { Principal } from "../../src/domain/principal.js";
import { bootstrap, openCore } from "../../src/main.js";
import { RESULT_PREFIX, type SeedResult } from "./protocol.js";

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) throw new Error("usage: seed.ts COUNT");

const config = loadConfig(process.env);
const core = await openCore(config);
const first = await bootstrap(core, config);
if (!first) throw new Error(`${config.dataDir} is not empty: seed needs a fresh data dir`);
const admin = await core.stores.users.getByUsername(first.username);
if (!admin) throw new Error("the bootstrap admin is missing");
const principal: Principal = { kind: "user", id: admin.id, customerId: first.customerId, role: "admin" };

const started = performance.now();
for (let i = 0; i < count; i++) {
  await core.services.extensions.create(principal, {
    name: `seeded ${i}`,
    detail: "bench seed",
    extension: `seed-${i}`,
    password: "seed-Passw0rd",
  });
  if ((i + 1) % 20_000 === 0) process.stderr.write(`  seeded ${i + 1}/${count}\n`);
}
const seconds = (performance.now() - started) / 1000;
await core.close();

const result: SeedResult = {
  username: first.username,
  password: first.password,
  customerId: first.customerId,
  created: count,
  seconds,
};
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
process.exit(0);
