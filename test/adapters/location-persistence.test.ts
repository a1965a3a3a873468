import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sqlLocationStore } from "../../src/adapters/sql-location-store.js";
import { LocationService } from "../../src/sip/registrar/location.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { contact, origin } from "../helpers/registrations.js";
import { extensionRow, insertTenantRows } from "../helpers/rows.js";

const T0 = 1_800_000_000_000_000;

describe.each(DATABASES)("location service on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  let now: number;
  const clock = () => now;
  const customerId = "00000000-0000-4000-8000-000000000001";
  const extId = "00000000-0000-4000-8000-0000000000e1";

  beforeEach(async () => {
    now = T0;
    dir = mkdtempSync(join(tmpdir(), "sipext-loc-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    // A customer, a domain and an extension for the bindings' foreign key.
    await insertTenantRows(db.kysely, { customerId, domainId: "00000000-0000-4000-8000-0000000000d1" });
    await db.kysely
      .insertInto("extensions")
      .values(extensionRow({ id: extId, customerId, domainId: "00000000-0000-4000-8000-0000000000d1" }))
      .execute();
  });

  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("bindings survive a restart and expired ones are swept", async () => {
    const loc = new LocationService({ store: sqlLocationStore(db.kysely), clock });
    loc.register(extId, customerId, [contact(1)], origin("a", 1));
    loc.register(extId, customerId, [{ ...contact(2), expires: 60 }], origin("b", 1));
    await loc.flush();
    const again = new LocationService({ store: sqlLocationStore(db.kysely), clock });
    expect(await again.load()).toBe(2);
    expect(
      again
        .lookup(extId)
        .map((b) => b.contact)
        .sort(),
    ).toEqual([contact(1).contact, contact(2).contact]);
    now += 61_000_000;
    expect(again.lookup(extId)).toHaveLength(1);
    expect(await again.sweep()).toBe(1);
    const third = new LocationService({ store: sqlLocationStore(db.kysely), clock });
    expect(await third.load()).toBe(1);
  });

  it("removing all bindings of an extension is persisted", async () => {
    const loc = new LocationService({ store: sqlLocationStore(db.kysely), clock });
    loc.register(extId, customerId, [contact(1), contact(2)], origin("a", 1));
    expect(loc.removeAll(extId)).toBe(2);
    await loc.flush();
    expect(await new LocationService({ store: sqlLocationStore(db.kysely), clock }).load()).toBe(0);
  });
});
