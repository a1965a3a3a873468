// The extension cache over the real SQLite store (the only database it is used with: main.ts
// leaves PostgreSQL, which several nodes may share, uncached). A counting wrapper tells which
// reads reached the database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/store/db.js";
import { cachingExtensionStore } from "../../src/store/extension-cache.js";
import type { ExtensionRow, ExtensionStore } from "../../src/store/ports.js";
import { sqlStores } from "../../src/store/sql-stores.js";
import { insertTenantRows } from "../helpers/rows.js";

const CUSTOMER = "00000000-0000-4000-8000-000000000001";
const OTHER_CUSTOMER = "00000000-0000-4000-8000-000000000002";
const DOMAIN = "00000000-0000-4000-8000-0000000000d1";
const LATER = "2027-01-02 00:00:00.000000";

function extension(n: number, overrides: Partial<ExtensionRow> = {}): ExtensionRow {
  return {
    id: `00000000-0000-4000-8000-${n.toString().padStart(12, "0")}`,
    customer_id: CUSTOMER,
    domain_id: DOMAIN,
    name: `ext ${n}`,
    detail: "",
    extension: `${1000 + n}`,
    ha1_md5: `md5-${n}`,
    ha1_sha256: `sha-${n}`,
    password_enc: null,
    direct_hash: `hash${n}`,
    tm_create: `2027-01-01 00:00:00.${n.toString().padStart(6, "0")}`,
    tm_update: null,
    tm_delete: null,
    ...overrides,
  };
}

/** The real store, with a count of the reads that reached it and an optional gate on them. */
function counted(inner: ExtensionStore) {
  const reads = { n: 0 };
  let gate: Promise<void> | undefined;
  const read =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      reads.n++;
      const r = await f(...a);
      if (gate) await gate;
      return r;
    };
  /** the ids each getMany asked for */
  const manyAsked: string[][] = [];
  return {
    reads,
    manyAsked,
    holdReads(until: Promise<void>) {
      gate = until;
    },
    store: {
      ...inner,
      get: read(inner.get),
      getLiveByName: read(inner.getLiveByName),
      getLiveByDirectHash: read(inner.getLiveByDirectHash),
      getMany: (customerId, ids) => {
        manyAsked.push([...ids]);
        return inner.getMany(customerId, ids);
      },
    } satisfies ExtensionStore,
  };
}

