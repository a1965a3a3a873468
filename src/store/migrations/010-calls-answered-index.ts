import { type Kysely, sql } from "kysely";

// The sweep that ends calls answered and never hung up (CONTRACT §13, every minute on every node)
// looks for answered calls older than 12 hours. Without an index it read the whole calls table,
// synchronously on SQLite, on the event loop: a stall that grows with the call history. A partial
// index holds only the calls still answered (SQLite and PostgreSQL both have them), so it stays
// as small as the calls in progress.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("calls_answered")
    .on("calls")
    .column("tm_create")
    .where(sql.ref("status"), "=", "answered")
    .execute();
}
