import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/store/db.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";

// The call sweep (every minute, every node) must not read the whole call history.
describe.each(DATABASES)("the answered calls' index on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds only the calls still answered, and the sweep's query searches it", async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-calls-idx-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
    const sweep = db.kysely
      .selectFrom("calls")
      .selectAll()
      .where("status", "=", "answered")
      .where("tm_create", "<", "2027-01-01 00:00:00.000000")
      .limit(1000)
      .compile();
    if (kind === "sqlite") {
      const def = await sql<{
        sql: string;
      }>`SELECT sql FROM sqlite_master WHERE name = 'calls_answered'`.execute(db.kysely);
      expect(def.rows[0]?.sql).toMatch(/where\s+"?status"?\s*=\s*'answered'/i);
      const plan = await db.kysely.executeQuery<{ detail: string }>({
        ...sweep,
        sql: `EXPLAIN QUERY PLAN ${sweep.sql}`,
      });
      expect(plan.rows.map((r) => r.detail)).toEqual([
        "SEARCH calls USING INDEX calls_answered (tm_create<?)",
      ]);
    } else {
      const def = await sql<{ indexdef: string }>`
        SELECT indexdef FROM pg_indexes WHERE indexname = 'calls_answered' AND schemaname = current_schema()
      `.execute(db.kysely);
      expect(def.rows[0]?.indexdef).toMatch(/\(tm_create\) WHERE \(status = 'answered'::text\)/);
    }
  });
});
