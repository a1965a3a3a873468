import { type Kysely, sql } from "kysely";

// Every call writes its row into each index of `calls`, at up to thousands of calls per second
// (CONTRACT §13). Two of them cost more than they gave:
// - `calls_extension` (extension_id, tm_create) was read by no query: a page of an extension's
//   calls asks for `extension_id = ? OR caller_extension_id = ?` within its customer, which
//   searches `calls_customer` (checked by test/store/calls-indexes.test.ts).
// - `calls_call_id` held every call ever made, keyed by random Call-IDs: each insert dirtied a
//   random page, and once the history outgrew the page cache, read one. Its only reader is the
//   BYE's lookup of an answered call, so it now holds only the calls still answered (a partial
//   index, like `calls_answered`): as small as the calls in progress.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("calls_extension").execute();
  await db.schema.dropIndex("calls_call_id").execute();
  await db.schema
    .createIndex("calls_answered_call_id")
    .on("calls")
    .column("call_id")
    .where(sql.ref("status"), "=", "answered")
    .execute();
}