describe("extension cache over SQLite", () => {
  let dir: string;
  let db: Db;
  let inner: ReturnType<typeof counted>;
  let cache: ExtensionStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-extcache-"));
    db = await openDatabase({ dataDir: dir, databaseUrl: undefined });
    await insertTenantRows(db.kysely, { customerId: CUSTOMER, domainId: DOMAIN });
    await insertTenantRows(db.kysely, { customerId: OTHER_CUSTOMER });
    inner = counted(sqlStores(db.kysely).extensions);
    cache = cachingExtensionStore(inner.store, 3);
  });

  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a repeated read from memory, by id, by name and by direct hash alike", async () => {
    const row = extension(1);
    await cache.insert(row);
    const first = await cache.get(CUSTOMER, row.id);
    expect(first?.domain_name).toBe("c.example");
    expect(inner.reads.n).toBe(1);
    expect(await cache.get(CUSTOMER, row.id)).toEqual(first);
    expect(await cache.getLiveByName(CUSTOMER, row.extension)).toEqual(first);
    expect(await cache.getLiveByDirectHash(row.direct_hash)).toEqual(first);
    expect(inner.reads.n).toBe(1);
  });

  it("serves a page from its ids and the cached rows, reading only the rows it lacks", async () => {
    for (const n of [1, 2, 3]) await cache.insert(extension(n));
    await cache.get(CUSTOMER, extension(2).id);
    const page = await cache.list(CUSTOMER, { limit: 10 });
    // Newest first, as the store orders them; only the two uncached rows were read.
    expect(page.map((r) => r.extension)).toEqual(["1003", "1002", "1001"]);
    expect(page.every((r) => r.domain_name === "c.example")).toBe(true);
    expect(inner.manyAsked).toEqual([[extension(3).id, extension(1).id]]);
    expect(await cache.list(CUSTOMER, { limit: 2, before: extension(3).tm_create })).toEqual(page.slice(1));
    expect(inner.manyAsked).toHaveLength(2);
    expect(inner.manyAsked[1]).toEqual([]);
    expect(await cache.list(OTHER_CUSTOMER, { limit: 10 })).toEqual([]);
  });

  it("leaves a deleted extension out of the page, cached or not", async () => {
    for (const n of [1, 2]) await cache.insert(extension(n));
    await cache.list(CUSTOMER, { limit: 10 });
    await cache.update(CUSTOMER, extension(2).id, { tm_update: LATER, tm_delete: LATER });
    expect((await cache.list(CUSTOMER, { limit: 10 })).map((r) => r.extension)).toEqual(["1001"]);
  });

  it("never answers for another customer, a name of another customer or an unknown hash", async () => {
    const row = extension(1);
    await cache.insert(row);
    await cache.get(CUSTOMER, row.id);
    expect(await cache.get(OTHER_CUSTOMER, row.id)).toBeUndefined();
    expect(await cache.getLiveByName(OTHER_CUSTOMER, row.extension)).toBeUndefined();
    expect(await cache.getLiveByDirectHash("nosuchhash")).toBeUndefined();
  });

  it("drops a row on update: a new password, a new direct hash and a delete are seen at once", async () => {
    const row = extension(1);
    await cache.insert(row);
    await cache.getLiveByName(CUSTOMER, row.extension);

    await cache.update(CUSTOMER, row.id, { ha1_md5: "new-md5", tm_update: LATER });
    expect((await cache.getLiveByName(CUSTOMER, row.extension))?.ha1_md5).toBe("new-md5");

    await cache.update(CUSTOMER, row.id, { direct_hash: "fresh", tm_update: LATER });
    expect(await cache.getLiveByDirectHash(row.direct_hash)).toBeUndefined();
    expect((await cache.getLiveByDirectHash("fresh"))?.id).toBe(row.id);

    await cache.update(CUSTOMER, row.id, { tm_update: LATER, tm_delete: LATER });
    expect(await cache.getLiveByName(CUSTOMER, row.extension)).toBeUndefined();
    expect(await cache.getLiveByDirectHash("fresh")).toBeUndefined();
    // By id a deleted extension is still there, with tm_delete set (GET shows it).
    expect((await cache.get(CUSTOMER, row.id))?.tm_delete).toBe(LATER);
    expect((await cache.get(CUSTOMER, row.id))?.tm_delete).toBe(LATER);
  });

  it("a name freed by a delete resolves to the new extension that takes it", async () => {
    const old = extension(1);
    await cache.insert(old);
    await cache.getLiveByName(CUSTOMER, old.extension);
    await cache.update(CUSTOMER, old.id, { tm_update: LATER, tm_delete: LATER });
    const again = extension(2, { extension: old.extension });
    await cache.insert(again);
    expect((await cache.getLiveByName(CUSTOMER, old.extension))?.id).toBe(again.id);
    expect((await cache.get(CUSTOMER, old.id))?.tm_delete).not.toBeNull();
  });

  it("does not keep what a read saw when a write ran while the read was in flight", async () => {
    const row = extension(1);
    await cache.insert(row);
    let release = () => {};
    inner.holdReads(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const stale = cache.get(CUSTOMER, row.id); // reads the row, then waits at the gate
    await new Promise((r) => setTimeout(r, 10));
    inner.holdReads(Promise.resolve());
    await cache.update(CUSTOMER, row.id, { name: "renamed", tm_update: LATER });
    release();
    expect((await stale)?.name).toBe("ext 1");
    expect((await cache.get(CUSTOMER, row.id))?.name).toBe("renamed");
  });

  it("keeps at most its size, dropping the row cached first, and still answers for every row", async () => {
    const rows = [1, 2, 3, 4].map((n) => extension(n));
    for (const r of rows) await cache.insert(r);
    for (const r of rows) await cache.get(CUSTOMER, r.id);
    expect(inner.reads.n).toBe(4);
    // Rows 2, 3 and 4 are kept; row 1 went first.
    for (const r of rows.slice(1)) expect((await cache.getLiveByName(CUSTOMER, r.extension))?.id).toBe(r.id);
    expect(inner.reads.n).toBe(4);
    expect((await cache.getLiveByDirectHash(rows[0]?.direct_hash ?? ""))?.id).toBe(rows[0]?.id);
    expect(inner.reads.n).toBe(5);
  });

  it("drops what it holds once another connection (the CLI) has committed, seen by data_version", async () => {
    const row = extension(1);
    await cache.insert(row);
    const clock = { ms: 0 };
    const watched = cachingExtensionStore(inner.store, 3, db.dataVersion, () => clock.ms);
    expect((await watched.getLiveByName(CUSTOMER, row.extension))?.name).toBe("ext 1");
    const before = inner.reads.n;
    expect((await watched.getLiveByName(CUSTOMER, row.extension))?.name).toBe("ext 1");
    expect(inner.reads.n).toBe(before);

    // The `sipext` command renames it through a connection of its own.
    const cli = await openDatabase({ dataDir: dir, databaseUrl: undefined });
    try {
      await sqlStores(cli.kysely).extensions.update(CUSTOMER, row.id, { name: "renamed", tm_update: LATER });
    } finally {
      await cli.close();
    }
    // Probed at most once a millisecond: within the same one the cache still answers.
    expect((await watched.getLiveByName(CUSTOMER, row.extension))?.name).toBe("ext 1");
    clock.ms += 2;
    expect((await watched.getLiveByName(CUSTOMER, row.extension))?.name).toBe("renamed");
    expect((await watched.getLiveByDirectHash(row.direct_hash))?.name).toBe("renamed");
    expect((await watched.get(CUSTOMER, row.id))?.name).toBe("renamed");
  });
});
