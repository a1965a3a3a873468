// The user cache over the real SQLite store, with a second connection to the same file playing
// the CLI (another process writing users). A counting wrapper tells which reads reached the
// database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/store/db.js";
import type { UserRow, UserStore } from "../../src/store/ports.js";
import { sqlStores } from "../../src/store/sql-stores.js";
import { cachingUserStore } from "../../src/store/user-cache.js";
import { insertTenantRows } from "../helpers/rows.js";

const CUSTOMER = "00000000-0000-4000-8000-000000000001";
const LATER = "2027-01-02 00:00:00.000000";

const user = (n: number): UserRow => ({
  id: `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`,
  customer_id: CUSTOMER,
  username: `user${n}`,
  password_hash: "argon2-hash",
  role: "admin",
  token_version: 0,
  name: "",
  detail: "",
  tm_create: "2027-01-01 00:00:00.000000",
  tm_update: null,
  tm_delete: null,
});

describe("user cache on SQLite", () => {
  let dir: string;
  let server: Db;
  let cli: Db;
  let reads: { n: number };
  let cached: UserStore;
  const clock = { ms: 0 };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-user-cache-"));
    server = await openDatabase({ dataDir: dir });
    cli = await openDatabase({ dataDir: dir });
    await insertTenantRows(server.kysely, { customerId: CUSTOMER });
    const inner = sqlStores(server.kysely).users;
    await inner.insert(user(1));
    reads = { n: 0 };
    const counting: UserStore = {
      ...inner,
      get: (id) => {
        reads.n++;
        return inner.get(id);
      },
    };
    if (!server.dataVersion) throw new Error("SQLite has a data_version");
    cached = cachingUserStore(counting, server.dataVersion, { now: () => clock.ms });
  });
  afterEach(async () => {
    await cli.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a user read again from memory", async () => {
    expect((await cached.get(user(1).id))?.username).toBe("user1");
    clock.ms += 5;
    expect((await cached.get(user(1).id))?.username).toBe("user1");
    expect(reads.n).toBe(1);
  });

  it("drops a user this process changes, at once", async () => {
    await cached.get(user(1).id);
    expect(await cached.updateRevokingTokens(user(1).id, { role: "agent", tm_update: LATER })).toBe(true);
    const row = await cached.get(user(1).id);
    expect(row).toMatchObject({ role: "agent", token_version: 1 });
  });

  it("drops everything once another connection (the CLI) has committed, a millisecond on", async () => {
    await cached.get(user(1).id);
    await sqlStores(cli.kysely).users.updateRevokingTokens(user(1).id, { tm_update: LATER });
    clock.ms += 1;
    expect((await cached.get(user(1).id))?.token_version).toBe(1);
    expect(reads.n).toBe(2);
  });

  it("does not remember users that do not exist", async () => {
    expect(await cached.get("00000000-0000-4000-8000-000000000099")).toBeUndefined();
    await cached.insert(user(99));
    expect((await cached.get(user(99).id))?.username).toBe("user99");
  });

  it("updates only live users, incrementing the token version each time", async () => {
    const store = sqlStores(server.kysely).users;
    await store.updateRevokingTokens(user(1).id, { tm_update: LATER });
    await store.updateRevokingTokens(user(1).id, { tm_update: LATER, tm_delete: LATER });
    expect((await store.get(user(1).id))?.token_version).toBe(2);
    expect(await store.updateRevokingTokens(user(1).id, { tm_update: LATER })).toBe(false);
    expect(await store.getByUsername("user1")).toBeUndefined();
  });
});
