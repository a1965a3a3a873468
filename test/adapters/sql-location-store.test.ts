// The SQL location store's batched writes on both databases: multi-row upserts, several writes of
// one binding in a batch, deletes between them; what is stored must be what applying each write
// in order would leave — which is what the memory store does, the reference model here.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sqlLocationStore } from "../../src/adapters/sql-location-store.js";
import {
  type LocationStore,
  type LocationWrite,
  memoryLocationStore,
  type StoredBinding,
} from "../../src/sip/registrar/location-store.js";
import { type Db, openDatabase } from "../../src/store/db.js";
import type { Stores } from "../../src/store/ports.js";
import { sqlStores } from "../../src/store/sql-stores.js";
import { parseTimestamp } from "../../src/util/time.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";
import { extensionRow, insertTenantRows } from "../helpers/rows.js";

const CUSTOMER = "00000000-0000-4000-8000-000000000001";
const DOMAIN = "00000000-0000-4000-8000-0000000000d1";
const EXTENSIONS = [1, 2, 3].map((n) => `00000000-0000-4000-8000-0000000000e${n}`);
const at = (text: string) => parseTimestamp(text) ?? 0;
const FUTURE = at("2099-01-01 00:00:00.000000");
const PAST = at("2027-01-01 00:00:00.000000");

function upsert(ext: number, contact: number, version: number): Extract<LocationWrite, { op: "upsert" }> {
  return {
    op: "upsert",
    added: version === 1,
    extensionId: EXTENSIONS[ext] ?? "",
    customerId: CUSTOMER,
    binding: {
      contact: `sip:${contact}@10.0.0.${ext}:5060`,
      receivedIp: "10.0.0.1",
      receivedPort: 5000 + version,
      transport: "UDP",
      userAgent: `ua v${version}`,
      callId: `call-${ext}-${contact}`,
      cseq: version,
      instanceId: "",
      // Every column round-trips: q and reg-id given or not, a Path or none.
      regId: contact % 2 === 0 ? 1 : undefined,
      q: contact % 3 === 0 ? 0.5 : undefined,
      node: contact % 2 === 0 ? "n1" : "",
      nodeAddress: contact % 2 === 0 ? "10.1.1.1:5060" : "",
      path: contact % 5 === 0 ? [`<sip:edge${contact}.example.net;lr>`, "<sip:10.0.0.9:5070;lr>"] : [],
      expires: 3600,
      expireAt: FUTURE,
      createdAt: at(`2027-01-01 00:00:00.${version.toString().padStart(6, "0")}`),
      updatedAt: at(`2027-01-01 00:00:01.${version.toString().padStart(6, "0")}`),
    },
  };
}
const contactOf = (w: LocationWrite) => (w.op === "upsert" ? w.binding.contact : "");

const sorted = (rows: StoredBinding[]) =>
  [...rows].sort((a, b) =>
    `${a.extensionId}${a.binding.contact}`.localeCompare(`${b.extensionId}${b.binding.contact}`),
  );

describe.each(DATABASES)("SQL location store batches on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  let stores: Stores;
  let store: LocationStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-bindings-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    stores = sqlStores(db.kysely);
    store = sqlLocationStore(db.kysely);
    await insertTenantRows(db.kysely, { customerId: CUSTOMER, domainId: DOMAIN });
    for (const [i, id] of EXTENSIONS.entries()) {
      await stores.extensions.insert(
        extensionRow({
          id,
          customerId: CUSTOMER,
          domainId: DOMAIN,
          extension: `${100 + i}`,
          directHash: `hash${i}`,
          tmCreate: `2027-01-01 00:00:00.00000${i}`,
        }),
      );
    }
  });

  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores what the writes applied in order leave, across chunk sizes, repeats and deletes", async () => {
    const model = memoryLocationStore();
    const first: LocationWrite[] = [];
    // 150 distinct bindings (chunks of 64, 8 and 1), one of them written three times.
    for (let c = 0; c < 150; c++) first.push(upsert(c % 3, c, 1));
    first.push(upsert(0, 0, 2), upsert(0, 0, 3));
    const gone = upsert(1, 1, 1);
    first.push({
      op: "delete",
      extensionId: gone.extensionId,
      customerId: CUSTOMER,
      binding: gone.binding,
      reason: "device",
    });
    // Written again after its delete: back, as new.
    first.push(upsert(1, 1, 4));
    await store.apply(first);
    await model.apply(first);
    expect(sorted(await store.loadLive(PAST))).toEqual(sorted(await model.loadLive(PAST)));
    expect(model.size()).toBeGreaterThan(100);

    // A second batch: refreshes keep the stored tm_create; a delete-all in the middle.
    const second: LocationWrite[] = [
      upsert(0, 0, 9),
      upsert(2, 2, 9),
      {
        op: "delete-all",
        extensionId: EXTENSIONS[2] ?? "",
        customerId: CUSTOMER,
        removed: [],
        reason: "api",
      },
      upsert(2, 5, 9),
    ];
    await store.apply(second);
    await model.apply(second);
    const stored = sorted(await store.loadLive(PAST));
    expect(stored).toEqual(sorted(await model.loadLive(PAST)));
    const refreshed = stored.find(
      (r) => r.extensionId === EXTENSIONS[0] && r.binding.contact === contactOf(upsert(0, 0, 0)),
    );
    expect(refreshed?.binding.cseq).toBe(9);
    const firstWrite = upsert(0, 0, 1);
    expect(refreshed?.binding.createdAt).toBe(firstWrite.op === "upsert" ? firstWrite.binding.createdAt : -1);
    expect(stored.filter((r) => r.extensionId === EXTENSIONS[2]).map((r) => r.binding.contact)).toEqual([
      contactOf(upsert(2, 5, 9)),
    ]);
  });

  it("deletes expired bindings and loads only live ones", async () => {
    const live = upsert(0, 1, 1);
    const old = upsert(0, 2, 1);
    if (old.op === "upsert") old.binding.expireAt = at("2027-06-01 00:00:00.000000");
    await store.apply([live, old]);
    const then = at("2028-01-01 00:00:00.000000");
    expect((await store.loadLive(then)).map((r) => r.binding.contact)).toEqual([contactOf(live)]);
    expect(await store.deleteExpired(then)).toBe(1);
    expect((await store.loadLive(PAST)).map((r) => r.binding.contact)).toEqual([contactOf(live)]);
  });
});
