import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocationService, type RequestOrigin } from "../../../src/sip/registrar/location.js";
import { type Db, openDatabase } from "../../../src/store/db.js";
import type { Stores } from "../../../src/store/ports.js";
import { sqlStores } from "../../../src/store/sql-stores.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../../helpers/harness.js";
import { insertTenantRows } from "../../helpers/rows.js";

const T0 = 1_800_000_000_000_000;

describe.each(DATABASES)("location service on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  let stores: Stores;
  let now: number;
  const clock = () => now;
  const customerId = "00000000-0000-4000-8000-000000000001";
  const extId = "00000000-0000-4000-8000-0000000000e1";

  beforeEach(async () => {
    now = T0;
    dir = mkdtempSync(join(tmpdir(), "sipext-loc-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    stores = sqlStores(db.kysely);
    // A customer, a domain and an extension for the bindings' foreign key.
    await insertTenantRows(db.kysely, { customerId, domainId: "00000000-0000-4000-8000-0000000000d1" });
    await db.kysely
      .insertInto("extensions")
      .values({
        id: extId,
        customer_id: customerId,
        domain_id: "00000000-0000-4000-8000-0000000000d1",
        name: "",
        detail: "",
        extension: "100",
        password_enc: null,
        ha1_md5: "x",
        ha1_sha256: "y",
        direct_hash: "abcdefabcdef",
        tm_create: "2027-01-01 00:00:00.000000",
        tm_update: null,
        tm_delete: null,
      })
      .execute();
  });

  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  const origin = (callId: string, cseq: number): RequestOrigin => ({
    receivedIp: "192.0.2.1",
    receivedPort: 5060,
    transport: "UDP",
    userAgent: "test",
    callId,
    cseq,
  });
  const contact = (n: number) => ({
    contact: `sip:100@192.0.2.1:${5000 + n}`,
    expires: 3600,
    instanceId: "",
  });

  it("a fourth contact replaces the least recently refreshed one", () => {
    const loc = new LocationService({ store: stores.bindings, clock });
    for (let i = 1; i <= 3; i++) {
      now += 1_000_000;
      loc.register(extId, customerId, [contact(i)], origin(`c${i}`, 1));
    }
    now += 1_000_000;
    loc.register(extId, customerId, [contact(1)], origin("c1", 2)); // 1 refreshed: 2 is now oldest
    now += 1_000_000;
    const after = loc.register(extId, customerId, [contact(4)], origin("c4", 1));
    expect(after.map((b) => b.contact).sort()).toEqual(
      [contact(1), contact(3), contact(4)].map((c) => c.contact).sort(),
    );
  });

  it("a REGISTER with the same Call-ID and a CSeq not higher is ignored for that binding", () => {
    const loc = new LocationService({ store: stores.bindings, clock });
    loc.register(extId, customerId, [contact(1)], origin("same", 5));
    const before = loc.lookup(extId)[0]?.expireAt;
    now += 10_000_000;
    loc.register(extId, customerId, [contact(1)], origin("same", 5));
    expect(loc.lookup(extId)[0]?.expireAt).toBe(before);
    loc.register(extId, customerId, [{ ...contact(1), expires: 0 }], origin("same", 4));
    expect(loc.lookup(extId)).toHaveLength(1);
    loc.register(extId, customerId, [{ ...contact(1), expires: 0 }], origin("same", 6));
    expect(loc.lookup(extId)).toHaveLength(0);
  });

  it("bindings survive a restart and expired ones are swept", async () => {
    const loc = new LocationService({ store: stores.bindings, clock });
    loc.register(extId, customerId, [contact(1)], origin("a", 1));
    loc.register(extId, customerId, [{ ...contact(2), expires: 60 }], origin("b", 1));
    await loc.flush();
    const again = new LocationService({ store: stores.bindings, clock });
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
    const third = new LocationService({ store: stores.bindings, clock });
    expect(await third.load()).toBe(1);
  });

  it("removing all bindings of an extension is persisted", async () => {
    const loc = new LocationService({ store: stores.bindings, clock });
    loc.register(extId, customerId, [contact(1), contact(2)], origin("a", 1));
    expect(loc.removeAll(extId)).toBe(2);
    await loc.flush();
    expect(await new LocationService({ store: stores.bindings, clock }).load()).toBe(0);
  });
});
