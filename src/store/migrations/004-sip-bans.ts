import type { Kysely } from "kysely";

// Source addresses banned after failed digest answers (CONTRACT §14), kept so that every node
// and a restart enforce them; a customer sees those whose failures targeted its extensions.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sip_bans")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("source", "text", (c) => c.notNull())
    /** the customer whose domain the failures named; null when no customer's */
    .addColumn("customer_id", "text")
    /** the extension the last failure named, "" when it named none that exists */
    .addColumn("extension_id", "text", (c) => c.notNull())
    .addColumn("failures", "integer", (c) => c.notNull())
    .addColumn("tm_create", "text", (c) => c.notNull())
    .addColumn("tm_expire", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("sip_bans_customer")
    .on("sip_bans")
    .columns(["customer_id", "tm_create"])
    .execute();
  await db.schema.createIndex("sip_bans_tm_expire").on("sip_bans").column("tm_expire").execute();
}
