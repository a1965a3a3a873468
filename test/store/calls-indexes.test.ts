import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CompiledQuery, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Db, openDatabase } from "../../src/store/db.js";
import { DATABASES, dropSchema, newSchemaUrl } from "../helpers/harness.js";

// The indexes of `calls` (migrations 005, 010, 011): each call writes its row into every one of
// them, so each must be read by a query, and those keyed by something random hold only the calls
// in progress. The sweep (every minute, every node) and the BYE's lookup must not read the whole
// call history.
describe.each(DATABASES)("the indexes of calls on %s", (kind) => {
  let dir: string;
  let url: string | undefined;
  let db: Db;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "sipext-calls-idx-"));
    url = kind === "postgres" ? newSchemaUrl() : undefined;
    db = await openDatabase({ dataDir: dir, databaseUrl: url });
  });
  afterEach(async () => {
    await db.close();
    await dropSchema(url);
    rmSync(dir, { recursive: true, force: true });
  });

  const calls = () => db.kysely.selectFrom("calls").selectAll();
  const sweep = () =>
    calls()
      .where("status", "=", "answered")
      .where("tm_create", "<", "2027-01-01 00:00:00.000000")
      .limit(1000);
  const byeLookup = () => calls().where("call_id", "=", "abc@host").where("status", "=", "answered");
  const extensionPage = () =>
    calls()
      .where("customer_id", "=", "c")
      .where((eb) => eb.or([eb("extension_id", "=", "e"), eb("caller_extension_id", "=", "e")]))
      .orderBy("tm_create", "desc")
      .orderBy("id", "desc")
      .limit(100);
  const plan = async (q: CompiledQuery) =>
    (
      await db.kysely.executeQuery<Record<string, string>>({
        ...q,
        sql: `EXPLAIN ${kind === "sqlite" ? "QUERY PLAN " : ""}${q.sql}`,
      })
    ).rows
      .map((r) => r.detail ?? r["QUERY PLAN"])
      .join("\n");

  it("are the primary key, the customer's pages and two partial indexes of the answered calls", async () => {
    if (kind === "sqlite") {
      const r = await sql<{ name: string; sql: string | null }>`
        SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'calls' ORDER BY name
      `.execute(db.kysely);
      expect(r.rows.map((x) => x.name)).toEqual([
        "calls_answered",
        "calls_answered_call_id",
        "calls_customer",
        "sqlite_autoindex_calls_1",
      ]);
      const def = (n: string) => r.rows.find((x) => x.name === n)?.sql ?? "";
      expect(def("calls_answered")).toMatch(/where\s+"?status"?\s*=\s*'answered'/i);
      expect(def("calls_answered_call_id")).toMatch(/\("?call_id"?\)\s+where\s+"?status"?\s*=\s*'answered'/i);
    } else {
      const r = await sql<{ indexname: string; indexdef: string }>`
        SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'calls' AND schemaname = current_schema()
        ORDER BY indexname
      `.execute(db.kysely);
      expect(r.rows.map((x) => x.indexname)).toEqual([
        "calls_answered",
        "calls_answered_call_id",
        "calls_customer",
        "calls_pkey",
      ]);
      const def = (n: string) => r.rows.find((x) => x.indexname === n)?.indexdef ?? "";
      expect(def("calls_answered")).toMatch(/\(tm_create\) WHERE \(status = 'answered'::text\)/);
      expect(def("calls_answered_call_id")).toMatch(/\(call_id\) WHERE \(status = 'answered'::text\)/);
    }
  });

  it("the sweep, the BYE's lookup and an extension's page each search an index", async () => {
    // PostgreSQL prefers reading a table this small whole: told not to, it shows which index it can use.
    if (kind === "postgres") await sql`SET enable_seqscan = off`.execute(db.kysely);
    const [s, b, e] = [
      await plan(sweep().compile()),
      await plan(byeLookup().compile()),
      await plan(extensionPage().compile()),
    ];
    if (kind === "sqlite") {
      expect(s).toBe("SEARCH calls USING INDEX calls_answered (tm_create<?)");
      expect(b).toBe("SEARCH calls USING INDEX calls_answered_call_id (call_id=?)");
      expect(e).toMatch(/^SEARCH calls USING INDEX calls_customer \(customer_id=\?\)/);
    } else {
      // Either partial index serves the sweep there (both hold only answered calls; the table is empty).
      expect(s).toMatch(/Index Scan using calls_answered(_call_id)? on calls/);
      expect(b).toMatch(/Index Scan using calls_answered_call_id on calls/);
      expect(e).toMatch(/using calls_customer/);
    }
  });
});
