// Seeds one customer with COUNT extensions through sipext's own services (not HTTP), in a process of
// its own, before the server starts on the same data dir:
//   SIPEXT_DATA_DIR=… node --import tsx bench/api/seed.ts COUNT OFFSET
// Bootstraps the empty data dir (first customer + admin) and prints its SeedResult, with the page
// token that skips the OFFSET newest extensions: the tm_create of the OFFSET-th newest.
import { loadConfig } from "../../src/config.js";
import type { Principal } from "../../src/domain/principal.js";
import { bootstrap } from "../../src/first-run.js";
import { openCore } from "../../src/main.js";
import { printResult } from "../proc.js";
import type { SeedResult } from "./protocol.js";

const [count, offset] = [Number(process.argv[2]), Number(process.argv[3])];
if (!Number.isInteger(count) || !(offset > 0 && offset <= count))
  throw new Error("usage: seed.ts COUNT OFFSET");

const config = loadConfig(process.env);
const core = await openCore(config);
const first = await bootstrap(core, config);
if (!first) throw new Error(`${config.dataDir} is not empty: seed needs a fresh data dir`);
const admin = await core.stores.users.getByUsername(first.username);
if (!admin) throw new Error("the bootstrap admin is missing");
const principal: Principal = { kind: "user", id: admin.id, customerId: first.customerId, role: "admin" };

const started = performance.now();
let pageToken = "";
for (let i = 0; i < count; i++) {
  const input = {
    name: `seeded ${i}`,
    detail: "bench seed",
    extension: `seed-${i}`,
    password: "seed-Passw0rd",
  };
  const ext = await core.services.extensions.create(principal, input);
  // created oldest first: the OFFSET-th newest is seed-(COUNT-OFFSET)
  if (i === count - offset) pageToken = ext.tm_create;
  if ((i + 1) % 20_000 === 0) process.stderr.write(`  seeded ${i + 1}/${count}\n`);
}
const seconds = (performance.now() - started) / 1000;
await core.close();

printResult({ password: first.password, pageToken, seconds } satisfies SeedResult);
process.exit(0);
