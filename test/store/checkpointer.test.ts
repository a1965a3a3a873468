import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/db.js";
import { insertTenantRows } from "../helpers/rows.js";

describe("WAL checkpoints on a worker thread (SQLite, the server's connection)", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the server's commits never checkpoint, the worker does, and nothing written is lost", async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-ckpt-"));
    const db = await openDatabase({ dataDir: dir, checkpointInBackground: true });
    const auto = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(db.kysely);
    expect(auto.rows[0]?.wal_autocheckpoint).toBe(0);
    // About 4,000 pages of WAL: SQLite's own checkpoint (at 1,000) would have run inside these commits.
    for (let i = 0; i < 200; i++) {
      await insertTenantRows(db.kysely, { customerId: `c-${i}` });
      await sql`UPDATE customers SET detail = ${"x".repeat(60_000)} WHERE id = ${`c-${i}`}`.execute(
        db.kysely,
      );
    }
    // The worker copies the WAL back within a few of its periods: the database file grows.
    const file = join(dir, "sipext.sqlite");
    let size = statSync(file).size;
    for (let i = 0; i < 40 && size < 10_000_000; i++) {
      await new Promise((r) => setTimeout(r, 100));
      size = statSync(file).size;
    }
    expect(size).toBeGreaterThan(10_000_000);
    await db.close();
    const again = await openDatabase({ dataDir: dir });
    const n = await again.kysely
      .selectFrom("customers")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    expect(Number(n?.n)).toBe(200);
    await again.close();
  });
});
