import type { Kysely } from "kysely";

// What a binding needs for routing beyond its contact (CONTRACT §7, §9): the contact's q
// (RFC 3261 §10.2.1.2; null when the device gave none), its reg-id (RFC 5626 §4.2) and the
// Path it registered through (RFC 3327, a JSON array of the Path values; "" when none).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("bindings").addColumn("q", "real").execute();
  await db.schema.alterTable("bindings").addColumn("reg_id", "integer").execute();
  await db.schema
    .alterTable("bindings")
    .addColumn("path", "text", (c) => c.notNull().defaultTo(""))
    .execute();
}
